"""Pictures and tables of a training run: sample grids (PNG), their animation (GIF), loss curves, sample-quality
metrics over epochs and per-layer gradient norms (PNG), toy-problem scatter plots (PNG) and the CSV tables.

Grids and GIFs are written with Pillow, which comes with matplotlib; plots use matplotlib's Agg canvas
directly (no pyplot, so no global backend is changed). matplotlib is imported only when a plot is drawn.
Every file is written to a temporary name and renamed, so a crash never leaves half a file. A picture is written
in the format its suffix names (``picture_format``): a grid as PNG, JPEG, GIF, BMP, TIFF or PDF (Pillow), a plot
in any of those but GIF and BMP, or SVG, EPS, PS (matplotlib); another suffix is a ValueError before anything is
drawn, never a PNG under a foreign name.
"""
import csv
import math
import pathlib

import numpy as np

from tinygan.core import array_backend as backend
from tinygan.fileio import write_atomically

GRID_PADDING = 2   # pixels between the images of a grid (before scaling)
# the formats a picture's suffix can name: for grids (Pillow) and for plots (matplotlib's Agg canvas)
GRID_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF", ".bmp": "BMP", ".tif": "TIFF",
                ".tiff": "TIFF", ".pdf": "PDF"}
PLOT_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff", ".pdf": "pdf",
                ".svg": "svg", ".eps": "eps", ".ps": "ps"}


def _write_atomically(path, write):
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, write)


def picture_format(path, kind="grid"):
    """The format a ``kind`` ("grid" of images or "plot") picture at ``path`` is written in, from the path's
    suffix (any case); ValueError naming the suffixes that work otherwise."""
    formats = GRID_FORMATS if kind == "grid" else PLOT_FORMATS
    suffix = pathlib.Path(path).suffix
    if suffix.lower() not in formats:
        what = {"grid": "a grid of images", "plot": "a plot"}[kind]
        names = ", ".join(list(formats)[:-1]) + f" or {list(formats)[-1]}"
        given = f"a {suffix} file" if suffix else "a file without a suffix"
        raise ValueError(f"{path}: {what} cannot be written as {given}; name a {names} file")
    return formats[suffix.lower()]


# ==================================================================================================
# Sample grids and GIFs
# ==================================================================================================
def make_grid(images, nrow=None, padding=GRID_PADDING):
    """Tile (N, C, H, W) images in [-1, 1] into one uint8 picture (H', W') or (H', W', 3); nrow per row."""
    images = backend.asnumpy(images).astype(np.float32, copy=False)   # np.asarray(cupy array) raises
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"make_grid: expected images of shape (N, 1 or 3, H, W), got {images.shape}")
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = np.zeros((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), dtype=np.float32)
    for i in range(n):
        r, k = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + k * (w + padding)
        grid[:, top:top + h, left:left + w] = images[i]
    grid = np.clip((grid + 1.0) * 127.5, 0, 255).round().astype(np.uint8)
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)               # (3, H', W') -> (H', W', 3)


def save_grid(images, path, nrow=None, scale=2, column_labels=None):
    """Save (N, C, H, W) images in [-1, 1] as one grid, each pixel ``scale`` x ``scale``, in the format the
    suffix names (PNG for .png; ``picture_format``).

    ``column_labels``: one short text per column (e.g. the digit a conditional model drew there), written
    in a strip above the grid.
    """
    from PIL import Image
    fmt = picture_format(path, "grid")                                   # before any work
    grid = make_grid(images, nrow)
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    picture = Image.fromarray(grid)
    if column_labels is not None:
        cell = (images.shape[-1] + GRID_PADDING) * scale                # one column's width in the picture
        picture = _label_columns(picture, column_labels, cell, GRID_PADDING * scale)
    _write_atomically(path, lambda tmp: picture.save(tmp, format=fmt))
    return pathlib.Path(path)


def _label_columns(picture, labels, cell, offset):
    """``picture`` under a strip holding ``labels[k]`` centred over column k (columns ``cell`` pixels apart)."""
    from PIL import Image, ImageDraw, ImageFont
    try:
        font = ImageFont.load_default(size=max(10, cell // 4))          # scalable where FreeType is there
    except (TypeError, ImportError, OSError):                          # Pillow < 10.1: its small bitmap font
        font = ImageFont.load_default()
    draw = ImageDraw.Draw(picture)
    heights = [draw.textbbox((0, 0), str(label), font=font)[3] for label in labels]
    strip = max(heights, default=0) + 2 * offset
    labelled = Image.new(picture.mode, (picture.width, picture.height + strip))   # black, as the grid's padding
    labelled.paste(picture, (0, strip))
    draw = ImageDraw.Draw(labelled)
    white = 255 if picture.mode == "L" else (255, 255, 255)
    for k, label in enumerate(labels):
        centre = offset + k * cell + (cell - offset) / 2
        draw.text((centre, offset), str(label), fill=white, font=font, anchor="mt")   # middle-top at that point
    return labelled


def save_gif(frame_paths, path, duration_ms=400):
    """An animated GIF (looping) of the given PNG frames, in order; nothing is written without frames."""
    from PIL import Image
    frame_paths = list(frame_paths)
    if not frame_paths:
        return None
    frames = [Image.open(p) for p in frame_paths]
    mode = "L" if all(f.mode == "L" for f in frames) else "RGB"       # grayscale grids stay small
    frames = [f.convert(mode) for f in frames]
    size = frames[-1].size
    frames = [f if f.size == size else f.resize(size) for f in frames]
    _write_atomically(path, lambda tmp: frames[0].save(tmp, format="GIF", save_all=True,
                                                         append_images=frames[1:], duration=duration_ms, loop=0))
    return pathlib.Path(path)


# ==================================================================================================
# Plots (matplotlib)
# ==================================================================================================
def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save_figure(fig, path):
    fmt = picture_format(path, "plot")
    _write_atomically(path, lambda tmp: fig.savefig(tmp, format=fmt))
    return pathlib.Path(path)


def _smooth(y, n):
    """Moving average over n points (shorter at the start), so noisy per-step curves stay readable."""
    if n <= 1 or len(y) < 2:
        return y
    c = np.cumsum(np.insert(np.asarray(y, dtype=np.float64), 0, 0.0))
    k = np.minimum(np.arange(1, len(y) + 1), n)
    return (c[1:] - c[np.arange(1, len(y) + 1) - k]) / k


def _plot_steps(ax, step, y, label, smooth, shown=lambda v: v):
    """One per-step curve: faint as it is, and its moving average over ``smooth`` steps in the same colour
    (just the curve when ``smooth`` is 1); ``shown`` maps the values drawn (e.g. 0 -> NaN on a log axis)."""
    if smooth > 1:
        ax.plot(step, shown(y), alpha=0.2)
        ax.plot(step, shown(_smooth(y, smooth)), label=label, color=ax.lines[-1].get_color())
    else:
        ax.plot(step, shown(y), label=label)


def save_loss_curves(history, path, title=None):
    """Two panels over training steps: D and G losses; D(x) and D(G(z)). ``history`` maps column -> array."""
    step = np.asarray(history["step"])
    fig = _figure(10, 4)
    ax1, ax2 = fig.subplots(1, 2)
    smooth = max(1, len(step) // 200)
    for ax, names, ylabel in ((ax1, (("d_loss", "D loss"), ("g_loss", "G loss")), "loss"),
                              (ax2, (("d_real", "D(x)"), ("d_fake", "D(G(z))")), "discriminator output")):
        for key, label in names:
            _plot_steps(ax, step, np.asarray(history[key]), label, smooth)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.legend()
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save_figure(fig, path)


def save_grad_norms(history, labels, path, title=None):
    """Two panels over training steps, log-scale y: the L2 norm of each layer's gradient in G, then in D.

    ``labels`` maps a history column ("grad_G.0") to its legend text ("G.0 Linear 100->256"); the part
    before the first "." after the prefix ("G" or "D") picks the panel. Falling G curves while D's loss drops
    mean G's gradients are vanishing: D is winning.
    """
    step = np.asarray(history["step"])
    fig = _figure(10, 4)
    axes = dict(zip(("G", "D"), fig.subplots(1, 2)))
    smooth = max(1, len(step) // 200)
    for column, label in labels.items():
        net = label.partition(".")[0]
        _plot_steps(axes[net], step, np.asarray(history[column], dtype=np.float64), label, smooth,
                    shown=lambda v: np.where(v > 0, v, np.nan))         # a log axis cannot show 0
    for net, ax in axes.items():
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("gradient L2 norm")
        ax.set_title({"G": "generator layers", "D": "discriminator layers"}[net])
        if ax.lines:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save_figure(fig, path)


def save_scatter(points, modes, path, title=None, limit=None):
    """Generated 2-D points (blue) over the true mixture's modes (red crosses)."""
    points, modes = backend.asnumpy(points), backend.asnumpy(modes)   # np.asarray(cupy array) raises
    fig = _figure(5, 5)
    ax = fig.subplots()
    ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.4, label="generated")
    ax.scatter(modes[:, 0], modes[:, 1], s=40, c="red", marker="x", label="true modes")
    limit = limit or 1.5 * float(np.abs(modes).max())
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save_figure(fig, path)


# ==================================================================================================
# CSV
# ==================================================================================================
def write_csv(path, columns, rows):
    """Write a CSV with a header row (atomically); integers stay integers, floats keep 6 significant digits."""
    def fmt(v):
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, str):
            return v
        return f"{float(v):.6g}"

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(columns)
            for row in rows:
                out.writerow([fmt(v) for v in row])
    _write_atomically(path, write)
    return pathlib.Path(path)


# ==================================================================================================
# Sample-quality metrics over training (eval.csv)
# ==================================================================================================
def save_eval_curves(rows, path, floor=None, title=None):
    """Three panels over epochs: FLD (log scale); classifier score and digits drawn; precision and recall.

    ``rows`` maps an eval.csv column ("epoch", "fld", "classifier_score", "digits", "precision", "recall") to
    its values; ``floor`` (optional) maps the same names to the real-data floor, drawn as dashed lines.
    """
    epoch = np.asarray(rows["epoch"])
    fig = _figure(13, 4)
    axes = fig.subplots(1, 3)
    panels = ((axes[0], (("fld", "FLD"),), "Frechet distance (lower is better)"),
              (axes[1], (("classifier_score", "classifier score"), ("digits", "digits drawn")), "of 10"),
              (axes[2], (("precision", "precision"), ("recall", "recall")), "fraction"))
    for ax, names, ylabel in panels:
        for key, label in names:
            line, = ax.plot(epoch, np.asarray(rows[key], dtype=np.float64), marker="o", label=label)
            if floor is not None and key in floor:
                ax.axhline(float(floor[key]), color=line.get_color(), linestyle="--", alpha=0.6,
                           label=f"{label}, real images")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both")
    from matplotlib.ticker import MaxNLocator
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))            # epochs
    if np.all(np.asarray(rows["fld"], dtype=np.float64) > 0):
        axes[0].set_yscale("log")
    axes[2].set_ylim(-0.02, 1.02)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save_figure(fig, path)

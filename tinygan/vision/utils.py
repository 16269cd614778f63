"""Image grids as torchvision.utils: ``make_grid`` tiles a batch into one image, ``save_image`` writes it as a PNG.

    save_image(fake[:25], "images/%d.png" % step, nrow=5, normalize=True)

Both follow torchvision's rules: one-channel images become three (the grid is RGB), ``normalize=True`` maps
``value_range`` (default: the batch's min and max; per image with ``scale_each``) to [0, 1] after clamping to
it, images are laid out ``nrow`` per row with ``padding`` pixels of ``pad_value`` around each, and a single
image is returned without padding. ``save_image`` writes ``round(255 * x)`` clamped to [0, 255] as an RGB PNG
(Pillow, which comes with matplotlib, the writer torchvision uses too), to a path atomically (a temporary
file renamed, tinygan.fileio), or to an open file.
"""
import math
import pathlib

import numpy as np

from tinygan.core import Tensor, array_backend
from tinygan.fileio import write_atomically


def _as_array(tensor):
    """The images as an array (no graph), from a Tensor or a list of same-shaped Tensors."""
    if isinstance(tensor, Tensor):
        return tensor.array
    if isinstance(tensor, (list, tuple)) and tensor and all(isinstance(t, Tensor) for t in tensor):
        xp = array_backend.get_array_module(tensor[0].array)
        shapes = {tuple(t.shape) for t in tensor}
        if len(shapes) > 1:
            raise ValueError(f"make_grid: the tensors of the list must have the same shape, got {sorted(shapes)}")
        return xp.stack([t.array for t in tensor])        # a list of (C, H, W) -> (N, C, H, W)
    raise TypeError(f"make_grid: tensor or list of tensors expected, got {type(tensor).__name__}")


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """Tile images (N, C, H, W) (or a list of (C, H, W), or one (C, H, W) / (H, W)) into one (C', H', W')
    Tensor, ``nrow`` images per row (torchvision.utils.make_grid). Not recorded by autograd."""
    x = _as_array(tensor)
    xp = array_backend.get_array_module(x)
    if x.ndim == 2:
        x = x[None]                                           # (H, W) -> (1, H, W)
    if x.ndim == 3:
        if x.shape[0] == 1:
            x = xp.concatenate([x, x, x], 0)                  # one channel -> three
        x = x[None]                                           # (C, H, W) -> (1, C, H, W)
    if x.ndim != 4:
        raise ValueError(f"make_grid: expected images (N, C, H, W), (C, H, W) or (H, W), got shape {x.shape}")
    if x.shape[1] == 1:
        x = xp.concatenate([x, x, x], 1)                      # (N, 1, H, W) -> (N, 3, H, W)
    if normalize:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max are numbers")
        x = x.copy()
        for image in (x if scale_each else [x]):              # views: normalised in place, as torchvision does
            low, high = value_range if value_range is not None else (float(image.min()), float(image.max()))
            xp.clip(image, low, high, out=image)
            image -= low
            image /= max(high - low, 1e-5)
    if x.shape[0] == 1:
        return Tensor.from_array(x[0])
    n, c, h, w = x.shape
    xmaps = min(nrow, n)
    ymaps = int(math.ceil(float(n) / xmaps))
    height, width = h + padding, w + padding
    grid = xp.full((c, height * ymaps + padding, width * xmaps + padding), pad_value, dtype=x.dtype)
    for k in range(n):
        y, col = divmod(k, xmaps)
        top, left = y * height + padding, col * width + padding
        grid[:, top:top + height - padding, left:left + width - padding] = x[k]
    return Tensor.from_array(grid)


def to_uint8_picture(grid):
    """A (C, H, W) grid of values in [0, 1] as the uint8 (H, W, C) picture torchvision saves:
    ``(255 x + 0.5)`` clamped to [0, 255], truncated."""
    x = array_backend.asnumpy(grid.array if isinstance(grid, Tensor) else grid)
    x = np.clip(x * 255 + 0.5, 0, 255)
    return np.ascontiguousarray(x.transpose(1, 2, 0)).astype(np.uint8)   # (C, H, W) -> (H, W, C)


def save_image(tensor, fp, format=None, **kwargs):
    """Save images as one PNG grid (torchvision.utils.save_image): ``kwargs`` are make_grid's (nrow=8,
    padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0). ``fp``: a path (written
    atomically; the format from its suffix unless ``format`` is given) or a file object opened for writing."""
    from PIL import Image
    picture = to_uint8_picture(make_grid(tensor, **kwargs))
    if picture.shape[2] == 1:
        picture = picture[..., 0]                              # (H, W, 1) -> (H, W): a grey picture
    image = Image.fromarray(picture)
    if isinstance(fp, (str, pathlib.Path)):
        write_atomically(fp, lambda tmp: image.save(tmp, format=format))
    else:
        image.save(fp, format=format)


__all__ = ["make_grid", "save_image"]

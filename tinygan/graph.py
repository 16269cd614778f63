"""Look at a computation graph: as text, as a picture, as Graphviz DOT, and while backward runs through it.

    y = (x * w).sum().tanh()
    print(tinygan.graph.format_graph(y))   # an indented tree, root first
    tinygan.graph.draw(y, "y.png")         # boxes and arrows with matplotlib, leaves at the bottom
    open("y.dot", "w").write(tinygan.graph.to_dot(y))   # dot -Tpng y.dot -o y.png
    for fn in tinygan.graph.backward_order(y): print(fn)
    print(tinygan.graph.trace(y))          # runs backward, one table row per Function it calls

Call the viewers before ``backward()``: backward frees the graph as it goes (unless ``retain_graph=True``), and
they say so if it is gone. Name a tensor to see it by name: ``x.name = "real"``, or pass ``named={"x": x}``.
"""
import time

from tinygan.core import (accumulate_grad, array_backend, backward_pass, backward_step, graph_freed, no_grad,
                          root_gradient, topological_order)

FREED_MESSAGE = ("the graph below this tensor was freed by backward(); call it before backward, "
                 "or pass retain_graph=True to backward")


def _check_not_freed(tensor):
    if graph_freed(tensor):
        raise RuntimeError(FREED_MESSAGE)


def _shape(shape):
    return "x".join(str(n) for n in shape) or "scalar"


def _name(tensor, names):
    return names.get(id(tensor)) or tensor.name


def _label(tensor, names):
    name = _name(tensor, names)
    return f"{name + ' ' if name else ''}{_shape(tensor.shape)} {tensor.dtype}"


def _names(named):
    return {id(t): n for n, t in (named or {}).items()}


def backward_order(root):
    """The Functions in the order backward calls them: the output's creator first, the leaves' last."""
    order = topological_order(root)
    for t in order:
        _check_not_freed(t)
    return [t._ctx for t in reversed(order) if t._ctx is not None]


def format_graph(root, named=None):
    """An indented text tree of the graph below ``root``; ``named`` maps names to tensors (e.g. {"x": x}).

    Leaves that require grad (parameters) print as ``leaf``, other inputs as ``const``, each with its name
    (``named``, or the tensor's ``.name``) when it has one: ``const real 64x784 float32``.
    """
    names = _names(named)
    lines, seen = [], set()
    stack = [(root, 0)]
    while stack:
        tensor, depth = stack.pop()
        _check_not_freed(tensor)
        ctx = tensor._ctx
        op = f"{type(ctx).__name__} -> " if ctx is not None else ("leaf " if tensor.requires_grad else "const ")
        again = " (shown above)" if id(tensor) in seen else ""
        lines.append("  " * depth + op + _label(tensor, names) + again)
        if again:
            continue
        seen.add(id(tensor))
        if ctx is not None:
            for parent in reversed(ctx.inputs):
                stack.append((parent, depth + 1))
    return "\n".join(lines)


def to_dot(root, named=None):
    """Graphviz DOT source: ellipses are tensors, boxes are the Functions between them."""
    names = _names(named)
    out = ["digraph tinygan {", "  rankdir=BT;", '  node [fontname="Helvetica", fontsize=10];']
    seen = set()
    stack = [root]
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen:
            continue
        _check_not_freed(tensor)
        seen.add(id(tensor))
        colour = "lightblue" if tensor._ctx is None and tensor.requires_grad else "white"
        out.append(f'  t{id(tensor)} [label="{_label(tensor, names)}", style=filled, fillcolor={colour}];')
        ctx = tensor._ctx
        if ctx is None:
            continue
        out.append(f'  f{id(ctx)} [label="{type(ctx).__name__}", shape=box];')
        out.append(f"  f{id(ctx)} -> t{id(tensor)};")
        for parent in ctx.inputs:
            out.append(f"  t{id(parent)} -> f{id(ctx)};")
            stack.append(parent)
    out.append("}")
    return "\n".join(out)


# ==================================================================================================
# trace: backward, one row per Function it calls
# ==================================================================================================
def _norm(array):
    """The L2 norm of an array as a Python float (float64 sums, so float16/32 gradients do not overflow)."""
    xp = array_backend.get_array_module(array)
    return float(xp.sqrt(xp.sum(xp.square(array, dtype=xp.float64))))


class Trace:
    """What ``trace`` recorded: ``rows`` (one dict per Function, in the order backward called them) and a
    table as ``str(trace)``.

    Each row: ``step`` (1, 2, ...), ``op`` (the Function's name), ``inputs`` (their shapes), ``output`` (its
    shape), ``gy_norm`` (L2 norm of the gradient that arrived at the output), ``gx_norms`` (L2 norm of the
    gradient sent to each input; None where none was sent: an input that needs no gradient), ``ms``
    (the Function's backward, in milliseconds).
    """

    def __init__(self, rows):
        self.rows = rows

    @property
    def total_ms(self):
        return sum(row["ms"] for row in self.rows)

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __str__(self):
        def number(v):
            return "-" if v is None else f"{v:.4g}"
        header = ("step", "op", "inputs", "output", "|gy|", "|gx| per input", "ms")
        table = [header] + [(str(r["step"]), r["op"], ", ".join(_shape(s) for s in r["inputs"]),
                             _shape(r["output"]), number(r["gy_norm"]),
                             ", ".join(number(v) for v in r["gx_norms"]), f"{r['ms']:.3f}") for r in self.rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        right = {0, 4, 6}                                      # numbers align right
        lines = ["  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                           for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in table]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"{len(self.rows)} backward calls, {self.total_ms:.3f} ms")
        return "\n".join(lines)

    def __repr__(self):
        return f"<Trace: {len(self.rows)} backward calls, {self.total_ms:.3f} ms>"


def trace(tensor, gradient=None, retain_graph=False):
    """Run ``tensor.backward(gradient, retain_graph)`` and record each Function's backward: a ``Trace``.

    Leaves' gradients accumulate into ``.grad`` as in a normal backward (hooks and retain_grad work too).
    The norms are computed outside the timed part; on the GPU each op is timed to its end (a sync per op).
    """
    rows = []

    def timed_step(fn, gy):                       # backward_step, timed, and one row of the table
        device = array_backend.device_of(gy)
        array_backend.synchronize(device)         # on the GPU, time the kernels, not just their launch
        start = time.perf_counter()
        gxs = backward_step(fn, gy)
        array_backend.synchronize(device)
        seconds = time.perf_counter() - start
        rows.append({"step": len(rows) + 1, "op": type(fn).__name__,
                     "inputs": [tuple(t.shape) for t in fn.inputs], "output": tuple(gy.shape),
                     "gy_norm": _norm(gy), "gx_norms": [None if gx is None else _norm(gx) for gx in gxs],
                     "ms": seconds * 1e3})
        return gxs
    _check_not_freed(tensor)
    gy = root_gradient(tensor, gradient)
    with no_grad():                               # as Tensor.backward, with the timed step
        for t, g in backward_pass([tensor], [gy], timed_step, retain_graph):
            if t.is_leaf:
                accumulate_grad(t, g)
    return Trace(rows)


# ==================================================================================================
# draw: the graph as boxes and arrows with matplotlib
# ==================================================================================================
_COLOURS = {"op": "#fff2cc", "param": "#cfe2f3", "const": "#e6e6e6", "named": "#d9ead3"}
_BOX_W, _BOX_H, _DX, _DY, _MARGIN, _HEADER = 1.6, 0.42, 1.9, 0.95, 0.3, 0.45   # inches


def _drawing_nodes(root, names):
    """Boxes and edges of the graph below ``root``.

    Boxes: one per Function (its name and output shape) and one per leaf or named tensor. Edges run along
    the data flow, each carrying one tensor (whose gradient labels it). Keys: ("f", id(fn)), ("t", id(t)).
    """
    boxes, edges, out_key, stack = {}, [], {}, [root]
    while stack:
        tensor = stack.pop()
        if id(tensor) in out_key:
            continue
        _check_not_freed(tensor)
        ctx, name = tensor._ctx, _name(tensor, names)
        shape = _shape(tensor.shape)
        if ctx is None:
            kind = "param" if tensor.requires_grad else "const"
            boxes[("t", id(tensor))] = (kind, f"{name or ('leaf' if tensor.requires_grad else 'const')}\n{shape}")
            out_key[id(tensor)] = ("t", id(tensor))
            continue
        op = ("f", id(ctx))
        boxes[op] = ("op", f"{type(ctx).__name__}\n{shape}")
        out_key[id(tensor)] = op
        if name:                                              # a named result gets its own box after its op
            boxes[("t", id(tensor))] = ("named", f"{name}\n{shape}")
            edges.append((op, ("t", id(tensor)), tensor))
            out_key[id(tensor)] = ("t", id(tensor))
        for parent in ctx.inputs:
            edges.append((parent, op, parent))                # the source is resolved below, once it is known
            stack.append(parent)
    edges = [(out_key[id(src)] if not isinstance(src, tuple) else src, dst, t) for src, dst, t in edges]
    return boxes, edges, out_key[id(root)]


def _layers(boxes, edges):
    """Layer of each box: results one above their highest input, leaves just below their lowest consumer."""
    sources = {key: [] for key in boxes}
    targets = {key: [] for key in boxes}
    for src, dst, _ in edges:
        sources[dst].append(src)
        targets[src].append(dst)
    inner = [key for key in boxes if boxes[key][0] in ("op", "named")]
    waiting = {key: sum(1 for s in sources[key] if boxes[s][0] in ("op", "named")) for key in inner}
    layer, ready = {}, [key for key in inner if waiting[key] == 0]
    while ready:                                              # Kahn's algorithm: longest path from the leaves
        key = ready.pop()
        layer[key] = 1 + max((layer[s] for s in sources[key] if s in layer), default=0)
        for dst in targets[key]:
            waiting[dst] -= 1
            if waiting[dst] == 0:
                ready.append(dst)
    for key in boxes:
        if key not in layer:                                  # a leaf (or a root that is a leaf)
            layer[key] = min((layer[d] for d in targets[key]), default=1) - 1
    low = min(layer.values())
    return {key: value - low for key, value in layer.items()}, sources, targets


def _order_layers(boxes, layer, sources, targets):
    """Boxes of each layer, left to right: discovery order, then barycentre sweeps to uncross edges."""
    rows = [[] for _ in range(max(layer.values()) + 1)]
    for key in boxes:                                         # dicts keep discovery order: root first
        rows[layer[key]].append(key)

    def x(key):
        row = rows[layer[key]]
        return row.index(key) - (len(row) - 1) / 2

    for _ in range(6):
        for row_index in list(range(1, len(rows))) + list(range(len(rows) - 2, -1, -1)):
            row = rows[row_index]
            neighbours = {key: sources[key] + targets[key] for key in row}
            centre = {key: (sum(x(n) for n in neighbours[key]) / len(neighbours[key]) if neighbours[key]
                            else x(key)) for key in row}
            row.sort(key=lambda k: centre[k])
    return rows


def draw(tensor, path=None, names=None, dpi=100):
    """Draw the graph below ``tensor`` with matplotlib: a PNG at ``path`` (when given, at ``dpi``), and the Figure.

    One box per Function (yellow: its name and output shape), per parameter (blue), per constant input
    (grey) and per named result (green), named by ``names`` ({"real": x}, as ``format_graph``'s ``named``)
    or the tensor's ``.name``. Layers go from the leaves at the bottom to ``tensor`` at the top (bold), the
    arrows along the data flow. Where the tensor an arrow carries has a gradient (a leaf's ``.grad``, or a
    tensor that called ``retain_grad()``, after ``backward(retain_graph=True)``), the arrow is labelled
    with its L2 norm, once per tensor, just above the box it leaves (a tensor used twice: the sum of both).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    boxes, edges, root_key = _drawing_nodes(tensor, _names(names))
    layer, sources, targets = _layers(boxes, edges)
    rows = _order_layers(boxes, layer, sources, targets)
    widest = max(len(row) for row in rows)
    width = max(widest * _DX + 2 * _MARGIN, 5.0)                # 5 inches: room for the legend
    height = (len(rows) - 1) * _DY + _BOX_H + 2 * _MARGIN + _HEADER
    centre = {}
    for i, row in enumerate(rows):
        for j, key in enumerate(row):
            centre[key] = (width / 2 + (j - (len(row) - 1) / 2) * _DX, _MARGIN + _BOX_H / 2 + i * _DY)

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    for key, (kind, label) in boxes.items():
        x, y = centre[key]
        ax.add_patch(FancyBboxPatch((x - _BOX_W / 2, y - _BOX_H / 2), _BOX_W, _BOX_H, zorder=2,
                                    boxstyle="round,pad=0,rounding_size=0.08", facecolor=_COLOURS[kind],
                                    edgecolor="black", linewidth=2.0 if key == root_key else 0.8))
        ax.text(x, y, label, ha="center", va="center", fontsize=8, zorder=3, gid="node",
                fontweight="bold" if key == root_key else "normal")

    # where each arrow leaves its source's top and enters its destination's bottom: spread along the edge
    # of the box in the order of the other ends, so arrows into a Linear do not start or end on each other
    def spread(ends):
        ends.sort(key=lambda item: centre[item[1]][0])
        n = len(ends)
        return {edge: (k - (n - 1) / 2) * (0.7 * _BOX_W / max(n - 1, 1)) for k, (edge, _) in enumerate(ends)}
    out_ends, in_ends = {}, {}
    for index, (src, dst, _) in enumerate(edges):
        out_ends.setdefault(src, []).append((index, dst))
        in_ends.setdefault(dst, []).append((index, src))
    start = {k: v for ends in out_ends.values() for k, v in spread(ends).items()}
    end = {k: v for ends in in_ends.values() for k, v in spread(ends).items()}
    labelled = set()
    for index, (src, dst, carried) in enumerate(edges):
        (xs, ys), (xd, yd) = centre[src], centre[dst]
        a = (xs + start[index], ys + _BOX_H / 2)
        b = (xd + end[index], yd - _BOX_H / 2)
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=9, linewidth=0.8, color="#444444",
                                     shrinkA=0, shrinkB=0, zorder=1))
        if carried.grad is not None and id(carried) not in labelled:   # once per tensor, above its box
            labelled.add(id(carried))
            ax.text(xs, ys + _BOX_H / 2 + 0.13, f"{_norm(carried.grad.array):.3g}", ha="center", va="center",
                    fontsize=7, color="#a61c00", zorder=4, gid="grad",
                    bbox={"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "#a61c00",
                          "linewidth": 0.5})
    legend = "yellow: op (output shape)   blue: parameter   grey: constant   green: named result"
    if labelled:
        legend += "\nred: L2 norm of the gradient of the tensor leaving the box below"
    ax.text(_MARGIN / 2, height - _MARGIN / 3, legend, ha="left", va="top", fontsize=7, color="#444444",
            gid="legend")
    if path is not None:
        from tinygan.fileio import write_atomically
        write_atomically(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))
    return fig

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
import math

from tinygan import backend
from tinygan.tensor import _FREED, root_gradient, run_backward, topological_order

FREED_MESSAGE = ("the graph below this tensor was freed by backward(); call it before backward, "
                 "or pass retain_graph=True to backward")


def _check_not_freed(tensor):
    if tensor._ctx is _FREED:
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
    xp = backend.get_array_module(array)
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

    def observe(fn, gy, gxs, seconds):
        rows.append({"step": len(rows) + 1, "op": type(fn).__name__,
                     "inputs": [tuple(t.shape) for t in fn.inputs], "output": tuple(gy.shape),
                     "gy_norm": _norm(gy),
                     "gx_norms": [_norm(gx) if gx is not None and t.requires_grad else None
                                  for t, gx in zip(fn.inputs, gxs)],
                     "ms": seconds * 1e3})
    _check_not_freed(tensor)
    run_backward(tensor, root_gradient(tensor, gradient), retain_graph, observe=observe)
    return Trace(rows)

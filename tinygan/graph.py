"""Look at a computation graph: as text, as Graphviz DOT, and in the order backward will visit it.

    y = (x * w).sum().tanh()
    print(tinygan.graph.format_graph(y))   # an indented tree, root first
    open("y.dot", "w").write(tinygan.graph.to_dot(y))   # dot -Tpng y.dot -o y.png
    for fn in tinygan.graph.backward_order(y): print(fn)

Call these before ``backward()``: backward frees the graph as it goes (unless ``retain_graph=True``).
"""
from tinygan.tensor import topological_order


def _label(tensor, names):
    name = names.get(id(tensor)) or tensor.name
    shape = "x".join(str(n) for n in tensor.shape) or "scalar"
    return f"{name + ' ' if name else ''}{shape} {tensor.dtype}"


def _names(named):
    return {id(t): n for n, t in (named or {}).items()}


def backward_order(root):
    """The Functions in the order backward calls them: the output's creator first, the leaves' last."""
    return [t._ctx for t in reversed(topological_order(root)) if t._ctx is not None]


def format_graph(root, named=None):
    """An indented text tree of the graph below ``root``; ``named`` maps names to tensors (e.g. {"x": x})."""
    names = _names(named)
    lines, seen = [], set()
    stack = [(root, 0)]
    while stack:
        tensor, depth = stack.pop()
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

"""The backward pass: the chain rule over the graph that ``Function.apply`` recorded.

``loss.backward()`` is this loop (``Tensor.backward``):

    with no_grad():                                         # the backward itself is not recorded
        for tensor, g in backward_pass([loss], [ones]):     # g = d(loss)/d(tensor), the loss first
            if tensor.is_leaf:
                accumulate_grad(tensor, g)                  # parameters and inputs keep theirs in .grad

``backward_pass`` visits the tensors of the graph in reverse topological order: each one after every tensor
computed from it, so that the gradient it hands out is complete (the sum over all uses). For a tensor made by
a Function it then calls ``step(fn, g)`` (``backward_step``: ``fn.backward`` with its checks), which returns one
gradient per input of ``fn``, and adds each into that input's running sum.

Three callers change one part of the loop from their own modules: ``tinygan.autograd`` passes a ``step`` that
calls ``backward_graph`` instead (``create_graph=True``: the backward recorded) and, for ``autograd.grad``, a
step limited to the part of the graph that leads to the inputs asked for, keeping their gradients instead of
accumulating leaves'; ``tinygan.graph.trace`` passes a step that times each Function's backward.
"""
from tinygan.core import array_backend
from tinygan.core.function import Function, check_finite, is_anomaly_enabled


# ==================================================================================================
# The walk
# ==================================================================================================
def topological_order(roots):
    """Tensors reachable from ``roots`` (a tensor or a list of them) that require grad, each after all of its
    inputs (an iterative depth-first search: deep graphs never hit Python's recursion limit)."""
    order, visited = [], set()
    stack = [(r, False) for r in reversed(roots)] if isinstance(roots, (list, tuple)) else [(roots, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)                    # all of node's inputs are in order already
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))                # come back to node after its inputs
        if node._ctx is not None:
            for parent in node._ctx.inputs:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def backward_pass(roots, gys, step=None, retain_graph=False):
    """Yield ``(tensor, g)`` for every tensor below ``roots`` that gets a gradient, ``g`` being d(roots)/d(tensor)
    (an array, or a Tensor when the backward is recorded), complete, and after the tensor's hooks ran.

    ``roots`` and ``gys``: lists of tensors and of their gradients. ``step(fn, g)`` returns the gradients of
    fn's inputs (default ``backward_step``). The graph is freed as the walk goes unless ``retain_graph``.
    """
    step = step or backward_step
    grads = {}                                    # id(tensor) -> its gradient so far, summed over its uses
    for root, gy in zip(roots, gys):
        grads[id(root)] = gy if id(root) not in grads else grads[id(root)] + gy
    for tensor in reversed(topological_order(roots)):     # outputs before the inputs they came from
        g = grads.pop(id(tensor), None)           # every use of tensor is behind us: g is complete
        fn = tensor._ctx
        if g is not None:
            if tensor._hooks is not None:
                g = tensor._hooks.run(tensor, g)  # register_hook, retain_grad
            yield tensor, g
            if fn is not None:                    # the chain rule through fn: gradients of its inputs
                for parent, gx in zip(inputs_as_read(fn), step(fn, g)):
                    if gx is not None:            # add, out of place: gx may be another tensor's gradient
                        previous = grads.get(id(parent))
                        grads[id(parent)] = gx if previous is None else previous + gx
        if fn is not None and not retain_graph:
            fn.inputs = ()                        # free the graph as we go: fn's saved arrays go with it
            tensor._ctx = freed(fn)
    # a caller that stops early leaves the rest of the graph as it was


# x changed in place by a recorded op (compat/in_place.py): EARLIER[id(x)][version] holds x's values and graph then
EARLIER = {}


def inputs_as_read(fn):
    """fn's inputs as fn read them: an input changed in place since by a recorded op is replaced by its earlier
    self, so fn's gradient goes to the values fn used, as in PyTorch."""
    if not EARLIER or all(t._version == v for t, v in zip(fn.inputs, fn.input_versions)):
        return fn.inputs
    return tuple(EARLIER.get(id(t), {}).get(v, t) for t, v in zip(fn.inputs, fn.input_versions))


# ==================================================================================================
# One Function's backward, checked
# ==================================================================================================
def backward_step(fn, gy):
    """``fn.backward(gy)`` on arrays (``fn.backward_gpu`` on CuPy arrays when the op has one): the gradients of
    fn's inputs, checked (see ``checked_gradients``)."""
    if fn.saves_inputs:
        check_versions(fn)
    backward = fn.backward_gpu if fn.backward_gpu is not None and fn.on_gpu(gy) else fn.backward
    return checked_gradients(fn, backward(gy), "backward")


def check_versions(fn):
    """PyTorch's check: an input the op saved for backward was changed in place after the forward."""
    for i, (parent, version) in enumerate(zip(fn.inputs, fn.input_versions)):
        if parent._version != version:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: input {i} of {type(fn).__name__}, of shape {tuple(parent.shape)}, is at version "
                f"{parent._version}; expected version {version} instead (an optimizer step or an in-place op "
                f"changed it after the forward: recompute the forward after the change, or backward before it)")


def checked_gradients(fn, gxs, method):
    """What ``fn.<method>`` returned, as one gradient per input of ``fn`` (None for an input that wants none),
    after checking their number and shapes (and, inside ``detect_anomaly``, that they are finite)."""
    if type(gxs) is not tuple:
        gxs = (gxs,)
    n = len(fn.inputs)
    if len(gxs) != n and (len(gxs) < n or any(gx is not None for gx in gxs[n:])):   # extra ones must be None
        raise RuntimeError(f"{type(fn).__name__}.{method} returned {len(gxs)} gradients for "
                           f"{len(fn.inputs)} inputs")
    if is_anomaly_enabled():
        check_finite(fn, "backward", [array_of(gx) for gx in gxs], fn.inputs)
    wanted = []
    for i, (parent, gx) in enumerate(zip(fn.inputs, gxs)):
        if gx is None or not parent.requires_grad or not fn.needs_input_grad[i]:
            gx = None
        elif gx.shape != parent.array.shape:
            raise RuntimeError(f"{type(fn).__name__}.{method} returned a gradient of shape {tuple(gx.shape)} "
                               f"for input {i} of shape {tuple(parent.shape)}")
        wanted.append(gx)
    return wanted


def accumulate_grad(leaf, g):
    """leaf.grad += g: a leaf's gradient is summed over backward calls, as in PyTorch."""
    if isinstance(g, Tensor):                   # create_graph=True: keep the gradient's graph, add out of place
        leaf.grad = g if leaf.grad is None else leaf.grad + g
        return
    if leaf.grad is not None and leaf.grad.requires_grad:
        leaf.grad = Tensor.from_array(leaf.grad.array + g)   # a recorded gradient's array is in its graph
        return
    if g.shape != leaf.array.shape:
        raise RuntimeError(f"internal error: gradient shape {g.shape} for a leaf of shape {leaf.array.shape}")
    if leaf.grad is None:     # a copy (g may alias another gradient), into the home an optimizer gave the leaf:
        home = leaf._grad_home                  # its view of a flat grad buffer (optim/flat.py), or None
        if home is not None and type(home.array) is type(g):
            home.array[...] = g
            leaf.grad = home
        else:
            leaf.grad = Tensor.from_array(g.astype(leaf.array.dtype, copy=True))
    else:
        xp = array_backend.get_array_module(g)
        xp.add(leaf.grad.array, g, out=leaf.grad.array)  # in place: optimizers keep grads in flat buffers


def root_gradient(tensor, gradient, recorded=False):
    """The gradient backward starts from: ``gradient`` as an array, or 1 for a one-element tensor; a Tensor
    when ``recorded`` (create_graph=True), the given Tensor itself so that its own graph is kept."""
    if not tensor.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad and has no graph "
                           "(was it computed under no_grad, or from tensors without requires_grad=True?)")
    xp = array_backend.get_array_module(tensor.array)
    if gradient is None:
        if tensor.array.size != 1:
            raise RuntimeError(f"backward: a tensor of shape {tuple(tensor.shape)} needs an explicit gradient; "
                               "backward() without one works only on a scalar (e.g. a loss)")
        gy = xp.ones_like(tensor.array)
        return Tensor.from_array(gy) if recorded else gy
    gy = gradient.array if isinstance(gradient, Tensor) else xp.asarray(gradient, dtype=tensor.dtype)
    if gy.shape != tensor.shape:
        raise ValueError(f"backward: gradient shape {tuple(gy.shape)} does not match tensor shape "
                         f"{tuple(tensor.shape)}")
    if recorded:
        return gradient if isinstance(gradient, Tensor) else Tensor.from_array(gy)
    return gy


# ==================================================================================================
# A freed graph: what backward leaves in place of each Function it went through
# ==================================================================================================
class FreedGraph(Function):
    """Stands in for a Function whose graph was freed by backward, so a second backward says why it fails;
    it keeps the op's name for ``repr`` (one instance per op class)."""
    inputs = ()
    saves_inputs = False
    needs_input_grad = ()

    def __init__(self, op_name):
        self.op_name = op_name

    def backward(self, gy):
        raise RuntimeError("backward: trying to backward through the graph a second time; its saved arrays "
                           "were freed after the first backward. Pass retain_graph=True to keep them.")

    def __repr__(self):
        return f"<{self.op_name} (freed)>"


_FREED = {}                                      # Function class -> its FreedGraph


def freed(fn):
    """The FreedGraph that stands in for ``fn`` once backward has gone through it."""
    graph = _FREED.get(type(fn))
    if graph is None:
        graph = _FREED[type(fn)] = FreedGraph(type(fn).__name__)
    return graph


def graph_freed(tensor):
    """True when backward has freed the graph that made ``tensor`` (the graph viewers check this)."""
    return isinstance(tensor._ctx, FreedGraph)


# ==================================================================================================
# Hooks: watching (and changing) the gradient of one tensor during backward
# ==================================================================================================
class Hooks:
    """What a tensor asked backward to do with its gradient: the hooks, in registration order, then keep it.

    A tensor without hooks holds None instead, so backward pays one attribute test per tensor for the feature.
    """
    __slots__ = ("fns", "retains_grad", "next_key")

    def __init__(self):
        self.fns = {}                            # key -> fn; dicts keep insertion order
        self.retains_grad = False
        self.next_key = 0

    def run(self, tensor, g):
        """Call each hook on the complete gradient ``g``; a hook's returned tensor replaces it."""
        recorded = isinstance(g, Tensor)         # create_graph=True: gradients are Tensors with a graph
        for fn in list(self.fns.values()):
            out = fn(g if recorded else Tensor.from_array(g))
            if out is None:
                continue
            new = out if recorded else array_of(out)
            if getattr(new, "shape", None) != g.shape:
                raise RuntimeError(f"hook '{getattr(fn, '__name__', fn)}' has changed the size of value: "
                                   f"expected {tuple(g.shape)}, got {tuple(getattr(new, 'shape', ()))}")
            g = new
        if self.retains_grad and tensor._ctx is not None:
            accumulate_grad(tensor, g)           # a non-leaf that retain_grad() asked to keep its gradient
        return g


class RemovableHandle:
    """Returned by ``register_hook``: ``handle.remove()`` unregisters the hook (a second call does nothing)."""

    def __init__(self, hooks, key):
        self._hooks, self._key = hooks, key

    def remove(self):
        self._hooks.fns.pop(self._key, None)


# The tensors this module makes and reads; tensor.py imports this module, so Tensor comes last.
from tinygan.core.tensor import Tensor, array_of  # noqa: E402

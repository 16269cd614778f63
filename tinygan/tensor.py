"""Tensor, Function and reverse-mode automatic differentiation.

A ``Tensor`` wraps an array (NumPy or CuPy). Every differentiable operation is a ``Function`` subclass with
``forward`` and ``backward`` side by side, both on raw arrays:

    class Mul(Function):
        '''y = a * b;  ga = gy * b,  gb = gy * a'''
        def forward(self, a, b):
            self.a, self.b = a, b            # keep only what backward needs
            return a * b
        def backward(self, gy):
            return gy * self.b, gy * self.a  # one gradient per input

``Function.apply`` runs ``forward`` and, when gradients are wanted, records the function as the output's
``_ctx`` (its creator) together with the input tensors. ``Tensor.backward`` walks that graph once, in reverse
topological order, calling each ``backward`` with the gradient of the loss with respect to the function's
output (``gy``) and receiving the gradients with respect to its inputs (``gx``): the chain rule.

A Function never holds its output Tensor, so the graph has no reference cycles and device memory is freed as
soon as the last tensor of the graph goes away.

The module reads top to bottom: the recording switches, ``Function``, the backward pass that walks what
Functions recorded, then ``Tensor`` with its operators, each a call to a Function in tinygan/ops/.
"""
import collections
import contextlib
import functools
import math

import numpy as np

from tinygan import rng
from tinygan.core import array_backend

# ==================================================================================================
# Global switches: gradient recording and anomaly detection
# ==================================================================================================
_grad_enabled = True
_detect_anomaly = False


def is_grad_enabled():
    """True while operations are recorded for backward."""
    return _grad_enabled


@contextlib.contextmanager
def _set_grad_enabled(mode):
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, mode
    try:
        yield
    finally:
        _grad_enabled = previous


def no_grad():
    """Context manager: operations inside record no graph (evaluation, optimizer updates)."""
    return _set_grad_enabled(False)


def enable_grad():
    """Context manager: turn recording back on inside a ``no_grad`` block."""
    return _set_grad_enabled(True)


class set_grad_enabled:
    """Turn recording on or off: called alone (``set_grad_enabled(False)``), as a context manager (restores the
    previous mode on exit) or as a decorator, as torch.set_grad_enabled."""

    def __init__(self, mode):
        global _grad_enabled
        self.previous, _grad_enabled = _grad_enabled, bool(mode)
        self.mode = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        global _grad_enabled
        _grad_enabled = self.previous

    def __call__(self, fn):
        global _grad_enabled
        _grad_enabled = self.previous                 # decorating does not change the mode, calling fn does
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


@contextlib.contextmanager
def detect_anomaly():
    """Inside this block the first op whose forward or backward makes a NaN or Inf raises, naming the op."""
    global _detect_anomaly
    previous, _detect_anomaly = _detect_anomaly, True
    try:
        yield
    finally:
        _detect_anomaly = previous


class AnomalyError(FloatingPointError):
    """Raised inside ``detect_anomaly`` when an op produces a non-finite value."""


def _check_finite(fn, phase, arrays, inputs):
    xp = array_backend.get_array_module(*arrays)
    for array in arrays:
        if array is not None and not bool(xp.isfinite(array).all()):
            shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
            raise AnomalyError(f"{type(fn).__name__}.{phase} produced NaN or Inf (input shapes: {shapes})")


# ==================================================================================================
# Function: one differentiable operation
# ==================================================================================================
class Function:
    """Base class of every op: subclasses define ``forward(*arrays) -> array`` and ``backward(gy) -> grads``.

    ``backward`` returns one gradient per input (a tuple, or a bare array for one input); it may return
    None for an input that needs no gradient. ``self.needs_input_grad[i]`` says which inputs want one, so
    backward can skip work (the input gradient of a first layer, say).
    """
    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on tensors: forward on their arrays, and record the graph edge when grads are wanted."""
        fn = cls(**params) if params else cls()
        arrays = [t.array for t in inputs]
        if len(arrays) > 1:
            _check_same_device(cls, arrays)
        y = fn.forward(*arrays)
        if type(y) is not np.ndarray and isinstance(y, np.generic):
            y = np.asarray(y)  # NumPy reductions return scalars; a Tensor always holds an ndarray
        if _detect_anomaly:
            _check_finite(fn, "forward", (y,), inputs)
        if _grad_enabled:
            needs = tuple(t.requires_grad for t in inputs)
            if True in needs:
                fn.inputs = inputs
                fn.needs_input_grad = needs
                fn.input_versions = tuple(t._version for t in inputs)   # checked by backward
                return Tensor._from_array(y, requires_grad=True, ctx=fn)
        return Tensor._from_array(y)

    # An op whose backward reads none of its inputs' values (a + b, x.reshape(...)) sets this False: changing
    # an input in place after the forward cannot corrupt its gradient, so backward need not check versions.
    saves_inputs = True

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, gy):
        raise NotImplementedError

    def backward_graph(self, gy):
        """The backward on Tensors, recorded, so that the gradient can be differentiated again
        (``create_graph=True``). ``gy`` is a Tensor; the inputs are ``self.inputs``; returns Tensors.

        Ops that define it write the same formula as ``backward`` with differentiable Tensor ops. An op that
        does not falls back here: its first derivative is computed by ``backward`` on arrays, and a second
        derivative through it raises ``NoSecondDerivativeError`` naming the op (never a wrong number).
        """
        gxs = self.backward(gy.array)
        gxs = gxs if type(gxs) is tuple else (gxs,)
        return tuple(None if gx is None else _FirstDerivativeOnly.apply(gy, *self.inputs, gx=gx, op=self)
                     for gx in gxs)

    def __repr__(self):
        return f"<{type(self).__name__}>"


class NoSecondDerivativeError(RuntimeError):
    """Raised when a second derivative is asked of an op that has only a first (see ``backward_graph``)."""


class _FirstDerivativeOnly(Function):
    """The first derivative of ``op`` as a graph node (computed on arrays) whose own backward raises."""

    def __init__(self, gx, op):
        self.gx, self.op_name = gx, type(op).__name__

    def forward(self, *arrays):
        return self.gx

    def backward(self, gy):
        hint = (" (WGAN-GP critics: use LayerNorm or no normalisation instead of BatchNorm)"
                if self.op_name == "BatchNorm" else " (define its backward_graph to give it one)")
        raise NoSecondDerivativeError(
            f"{self.op_name} has no second derivative in tinygan: a gradient computed with create_graph=True "
            f"passed through {self.op_name}, and differentiating it again would need {self.op_name}'s second "
            f"derivative{hint}")

    def __repr__(self):
        return f"<{self.op_name}Backward (first derivative only)>"


def _check_same_device(cls, arrays):
    first = type(arrays[0])
    for a in arrays[1:]:
        if type(a) is not first and (array_backend.device_of(a) != array_backend.device_of(arrays[0])):
            devices = " and ".join(array_backend.device_of(x) for x in arrays)
            raise RuntimeError(f"{cls.__name__.lower()}: tensors are on different devices ({devices}); "
                               f"move them to one device with .to(device)")


# ==================================================================================================
# The backward pass: the chain rule over the recorded graph, once per node, from the root to the leaves
# ==================================================================================================
def topological_order(root):
    """Tensors reachable from ``root`` (a tensor or a list of them) that require grad, each after all of its
    inputs (iterative DFS)."""
    order, visited = [], set()
    stack = [(r, False) for r in reversed(root)] if isinstance(root, (list, tuple)) else [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        ctx = node._ctx
        if ctx is not None:
            for parent in ctx.inputs:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def run_backward(root, gy, retain_graph=False, observe=None, create_graph=False, inputs=None):
    """The chain rule over the whole graph: visit tensors from the root back to the leaves, once each.

    ``root`` and ``gy`` are a tensor and its gradient (an array), or lists of them. With ``create_graph`` the
    gradients are Tensors and every backward is ``backward_graph``, recorded, so the result can be
    differentiated again. ``inputs`` (for ``tinygan.autograd.grad``): the tensors whose gradients to return,
    in a list, instead of adding into leaves' ``.grad``; only the part of the graph that leads to them is
    walked. ``observe(fn, gy, gxs, seconds)``, when given, is called after each Function's backward (see
    ``tinygan.graph.trace``). Without these, the walk tests one attribute per tensor.
    """
    roots, gys = (list(root), list(gy)) if isinstance(root, (list, tuple)) else ([root], [gy])
    order = topological_order(roots)
    grads = {}                                   # id(tensor) -> d(root)/d(tensor), summed over all uses
    for r, g in zip(roots, gys):
        grads[id(r)] = g if id(r) not in grads else grads[id(r)] + g
    wanted = None if inputs is None else _leading_to(order, inputs)
    captured = {}
    if create_graph:
        step = functools.partial(_backward_one, recorded=True)
    else:
        step = _backward_one if observe is None else _observed(observe)
    with _set_grad_enabled(create_graph):        # a recorded backward records; a plain one never does
        for node in reversed(order):
            g = grads.pop(id(node), None)        # all uses of node are behind us: g is complete
            if node._hooks is not None and g is not None:
                g = node._hooks.run(node, g)     # register_hook / retain_grad
            ctx = node._ctx
            if wanted is not None:
                if id(node) in wanted.targets:
                    captured[id(node)] = g
                if ctx is not None and g is not None and id(node) in wanted.leads:
                    _masked_step(step, ctx, g, grads, wanted.leads)
            elif ctx is None:                    # a leaf: accumulate into .grad, as PyTorch does
                if g is not None:
                    _accumulate_leaf_grad(node, g)
                continue
            elif g is not None:
                step(ctx, g, grads)
            if not retain_graph and ctx is not None:
                ctx.inputs = ()                  # free the graph as we go
                node._ctx = _freed(ctx)
    return None if inputs is None else [captured.get(id(t)) for t in inputs]


class _Wanted:
    """For ``autograd.grad``: the target tensors' ids, and the ids of every tensor from which one is reached."""

    def __init__(self, targets, leads):
        self.targets, self.leads = targets, leads


def _leading_to(order, inputs):
    targets = {id(t) for t in inputs}
    leads = set(targets)
    for node in order:                           # inputs before outputs: one pass settles every node
        ctx = node._ctx
        if ctx is not None and (any(id(p) in leads for p in ctx.inputs) or isinstance(ctx, _FreedGraph)):
            leads.add(id(node))                  # a freed graph is walked, so that it says it was freed
    return _Wanted(targets, leads)


def _masked_step(step, ctx, g, grads, leads):
    """One backward that computes only the input gradients leading to the wanted tensors."""
    needs = ctx.needs_input_grad
    ctx.needs_input_grad = tuple(n and id(p) in leads for n, p in zip(needs, ctx.inputs))
    try:
        step(ctx, g, grads)
    finally:
        ctx.needs_input_grad = needs


def _check_versions(ctx):
    """PyTorch's check: an input the op saved for backward was changed in place after the forward."""
    for i, (parent, version) in enumerate(zip(ctx.inputs, ctx.input_versions)):
        if parent._version != version:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: input {i} of {type(ctx).__name__}, of shape {tuple(parent.shape)}, is at version "
                f"{parent._version}; expected version {version} instead (an optimizer step or an in-place op "
                f"changed it after the forward: recompute the forward after the change, or backward before it)")


def _backward_one(ctx, g, grads, recorded=False):
    """Call one Function's backward and add the gradients it returns into ``grads``, checking their shapes.

    ``recorded`` (create_graph=True): its ``backward_graph`` instead, Tensors in and out, the backward recorded.
    """
    if ctx.saves_inputs:
        _check_versions(ctx)
    method = "backward_graph" if recorded else "backward"
    gxs = ctx.backward_graph(g) if recorded else ctx.backward(g)
    if type(gxs) is not tuple:
        gxs = (gxs,)
    if len(gxs) < len(ctx.inputs) or any(gx is not None for gx in gxs[len(ctx.inputs):]):
        raise RuntimeError(f"{type(ctx).__name__}.{method} returned {len(gxs)} gradients for "
                           f"{len(ctx.inputs)} inputs")
    if _detect_anomaly:
        _check_finite(ctx, "backward", [array_of(gx) for gx in gxs], ctx.inputs)
    for i, (parent, gx) in enumerate(zip(ctx.inputs, gxs)):
        if gx is None or not parent.requires_grad or not ctx.needs_input_grad[i]:
            continue
        if gx.shape != parent.array.shape:
            raise RuntimeError(f"{type(ctx).__name__}.{method} returned a gradient of shape {tuple(gx.shape)} "
                               f"for input {i} of shape {tuple(parent.shape)}")
        key = id(parent)
        previous = grads.get(key)
        grads[key] = gx if previous is None else previous + gx  # out of place: gx may be shared
    return gxs


def _observed(observe):
    """``_backward_one`` that also times the Function's backward and reports it to ``observe``."""
    import time

    def step(ctx, g, grads):
        device = array_backend.device_of(g)
        array_backend.synchronize(device)              # on the GPU, time the kernels, not just their launch
        start = time.perf_counter()
        gxs = _backward_one(ctx, g, grads)
        array_backend.synchronize(device)
        observe(ctx, g, gxs, time.perf_counter() - start)
    return step


class _FreedGraph(Function):
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


_FREED = {}                                      # Function class -> its _FreedGraph


def _freed(ctx):
    cls = type(ctx)
    freed = _FREED.get(cls)
    if freed is None:
        freed = _FREED[cls] = _FreedGraph(cls.__name__)
    return freed


def graph_freed(tensor):
    """True when backward has freed the graph that made ``tensor`` (the graph viewers check this)."""
    return isinstance(tensor._ctx, _FreedGraph)


def _accumulate_leaf_grad(leaf, g):
    if isinstance(g, Tensor):                   # create_graph=True: keep the gradient's graph, add out of place
        leaf.grad = g if leaf.grad is None else leaf.grad + g
        return
    if leaf.grad is not None and leaf.grad.requires_grad:
        leaf.grad = Tensor._from_array(leaf.grad.array + g)   # a recorded gradient's array is in its graph
        return
    if g.shape != leaf.array.shape:
        raise RuntimeError(f"internal error: gradient shape {g.shape} for a leaf of shape {leaf.array.shape}")
    if leaf.grad is None:
        # copy: g may be the caller's gradient array or alias another tensor's gradient
        leaf.grad = Tensor._from_array(g.astype(leaf.array.dtype, copy=True))
    else:
        xp = array_backend.get_array_module(g)
        xp.add(leaf.grad.array, g, out=leaf.grad.array)  # in place: optimizers keep grads in flat buffers



# ==================================================================================================
# Hooks: watching (and changing) the gradient of one tensor during backward
# ==================================================================================================
class _Hooks:
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
            out = fn(g if recorded else Tensor._from_array(g))
            if out is None:
                continue
            new = out if recorded else array_of(out)
            if getattr(new, "shape", None) != g.shape:
                raise RuntimeError(f"hook '{getattr(fn, '__name__', fn)}' has changed the size of value: "
                                   f"expected {tuple(g.shape)}, got {tuple(getattr(new, 'shape', ()))}")
            g = new
        if self.retains_grad and tensor._ctx is not None:
            _accumulate_leaf_grad(tensor, g)     # a non-leaf that retain_grad() asked to keep its gradient
        return g


class RemovableHandle:
    """Returned by ``register_hook``: ``handle.remove()`` unregisters the hook (a second call does nothing)."""

    def __init__(self, hooks, key):
        self._hooks, self._key = hooks, key

    def remove(self):
        self._hooks.fns.pop(self._key, None)


# ==================================================================================================
# Tensor
# ==================================================================================================
class Tensor:
    """An n-dimensional array that remembers how it was computed, so gradients can flow back through it."""
    __slots__ = ("array", "grad", "requires_grad", "_ctx", "name", "_hooks", "_version", "__weakref__")
    __array_priority__ = 1000  # numpy_array * tensor calls Tensor.__rmul__, not NumPy's loop

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        if isinstance(data, Tensor):
            data = data.array
        is_array = hasattr(data, "dtype")
        if device is None:
            device = array_backend.device_of(data) if is_array else array_backend.get_default_device()
        if not is_array:                              # Python numbers and (nested) lists
            data = np.asarray(data)
            if dtype is None and data.dtype == np.float64:
                dtype = np.float32                    # Python floats become float32, as in PyTorch
        array = array_backend.to_device(data, device)
        if dtype is not None:
            array = array.astype(dtype, copy=False)
        self._set_fields(array)
        if requires_grad:
            self.requires_grad_(True)

    # ---- properties -----------------------------------------------------------------------------
    @property
    def data(self):
        """PyTorch's ``.data``: a tensor sharing this one's memory, cut from the graph (``.array`` is the raw array).

        Changes through it are not seen by autograd, as in PyTorch: ``p.data.clamp_(-c, c)`` clips weights in
        place without bumping ``p``'s version. Assigning ``p.data = t`` replaces the values (shape and all).
        """
        return Tensor._from_array(self.array)

    @data.setter
    def data(self, value):
        self.array = array_of(value)

    @property
    def shape(self):
        return self.array.shape

    @property
    def ndim(self):
        return self.array.ndim

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self):
        """Where the values live, as PyTorch's ``torch.device``: device('cpu') or device('cuda:0'); it also equals
        tinygan's names ("cpu", "gpu")."""
        return array_backend.device_object(self.array)

    @property
    def is_leaf(self):
        """True for tensors made by the user (parameters, inputs), False for results of recorded ops."""
        return self._ctx is None

    @property
    def grad_fn(self):
        """The Function that made this tensor (None for a leaf), as in PyTorch."""
        return self._ctx

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        return int(self.array.size)

    def dim(self):
        return self.ndim

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        body = np.array2string(array_backend.asnumpy(self.array), separator=", ", precision=4, prefix="tensor(")
        extras = []
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.dtype != np.float32:
            extras.append(f"dtype={self.dtype}")
        if self._ctx is not None:
            name = self._ctx.op_name + "Backward (freed)" if graph_freed(self) else type(self._ctx).__name__ + "Backward"
            extras.append(f"grad_fn=<{name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"truth value of a tensor with {self.array.size} elements is ambiguous")
        return bool(self.array)

    def __hash__(self):
        return id(self)

    # ---- conversion -----------------------------------------------------------------------------
    def numpy(self):
        """The values as a NumPy array (a copy from the GPU); the tensor must not require grad."""
        return array_backend.asnumpy(self.array)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.array.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {tuple(self.shape)}")
        return self.array.reshape(()).item()

    def tolist(self):
        return array_backend.asnumpy(self.array).tolist()

    def detach(self):
        """A new leaf tensor sharing this one's data, cut from the graph."""
        return Tensor._from_array(self.array)

    def requires_grad_(self, mode=True):
        """Mark this leaf tensor as one whose gradient backward should compute."""
        if mode and self.dtype.kind != "f":
            raise TypeError(f"only floating point tensors can require gradients, got dtype {self.dtype}")
        self.requires_grad = bool(mode)
        return self

    def to(self, *args, device=None, dtype=None, non_blocking=False, copy=False):
        """This tensor on ``device`` and/or in ``dtype``, PyTorch's forms: ``x.to("cuda")``, ``x.to(torch.float64)``,
        ``x.to("cuda", torch.float32)``, ``x.to(other)`` (other's device and dtype). Differentiable; returns self
        when nothing changes unless ``copy=True``. ``non_blocking`` is accepted and changes nothing."""
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, str):                  # a device name or a tinygan.device (a str)
                device = a
            else:
                try:
                    dtype = np.dtype(a)
                except TypeError:
                    raise TypeError(f"to: expected a device, a dtype or a tensor, got {a!r}") from None
        out = self
        if device is not None and array_backend.check_device(device) != self.device:
            from tinygan.ops.shape import ToDevice
            out = ToDevice.apply(out, device=array_backend.check_device(device))
        if dtype is not None and np.dtype(dtype) != out.dtype:
            from tinygan.ops.elementwise import Cast
            if np.dtype(dtype).kind == "f":
                out = Cast.apply(out, dtype=np.dtype(dtype))
            else:                                     # integers and booleans carry no gradient
                with no_grad():
                    out = Cast.apply(out, dtype=np.dtype(dtype))
        return out.clone() if copy and out is self else out

    def cpu(self):
        return self.to("cpu")

    def gpu(self):
        return self.to("gpu")

    def cuda(self, device=None, non_blocking=False):
        """This tensor on the GPU, as torch's ``cuda`` (``device``: None, 0 or "cuda:0"); differentiable."""
        device = array_backend.device("cuda" if device is None else device)
        if device.type != "cuda":
            raise ValueError(f"cuda: invalid device {device!r}, it must be a CUDA device")
        return self.to(device)

    def float(self):
        return self.to(dtype=np.float32)

    def double(self):
        return self.to(dtype=np.float64)

    def _set_fields(self, array, requires_grad=False, ctx=None):
        """The one place a tensor's fields are set: its array, no gradient yet, its creator, no name, no hooks,
        no in-place changes yet."""
        self.array = array                            # the NumPy or CuPy array holding the values
        self.grad = None
        self.requires_grad = requires_grad
        self._ctx = ctx                               # the Function that made it; None for a leaf
        self.name = None
        self._hooks = None                            # a _Hooks once register_hook or retain_grad is called
        self._version = 0                             # bumped by every in-place change (see Function.apply)
        return self

    @staticmethod
    def _from_array(array, requires_grad=False, ctx=None):
        """Wrap an existing array without copying (internal fast path)."""
        return Tensor.__new__(Tensor)._set_fields(array, requires_grad, ctx)

    # ---- in-place ops: PyTorch's trailing-underscore methods ---------------------------------------
    # They change this tensor's own memory (views and a parameter's flat optimizer buffer see the change) and
    # bump its version, so a backward through a graph that saved the old values raises instead of using the
    # new ones. PyTorch's rules: refused on a leaf that requires grad while gradients are recorded (use
    # ``with no_grad():``, or ``p.data.clamp_(...)``, whose changes autograd does not see, as in PyTorch).
    def _write_in_place(self, op, compute):
        """Write ``compute()`` (an array of self's shape) into self's memory, under PyTorch's rules."""
        if _grad_enabled and self.requires_grad:
            if self._ctx is None:
                raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place "
                                   f"operation (wrap it in tinygan.no_grad(), or change p.data)")
            raise NotImplementedError(
                f"{op}: in-place ops on a tensor computed with gradients recorded are not supported in tinygan; "
                f"use the out-of-place form (x = x.add(y) instead of x.add_(y))")
        xp = array_backend.get_array_module(self.array)
        value = compute(xp)
        if getattr(value, "shape", self.shape) != self.shape:
            raise RuntimeError(f"{op}: the result of shape {tuple(value.shape)} cannot be written into a tensor "
                               f"of shape {tuple(self.shape)} in place")
        self.array[...] = value
        self._version += 1
        return self

    def add_(self, other, alpha=1):
        """x += alpha * other, in place (torch's ``add_``)."""
        return self._write_in_place("add_", lambda xp: self.array + alpha * _in_place_operand(other, self))

    def sub_(self, other, alpha=1):
        """x -= alpha * other, in place."""
        return self._write_in_place("sub_", lambda xp: self.array - alpha * _in_place_operand(other, self))

    def mul_(self, other):
        """x *= other, in place."""
        return self._write_in_place("mul_", lambda xp: self.array * _in_place_operand(other, self))

    def div_(self, other):
        """x /= other, in place."""
        return self._write_in_place("div_", lambda xp: self.array / _in_place_operand(other, self))

    def pow_(self, exponent):
        """x = x ** exponent, in place."""
        return self._write_in_place("pow_", lambda xp: self.array ** _in_place_operand(exponent, self))

    def clamp_(self, min=None, max=None):
        """x = min(max(x, min), max), in place (WGAN's weight clipping: ``p.data.clamp_(-c, c)``)."""
        if min is None and max is None:
            raise ValueError("clamp_: give at least one of min and max")

        def clamped(xp):
            y = self.array if min is None else xp.maximum(self.array, _in_place_operand(min, self))
            return y if max is None else xp.minimum(y, _in_place_operand(max, self))
        return self._write_in_place("clamp_", clamped)

    clip_ = clamp_

    def zero_(self):
        """x = 0, in place."""
        return self._write_in_place("zero_", lambda xp: 0)

    def fill_(self, value):
        """x = value everywhere, in place."""
        return self._write_in_place("fill_", lambda xp: _in_place_operand(value, self))

    def copy_(self, other):
        """x = other's values (broadcast, converted to x's dtype and device), in place."""
        src = array_of(other)
        if array_backend.device_of(src) != self.device:
            src = array_backend.to_device(src, self.device)
        return self._write_in_place("copy_", lambda xp: src)

    def normal_(self, mean=0.0, std=1.0):
        """Fill with samples of N(mean, std^2) from tinygan's seeded generator, in place."""
        return self._write_in_place(
            "normal_", lambda xp: rng.randn(self.shape, self.dtype, self.device) * std + mean)

    def uniform_(self, a=0.0, b=1.0):
        """Fill with samples of U(a, b) from tinygan's seeded generator, in place."""
        return self._write_in_place(
            "uniform_", lambda xp: rng.rand(self.shape, self.dtype, self.device) * (b - a) + a)

    def random_(self, low=0, high=None):
        """Fill with integers drawn uniformly from [low, high) by tinygan's seeded generator, in place (torch's
        ``random_(from, to)``; ``random_(n)`` is [0, n); no argument: [0, 2^mantissa] for float tensors (2^24 for
        float32), the non-negative values of an integer dtype (below 2^62 for int64))."""
        if high is None and low != 0:
            low, high = 0, low                                           # random_(n): [0, n)
        if high is None:
            high = (2 ** (np.finfo(self.dtype).nmant + 1) + 1 if self.dtype.kind == "f" else
                    2 ** 62 if self.dtype.itemsize == 8 else int(np.iinfo(self.dtype).max) + 1)
        low, high = int(low), int(high)
        if high <= low:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")

        def draw(xp):
            u = rng.rand(self.shape, np.dtype(np.float64), self.device)
            return xp.minimum(low + xp.floor(u * (high - low)), high - 1)
        return self._write_in_place("random_", draw)

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        """x[..., index[i, j], ...] = src[i, j] (or a number) along ``dim``, in place (torch's ``scatter_``: for
        dim=1, ``x[i][index[i][j]] = src[i][j]``; index may be smaller than x in the other dims). Where an index
        repeats, the last write wins (PyTorch leaves that order undefined)."""
        if reduce is not None:
            raise NotImplementedError("scatter_: reduce= is not supported by tinygan")
        src = value if src is None else src
        if src is None:
            raise TypeError("scatter_: give src (a tensor) or value (a number)")
        idx = array_of(index)
        if not hasattr(idx, "dtype") or idx.dtype.kind not in "iu":
            raise RuntimeError("scatter_(): Expected dtype int64 for index")
        dim = dim + self.ndim if dim < 0 else dim
        if idx.ndim != self.ndim or not 0 <= dim < self.ndim:
            raise RuntimeError(f"scatter_: index of shape {tuple(idx.shape)} and dim {dim} do not fit a tensor of "
                               f"shape {tuple(self.shape)} (index needs as many dimensions)")

        def scattered(xp):
            i = array_backend.to_device(idx, self.device)
            where = [xp.arange(n).reshape([-1 if d == k else 1 for k in range(i.ndim)]) for d, n in enumerate(i.shape)]
            where[dim] = i                               # the other dims: the positions of index's own entries
            values = array_of(src)
            if hasattr(values, "shape") and values.ndim:
                values = array_backend.to_device(values, self.device)[tuple(slice(0, n) for n in i.shape)]
            out = self.array.copy()
            out[tuple(where)] = values
            return out
        return self._write_in_place("scatter_", scattered)

    # ---- operators ------------------------------------------------------------------------------
    def __add__(self, other):
        if _is_operand_array(other):
            return _arith.Add.apply(self, _as_tensor(other, self))
        return _arith.AddScalar.apply(self, c=_scalar(other, "add"))

    __radd__ = __add__

    def __sub__(self, other):
        if _is_operand_array(other):
            return _arith.Sub.apply(self, _as_tensor(other, self))
        return _arith.AddScalar.apply(self, c=-_scalar(other, "sub"))

    def __rsub__(self, other):
        if _is_operand_array(other):
            return _arith.Sub.apply(_as_tensor(other, self), self)
        return _arith.RSubScalar.apply(self, c=_scalar(other, "sub"))

    def __mul__(self, other):
        if _is_operand_array(other):
            return _arith.Mul.apply(self, _as_tensor(other, self))
        return _arith.MulScalar.apply(self, c=_scalar(other, "mul"))

    __rmul__ = __mul__

    def __truediv__(self, other):
        if _is_operand_array(other):
            return _arith.Div.apply(self, _as_tensor(other, self))
        return _arith.DivScalar.apply(self, c=_scalar(other, "div"))

    def __rtruediv__(self, other):
        if _is_operand_array(other):
            return _arith.Div.apply(_as_tensor(other, self), self)
        return _arith.RDivScalar.apply(self, c=_scalar(other, "div"))

    def __pow__(self, other):
        if _is_operand_array(other):
            return _arith.Pow.apply(self, _as_tensor(other, self))
        return _arith.PowScalar.apply(self, p=_scalar(other, "pow"))

    def __rpow__(self, other):
        if _is_operand_array(other):
            return _arith.Pow.apply(_as_tensor(other, self), self)
        return _arith.RPowScalar.apply(self, c=_scalar(other, "pow"))

    def __matmul__(self, other):
        return _arith.MatMul.apply(self, _as_tensor(other, self))

    def __rmatmul__(self, other):
        return _arith.MatMul.apply(_as_tensor(other, self), self)

    def __neg__(self):
        return _arith.Neg.apply(self)

    def __pos__(self):
        return self

    def __getitem__(self, index):
        if self.ndim == 0 and isinstance(index, (int, np.integer, slice)) and not isinstance(index, bool):
            # PyTorch's words for x.data[0] on a 0-d loss (code from before PyTorch 0.4)
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python to convert a 0-dim "
                             "tensor to a number")
        return _shape.GetItem.apply(self, index=_raw_index(index))

    # comparisons give boolean tensors outside the graph
    def __lt__(self, other):
        return Tensor._from_array(self.array < array_of(other))

    def __le__(self, other):
        return Tensor._from_array(self.array <= array_of(other))

    def __gt__(self, other):
        return Tensor._from_array(self.array > array_of(other))

    def __ge__(self, other):
        return Tensor._from_array(self.array >= array_of(other))

    def eq(self, other):
        """Elementwise equality as a boolean tensor (``==`` stays identity, so tensors work in sets)."""
        return Tensor._from_array(self.array == array_of(other))

    def ne(self, other):
        return Tensor._from_array(self.array != array_of(other))

    # ---- elementwise ----------------------------------------------------------------------------
    def exp(self):
        return _elem.Exp.apply(self)

    def log(self):
        return _elem.Log.apply(self)

    def sqrt(self):
        return _elem.Sqrt.apply(self)

    def abs(self):
        return _elem.Abs.apply(self)

    __abs__ = abs

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp: give at least one of min and max")
        return _elem.Clamp.apply(self, min=min, max=max)

    clip = clamp

    def tanh(self):
        return _elem.Tanh.apply(self)

    def sigmoid(self):
        return _elem.Sigmoid.apply(self)

    def relu(self):
        return _elem.ReLU.apply(self)

    def leaky_relu(self, negative_slope=0.01):
        return _elem.LeakyReLU.apply(self, negative_slope=negative_slope)

    def softplus(self):
        return _elem.Softplus.apply(self)

    def softmax(self, dim=-1):
        return _red.Softmax.apply(self, dim=dim)

    def log_softmax(self, dim=-1):
        return _red.LogSoftmax.apply(self, dim=dim)

    # ---- reductions -----------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False):
        return _red.Sum.apply(self, dim=dim, keepdim=keepdim)

    def mean(self, dim=None, keepdim=False):
        return _red.Mean.apply(self, dim=dim, keepdim=keepdim)

    def max(self, dim=None, keepdim=False):
        """The largest element; over one ``dim``, PyTorch's ``(values, indices)`` (``_, pred = out.max(1)``).
        A tuple of dims gives the values alone, as ``amax``."""
        values = _red.Max.apply(self, dim=dim, keepdim=keepdim)
        return values if dim is None or isinstance(dim, tuple) else _with_indices("max", values, self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        """The smallest element; over one ``dim``, PyTorch's ``(values, indices)``."""
        values = _red.Min.apply(self, dim=dim, keepdim=keepdim)
        return values if dim is None or isinstance(dim, tuple) else _with_indices("min", values, self, dim, keepdim)

    def var(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        """Variance over ``dim``, dividing by N - 1 (unbiased) or N - correction, PyTorch's argument order."""
        if isinstance(dim, bool):                     # x.var(False): PyTorch's var(unbiased)
            unbiased, dim = dim, None
        correction = (1 if unbiased else 0) if correction is None else correction
        return _red.Var.apply(self, dim=dim, keepdim=keepdim, correction=correction)

    def argmax(self, dim=None):
        return Tensor._from_array(self.array.argmax(axis=dim))

    # ---- shapes ---------------------------------------------------------------------------------
    def reshape(self, *shape):
        shape = shape_arg(shape)
        if shape == self.shape:
            return self
        out = _shape.Reshape.apply(self, shape=shape)
        if out._ctx is None and self.name is not None:
            out.name = self.name                      # a view of a named input keeps its name (graph viewers)
        return out

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge axes start_dim..end_dim into one: (N, C, H, W).flatten(1) -> (N, C*H*W)."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.ndim, end_dim % self.ndim
        merged = math.prod(self.shape[start:end + 1])
        return self.reshape(self.shape[:start] + (merged,) + self.shape[end + 1:])

    def permute(self, *axes):
        return _shape.Permute.apply(self, axes=shape_arg(axes))

    def transpose(self, dim0, dim1):
        """Swap two axes, as torch.transpose."""
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return _shape.Permute.apply(self, axes=tuple(axes))

    @property
    def T(self):
        """All axes reversed: (m, n) -> (n, m)."""
        return _shape.Permute.apply(self, axes=tuple(reversed(range(self.ndim))))

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        if self.ndim == 0:
            return self
        dim = dim % self.ndim
        if self.shape[dim] != 1:
            return self
        return self.reshape(self.shape[:dim] + self.shape[dim + 1:])

    def unsqueeze(self, dim):
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def expand(self, *shape):
        shape = shape_arg(shape)
        shape = tuple(self.shape[i - (len(shape) - self.ndim)] if n == -1 else n for i, n in enumerate(shape))
        return _shape.BroadcastTo.apply(self, shape=shape)

    def broadcast_to(self, shape):
        return _shape.BroadcastTo.apply(self, shape=tuple(shape))

    # ---- PyTorch compatibility: legacy types, devices, conversions and the methods PyTorch code calls ----
    # PyTorch's legacy type name of each dtype: x.type() -> 'torch.FloatTensor'; tinygan.FloatTensor & co use it
    LEGACY_TYPE_NAMES = {np.dtype(np.float32): "FloatTensor", np.dtype(np.float64): "DoubleTensor",
                         np.dtype(np.float16): "HalfTensor", np.dtype(np.int64): "LongTensor",
                         np.dtype(np.int32): "IntTensor", np.dtype(np.int16): "ShortTensor",
                         np.dtype(np.int8): "CharTensor", np.dtype(np.uint8): "ByteTensor",
                         np.dtype(np.bool_): "BoolTensor"}

    @property
    def is_cuda(self):
        """True when the values live on the GPU, as torch's ``is_cuda``."""
        return array_backend.device_of(self.array) == "gpu"

    @property
    def is_xpu(self):
        """False: tinygan has no Intel XPU device (torch's ``is_xpu``; pytorch/examples' dcgan asks it)."""
        return False

    @property
    def is_mps(self):
        """False: tinygan has no Apple MPS device (torch's ``is_mps``)."""
        return False

    def get_device(self):
        """The GPU's index for a GPU tensor, -1 for a CPU one, as torch's ``get_device``."""
        return 0 if self.is_cuda else -1

    def type(self, dtype=None, non_blocking=False):
        """No argument: PyTorch's type name ('torch.FloatTensor', 'torch.cuda.LongTensor'). Given a dtype, a type
        name or a legacy type (tinygan.LongTensor, tinygan.cuda.FloatTensor): this tensor converted to it."""
        if dtype is None:
            name = Tensor.LEGACY_TYPE_NAMES.get(self.dtype)
            if name is None:
                raise TypeError(f"type: dtype {self.dtype} has no PyTorch tensor type name")
            return f"torch.{'cuda.' if self.is_cuda else ''}{name}"
        name = getattr(dtype, "type_name", dtype)   # a legacy type carries its name: 'torch.cuda.FloatTensor'
        if not isinstance(name, str):
            return self.to(dtype=dtype)
        prefix, _, kind = name.rpartition(".")
        dtypes = {type_name: dt for dt, type_name in Tensor.LEGACY_TYPE_NAMES.items()}
        if kind not in dtypes or prefix not in ("torch", "torch.cuda", "tinygan", "tinygan.cuda"):
            raise ValueError(f"invalid type: {name!r} (expected a type name such as 'torch.FloatTensor' or "
                             f"'torch.cuda.LongTensor')")
        return self.to("gpu" if prefix.endswith("cuda") else "cpu", dtypes[kind])

    def type_as(self, other):
        """This tensor in ``other``'s dtype and on its device, as torch's ``type_as``."""
        return self.type(other.type())

    def long(self):
        """This tensor as int64, as torch's ``long`` (integer tensors carry no gradient)."""
        return self.to(dtype=np.int64)

    def int(self):
        """This tensor as int32, as torch's ``int``."""
        return self.to(dtype=np.int32)

    def short(self):
        """This tensor as int16, as torch's ``short``."""
        return self.to(dtype=np.int16)

    def byte(self):
        """This tensor as uint8, as torch's ``byte``."""
        return self.to(dtype=np.uint8)

    def bool(self):
        """This tensor as booleans (nonzero -> True), as torch's ``bool``."""
        return self.to(dtype=np.bool_)

    def half(self):
        """This tensor as float16, as torch's ``half`` (differentiable)."""
        return self.to(dtype=np.float16)

    def is_floating_point(self):
        """True for a floating-point dtype, as torch's ``is_floating_point``."""
        return self.dtype.kind == "f"

    def element_size(self):
        """Bytes per element, as torch's ``element_size``."""
        return self.dtype.itemsize

    def nelement(self):
        """The number of elements, as torch's ``nelement`` (``numel``)."""
        return self.numel()

    def ndimension(self):
        """The number of dimensions, as torch's ``ndimension`` (``dim``)."""
        return self.ndim

    def contiguous(self, memory_format=None):
        """This tensor (torch's ``contiguous``): tinygan's ops take any memory layout, so nothing needs copying."""
        return self

    def is_contiguous(self, memory_format=None):
        """True when the values are stored in C order, as torch's ``is_contiguous``."""
        return bool(self.array.flags.c_contiguous)

    def __float__(self):
        return float(self._single_value())

    def __int__(self):
        return int(self._single_value())

    def __index__(self):
        if self.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._single_value())

    def _single_value(self):
        if self.array.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.array.reshape(()).item()

    def __setitem__(self, index, value):
        """x[index] = value in place, as PyTorch: under no_grad, or when neither x nor value needs a gradient.

        A leaf that requires grad refuses (PyTorch's error); assigning into a recorded result, or assigning a
        value that requires grad, is not supported yet (NotImplementedError: build the result with
        ``tinygan.where`` or ``tinygan.cat`` instead).
        """
        if _grad_enabled and (self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)):
            if self.requires_grad and self._ctx is None:
                raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place "
                                   "operation.")
            raise NotImplementedError(
                "x[index] = value with gradients recorded (x computed from tensors that require grad, or a value "
                "that requires grad) is not supported in tinygan yet: build the result out of place with "
                "tinygan.where(mask, value, x) or tinygan.cat, or assign under tinygan.no_grad()")
        if isinstance(value, Tensor):
            value = value.array
            if array_backend.device_of(value) != array_backend.device_of(self.array):
                value = array_backend.to_device(value, array_backend.device_of(self.array))
        self.array[_raw_index(index)] = value
        self._version += 1                            # backward refuses a graph that saved the old values

    # -- new tensors like this one --
    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        """Zeros in this tensor's dtype and on its device (unless given), as torch's ``new_zeros``."""
        return self._new_full(shape_arg(size), 0, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        """Ones in this tensor's dtype and on its device (unless given), as torch's ``new_ones``."""
        return self._new_full(shape_arg(size), 1, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        """torch's ``new_empty``; filled with zeros where PyTorch leaves the memory uninitialised."""
        return self._new_full(shape_arg(size), 0, dtype, device, requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        """``fill_value`` everywhere, in this tensor's dtype and on its device (unless given): torch's ``new_full``."""
        return self._new_full(shape_arg((size,)), fill_value, dtype, device, requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """A copy of ``data`` in this tensor's dtype and on its device (unless given), as torch's ``new_tensor``."""
        source = data.array if isinstance(data, Tensor) else data
        out = Tensor(source, dtype=self.dtype if dtype is None else dtype,
                     device=self.device if device is None else device)
        if out.array is source:                       # no conversion happened: copy, so the tensor owns its memory
            out.array = out.array.copy()
        return out.requires_grad_(True) if requires_grad else out

    def _new_full(self, shape, value, dtype, device, requires_grad):
        xp = array_backend.xp_for(self.device if device is None else device)
        out = Tensor._from_array(xp.full(shape, value, dtype=self.dtype if dtype is None else dtype))
        return out.requires_grad_(True) if requires_grad else out

    # -- arithmetic by name, as torch's methods --
    def add(self, other, alpha=1):
        """self + alpha * other, as torch's ``add``."""
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other, alpha=1):
        """self - alpha * other, as torch's ``sub``."""
        return self - (other if alpha == 1 else other * alpha)

    def mul(self, other):
        """self * other, as torch's ``mul``."""
        return self * other

    def div(self, other, rounding_mode=None):
        """self / other, as torch's ``div`` (true division; rounding_mode is not supported)."""
        if rounding_mode is not None:
            raise NotImplementedError(f"div: rounding_mode={rounding_mode!r} is not supported in tinygan; "
                                      f"divide and round the values yourself")
        return self / other

    multiply, divide, true_divide, subtract = mul, div, div, sub

    def pow(self, exponent):
        """self ** exponent, as torch's ``pow``."""
        return self ** exponent

    def neg(self):
        """-self, as torch's ``neg``."""
        return -self

    def square(self):
        """self * self, as torch's ``square``."""
        return self * self

    def matmul(self, other):
        """self @ other, as torch's ``matmul``."""
        return self @ other

    def mm(self, other):
        """The product of two 2-D matrices, as torch's ``mm``."""
        if self.ndim != 2 or getattr(other, "ndim", 0) != 2:
            raise ValueError(f"mm: both operands must be 2-D matrices, got shapes {tuple(self.shape)} and "
                             f"{tuple(getattr(other, 'shape', ()))}")
        return self @ other

    def bmm(self, other):
        """Batched matrix product of (b, n, m) and (b, m, p), as torch's ``bmm``."""
        if self.ndim != 3 or getattr(other, "ndim", 0) != 3 or self.shape[0] != other.shape[0]:
            raise ValueError(f"bmm: expects (b, n, m) and (b, m, p) with the same b, got shapes "
                             f"{tuple(self.shape)} and {tuple(getattr(other, 'shape', ()))}")
        return self @ other

    # -- comparisons and reductions by name --
    lt, le, gt, ge = __lt__, __le__, __gt__, __ge__

    def amax(self, dim=(), keepdim=False):
        """The maximum over ``dim`` (all axes by default), as torch's ``amax``; differentiable."""
        return _red.Max.apply(self, dim=None if dim == () else dim, keepdim=keepdim)

    def amin(self, dim=(), keepdim=False):
        """The minimum over ``dim`` (all axes by default), as torch's ``amin``; differentiable."""
        return _red.Min.apply(self, dim=None if dim == () else dim, keepdim=keepdim)

    def argmin(self, dim=None):
        """Indices of the minima (of the flattened tensor when dim is None), as torch's ``argmin``."""
        return Tensor._from_array(array_backend.get_array_module(self.array).asarray(self.array.argmin(axis=dim)))

    def all(self, dim=None, keepdim=False):
        """True where every element over ``dim`` is nonzero, as torch's ``all``."""
        return Tensor._from_array(array_backend.get_array_module(self.array).asarray(
            self.array.all(axis=dim, keepdims=keepdim)))

    def any(self, dim=None, keepdim=False):
        """True where some element over ``dim`` is nonzero, as torch's ``any``."""
        return Tensor._from_array(array_backend.get_array_module(self.array).asarray(
            self.array.any(axis=dim, keepdims=keepdim)))

    def std(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        """sqrt(var) over ``dim``, dividing by N - 1 unless unbiased=False (or by N - correction), as torch's
        ``std``; differentiable."""
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def norm(self, p="fro", dim=None, keepdim=False):
        """The p-norm over ``dim`` (all elements by default), as torch's ``norm``: p=2 or "fro" sqrt(sum x^2), p=1
        sum |x|, p=inf max |x|, p=-inf min |x|, other p > 0 (sum |x|^p)^(1/p). Differentiable; the 2-norm of
        zeros has gradient 0, as in PyTorch."""
        if p in ("fro", 2):
            squares = (self * self).sum(dim=dim, keepdim=keepdim)
            zero = squares.array == 0                 # sqrt's gradient there is inf: take PyTorch's 0 instead
            return _shape.Where.apply(zero, 0.0, _shape.Where.apply(zero, 1.0, squares).sqrt())
        if p == 1:
            return self.abs().sum(dim=dim, keepdim=keepdim)
        if p == math.inf:
            return self.abs().amax(dim=() if dim is None else dim, keepdim=keepdim)
        if p == -math.inf:
            return self.abs().amin(dim=() if dim is None else dim, keepdim=keepdim)
        if isinstance(p, (int, float)) and not isinstance(p, bool) and p > 0:
            return (self.abs() ** p).sum(dim=dim, keepdim=keepdim) ** (1 / p)
        raise ValueError(f"norm: p={p!r} is not supported (expected 'fro', 1, 2, inf, -inf or a number > 0)")

    # -- shapes --
    def repeat(self, *sizes):
        """Tile this tensor, sizes[i] copies along axis i (leading sizes add axes), as torch's ``repeat``."""
        sizes = shape_arg(sizes)
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: give at least one size per dimension ({self.ndim}), got {sizes}")
        shape = (1,) * (len(sizes) - self.ndim) + tuple(self.shape)
        x = self.reshape(tuple(v for n in shape for v in (1, n)))                  # (a, b) -> (1, a, 1, b)
        x = x.expand(tuple(v for r, n in zip(sizes, shape) for v in (r, n)))      # -> (r0, a, r1, b)
        return x.reshape(tuple(r * n for r, n in zip(sizes, shape)))              # -> (r0 * a, r1 * b)

    def expand_as(self, other):
        """This tensor broadcast to ``other``'s shape, as torch's ``expand_as``."""
        return self.expand(other.shape)

    def view_as(self, other):
        """This tensor in ``other``'s shape, as torch's ``view_as``."""
        return self.reshape(other.shape)

    reshape_as = view_as

    def split(self, split_size_or_sections, dim=0):
        """Pieces along ``dim``: each ``split_size`` long (the last may be shorter), or the given list of sizes,
        as torch's ``split``; a tuple of differentiable slices."""
        dim = self._dim_index(dim, self.ndim, "split")
        n = self.shape[dim]
        if isinstance(split_size_or_sections, (list, tuple)):
            sections = [int(s) for s in split_size_or_sections]
            if sum(sections) != n or any(s < 0 for s in sections):
                raise ValueError(f"split: split sizes {sections} must be non-negative and add up to {n}, the size "
                                 f"of dimension {dim}")
        else:
            size = int(split_size_or_sections)
            if size <= 0:
                raise ValueError(f"split: split_size must be positive, got {size}")
            sections = [min(size, n - start) for start in range(0, n, size)] or [0]
        pieces, start = [], 0
        lead = (slice(None),) * dim
        for s in sections:
            pieces.append(self[lead + (slice(start, start + s),)])
            start += s
        return tuple(pieces)

    def chunk(self, chunks, dim=0):
        """At most ``chunks`` pieces of equal size ceil(n / chunks) along ``dim`` (the last may be smaller), as
        torch's ``chunk``."""
        if int(chunks) <= 0:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        n = self.shape[self._dim_index(dim, self.ndim, "chunk")]
        return self.split(max(-(-n // int(chunks)), 1), dim)

    def unbind(self, dim=0):
        """The slices along ``dim``, that axis removed, as torch's ``unbind``."""
        dim = self._dim_index(dim, self.ndim, "unbind")
        return tuple(self[(slice(None),) * dim + (i,)] for i in range(self.shape[dim]))

    @staticmethod
    def _dim_index(dim, ndim, name):
        if not -ndim <= dim < max(ndim, 1):
            raise IndexError(f"{name}: dimension {dim} is out of range for a tensor with {ndim} dimensions")
        return dim % max(ndim, 1)

    def flip(self, *dims):
        """This tensor with the order of elements along ``dims`` reversed, as torch's ``flip``."""
        dims = {self._dim_index(d, self.ndim, "flip") for d in shape_arg(dims)}
        return self[tuple(slice(None, None, -1) if i in dims else slice(None) for i in range(self.ndim))]

    # -- picking and copying --
    def where(self, condition, other):
        """This tensor where ``condition``, ``other`` elsewhere: tinygan.where(condition, self, other)."""
        return _shape.Where.apply(condition, self, other)

    def masked_fill(self, mask, value):
        """``value`` where ``mask`` is True, this tensor elsewhere, as torch's ``masked_fill`` (out of place)."""
        return _shape.Where.apply(mask, value, self)

    def clone(self, memory_format=None):
        """A copy that owns its memory and stays in the graph (gradients flow through), as torch's ``clone``."""
        return _shape.Clone.apply(self)

    # ---- backward -------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Compute d(self)/d(leaf) for every leaf that requires grad, adding it into ``leaf.grad``.

        ``create_graph=True`` records the backward itself, so the gradients in ``.grad`` can be differentiated
        again (a gradient penalty); ``retain_graph`` then defaults to True, as in PyTorch.
        """
        if retain_graph is None:
            retain_graph = create_graph
        run_backward(self, root_gradient(self, gradient, create_graph), retain_graph, create_graph=create_graph)

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (summed over backward calls, as a
        leaf's). Leaves keep theirs anyway: for them this does nothing."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._ctx is not None:
            self._hook_list().retains_grad = True

    @property
    def retains_grad(self):
        """True for a non-leaf tensor on which ``retain_grad()`` was called (False for leaves, as in PyTorch)."""
        return self._ctx is not None and self._hooks is not None and self._hooks.retains_grad

    def register_hook(self, hook):
        """Call ``hook(grad)`` during backward once the gradient with respect to this tensor is complete.

        ``hook`` gets the gradient as a Tensor and returns None (just looking) or a Tensor of the same shape
        that replaces the gradient: what flows on to the inputs, and what a leaf adds into ``.grad``. Hooks
        run in the order they were registered. Returns a handle; ``handle.remove()`` unregisters the hook.
        """
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        hooks = self._hook_list()
        key, hooks.next_key = hooks.next_key, hooks.next_key + 1
        hooks.fns[key] = hook
        return RemovableHandle(hooks, key)

    def _hook_list(self):
        if self._hooks is None:
            self._hooks = _Hooks()
        return self._hooks


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
        return Tensor._from_array(gy) if recorded else gy
    gy = gradient.array if isinstance(gradient, Tensor) else xp.asarray(gradient, dtype=tensor.dtype)
    if gy.shape != tensor.shape:
        raise ValueError(f"backward: gradient shape {tuple(gy.shape)} does not match tensor shape "
                         f"{tuple(tensor.shape)}")
    if recorded:
        return gradient if isinstance(gradient, Tensor) else Tensor._from_array(gy)
    return gy


def _scalar(value, op):
    """A Python number for a scalar operand (NumPy scalars too), so it never upcasts float32."""
    if isinstance(value, np.generic) or (hasattr(value, "ndim") and value.ndim == 0):
        return value.item()                      # before the float check: np.float64 is a float subclass
    if isinstance(value, (int, float, bool)):
        return value
    raise TypeError(f"{op}: unsupported operand of type {type(value).__name__}; use a tensor or a number")


def _is_operand_array(value):
    """True for a Tensor or an array with axes (a NumPy/CuPy array): those go through the broadcasting ops."""
    return isinstance(value, Tensor) or (hasattr(value, "ndim") and hasattr(value, "dtype") and value.ndim > 0)


def _as_tensor(value, like):
    """Wrap an array operand as a constant tensor on ``like``'s device (in ``like``'s float dtype: no upcast)."""
    if isinstance(value, Tensor):
        return value
    dtype = like.dtype if like.dtype.kind == "f" else None
    return Tensor(value, dtype=dtype, device=like.device)


MaxResult = collections.namedtuple("max", ["values", "indices"])      # torch.return_types.max
MinResult = collections.namedtuple("min", ["values", "indices"])


def _with_indices(kind, values, x, dim, keepdim):
    """PyTorch's (values, indices) of a max or min over one dim; the indices carry no gradient."""
    xp = array_backend.get_array_module(x.array)
    if x.ndim == 0:                              # a 0-d tensor: dim 0 or -1 means "no axis", index 0
        return (MaxResult if kind == "max" else MinResult)(values, Tensor._from_array(xp.zeros((), dtype=np.int64)))
    indices = getattr(x.array, "argmax" if kind == "max" else "argmin")(axis=dim)
    if keepdim:
        indices = array_backend.get_array_module(indices).expand_dims(indices, dim)
    return (MaxResult if kind == "max" else MinResult)(values, Tensor._from_array(indices))


def _in_place_operand(value, like):
    """A number as it is, a tensor as its array: the right-hand side of an in-place op on ``like``."""
    if isinstance(value, Tensor):
        if _grad_enabled and value.requires_grad:
            raise NotImplementedError("in-place op with an operand that requires grad: tinygan records no graph "
                                      "for in-place ops; use the out-of-place form (x = x + y)")
        if value.device != like.device:
            raise RuntimeError(f"in-place op: the operand is on {value.device} but the tensor is on {like.device}")
        return value.array
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", None) == 0 else value


def constant(array):
    """An array as a tensor outside the graph (a mask in a ``backward_graph`` formula)."""
    return Tensor._from_array(array)


def array_of(value):
    """The array inside a tensor; anything else (an array, a number, None) as it is."""
    return value.array if isinstance(value, Tensor) else value


def _raw_index(index):
    """Unwrap tensors used as indices (x[idx_tensor]) into arrays."""
    if isinstance(index, tuple):
        return tuple(array_of(i) for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return array_of(index)


def shape_arg(shape):
    """Accept both f(2, 3) and f((2, 3)) as PyTorch does."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(n) for n in shape)


# The Functions the methods above call; imported last because they import Function and Tensor from here.
from tinygan.ops import arithmetic as _arith  # noqa: E402
from tinygan.ops import elementwise as _elem  # noqa: E402
from tinygan.ops import reduction as _red  # noqa: E402
from tinygan.ops import shape as _shape  # noqa: E402

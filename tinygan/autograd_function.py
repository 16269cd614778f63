"""PyTorch's custom ``autograd.Function``: forward and backward written on Tensors, with a ``ctx`` between them.

    class MyReLU(tinygan.autograd.Function):
        @staticmethod
        def forward(ctx, x):                   # runs with recording off, on Tensors
            ctx.save_for_backward(x)
            return x.clamp(min=0)
        @staticmethod
        def backward(ctx, gy):                 # one gradient per forward argument (None for non-Tensors)
            x, = ctx.saved_tensors
            return gy * (x > 0)
    y = MyReLU.apply(x)

tinygan's own ops subclass the same class with ``forward(self, *arrays)`` / ``backward(self, gy)`` on arrays
(see tinygan/core/function.py): ``apply`` tells the two apart by ``forward`` being a staticmethod (PyTorch's
form, or ``forward(*args)`` with a ``setup_context(ctx, inputs, output)``) and hands tinygan's form to the core.

In the graph, a PyTorch-style Function is one ``BackwardCFunction`` node (``y.grad_fn``, a core Function whose
inputs are the Tensor arguments) holding the ``ctx``. Its plain backward wraps the gradient arrays as Tensors
and calls the user's backward with recording off; under ``create_graph=True`` the same backward runs with
recording on, so a backward written with differentiable ops can be differentiated again. A forward returning
several differentiable Tensors gets one ``OutputOf`` node per output between them and the node (the core's
graph has one creator per tensor): the gradients of all outputs reach the node as one flat vector.
"""
import weakref

import numpy as np

from tinygan.core import Function as CoreFunction
from tinygan.core import Tensor, array_backend, is_grad_enabled, no_grad
from tinygan.ops.on_both import sum_to
from tinygan.ops.shape import IndexAdd

__all__ = ["BackwardCFunction", "Function", "FunctionCtx", "once_differentiable"]


# ==================================================================================================
# ctx: what forward hands to backward
# ==================================================================================================
class FunctionCtx:
    """The ``ctx`` of a custom Function: ``save_for_backward`` / ``saved_tensors``, ``needs_input_grad``,
    ``mark_non_differentiable``, ``set_materialize_grads``, and any attribute forward sets (``ctx.k = 3``)."""

    def __init__(self, name, needs_input_grad):
        self._name = name
        self.needs_input_grad = needs_input_grad     # one bool per forward argument, as PyTorch's
        self.materialize_grads = True
        self._to_save, self._saved, self._non_differentiable, self._dirty = (), None, (), ()
        self._node = None                            # the graph node, while its backward runs

    def save_for_backward(self, *tensors):
        """Keep Tensors (or None) for backward; changing one in place before backward makes backward raise."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"{self._name}: save_for_backward can only save Tensors or None, "
                                f"got {type(t).__name__} (keep other values as ctx attributes)")
        self._to_save = tensors

    def mark_non_differentiable(self, *tensors):
        """Outputs that get no gradient (indices, masks): they come back with requires_grad=False."""
        self._non_differentiable = tensors

    def mark_dirty(self, *tensors):
        """Inputs that forward changed in place: not supported in tinygan (raises after forward)."""
        self._dirty = tensors

    def set_materialize_grads(self, value):
        """False: backward gets None (not zeros) for outputs that received no gradient."""
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self):
        """What ``save_for_backward`` kept, checked against in-place changes since the forward (PyTorch's error)."""
        if self._saved is None:
            raise RuntimeError(f"{self._name}: saved_tensors is available in backward only")
        return tuple(None if entry is None else entry.unpack(self) for entry in self._saved)

    def _keep_saved(self, args, outputs):
        """After forward: record each saved Tensor (an input, an output, or another tensor) with its version."""
        output_index = {id(t): i for i, t in enumerate(outputs) if isinstance(t, Tensor)}
        input_ids = {id(a) for a in args if isinstance(a, Tensor)}
        saved = []
        for t in self._to_save:
            if t is None:
                saved.append(None)
            elif id(t) in output_index and id(t) not in input_ids:
                saved.append(SavedOutput(t, output_index[id(t)]))
            else:
                saved.append(SavedTensor(t))
        self._saved, self._to_save = saved, ()


class SavedTensor:
    """An input or an intermediate that forward saved, and its version then."""

    def __init__(self, tensor):
        self.tensor, self.version = tensor, tensor._version

    def unpack(self, ctx):
        check_version(ctx, self.tensor, self.version)
        return self.tensor


class SavedOutput:
    """An output that forward saved: its array, and a weak reference to the graph's output tensor (whose
    version is checked). Holding the tensor itself would make a cycle: node -> ctx -> output -> node. A recorded
    backward gets the output computed again from the inputs, as the core's ``saved_output`` does."""

    def __init__(self, tensor, index):
        self.array, self.index, self.output, self.version = tensor.array, index, None, tensor._version

    def unpack(self, ctx):
        output = self.output() if self.output is not None else None
        if output is not None:
            check_version(ctx, output, self.version)
        node = ctx._node
        if node is None or not is_grad_enabled():
            return Tensor.from_array(self.array)
        return node.output_again(self.index)        # recorded backward: the output, in a graph of its own


def check_version(ctx, tensor, version):
    if tensor._version != version:
        raise RuntimeError(
            f"one of the variables needed for gradient computation has been modified by an inplace operation: "
            f"[{tensor.dtype} {list(tensor.shape)}], saved by {ctx._name}.forward, is at version "
            f"{tensor._version}; expected version {version} instead (change it after backward, or save a clone)")


# ==================================================================================================
# Function: tinygan's op form and PyTorch's ctx form under one name
# ==================================================================================================
class Function(CoreFunction):
    """Base class of custom Functions, in PyTorch's form (static ``forward(ctx, ...)`` and ``backward(ctx,
    *grads)`` on Tensors, ``apply`` to call) or tinygan's (``forward(self, *arrays)`` / ``backward(self, gy)``
    on arrays, see tinygan/core/function.py)."""
    _ctx_form = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        forward = _static_lookup(cls, "forward")
        cls._uses_setup_context = _static_lookup(cls, "setup_context") is not None
        cls._ctx_form = isinstance(forward, staticmethod) or cls._uses_setup_context
        if cls._ctx_form:                            # the graph node's class: named as the Function
            cls._backward_cls = type(cls.__name__, (BackwardCFunction,),
                                     {"_forward_cls": cls, "__module__": cls.__module__,
                                      "__qualname__": cls.__qualname__ + ".Backward"})
            cls._backward_cls._output_cls = type(cls.__name__, (OutputOf,), {"__module__": cls.__module__,
                                                 "__qualname__": cls.__qualname__ + ".OutputOf"})

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run the Function: tinygan's form goes to the core's ``apply``; PyTorch's form runs ``forward(ctx,
        *args)`` with recording off and, when an input requires grad, records one graph node for the outputs."""
        if not cls._ctx_form:
            return super().apply(*args, **kwargs)
        if kwargs:
            raise TypeError(f"{cls.__name__}.apply takes positional arguments only, got {sorted(kwargs)}")
        return _apply_ctx_form(cls, args)

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    def __call__(self, *args):
        raise RuntimeError(f"{type(self).__name__}: call a custom Function as {type(self).__name__}.apply(...) with "
                           f"a static forward (the legacy form, an instance called on tensors, is not supported)")


def _static_lookup(cls, name):
    """``name`` as defined on ``cls`` or a base below tinygan's Function (not the base's own), else None."""
    for klass in cls.__mro__:
        if klass is Function or klass is CoreFunction:
            return None
        if name in vars(klass):
            return vars(klass)[name]
    return None


def _apply_ctx_form(cls, args):
    tensor_args = [a for a in args if isinstance(a, Tensor)]
    record = is_grad_enabled() and any(t.requires_grad for t in tensor_args)
    ctx = FunctionCtx(cls.__name__, tuple(record and isinstance(a, Tensor) and a.requires_grad for a in args))
    with no_grad():
        if cls._uses_setup_context:
            output = cls.forward(*args)
            cls.setup_context(ctx, args, output)
        else:
            output = cls.forward(ctx, *args)
    outputs = output if isinstance(output, (tuple, list)) else (output,)
    if ctx._dirty:
        raise NotImplementedError(f"{cls.__name__}: ctx.mark_dirty (a forward that changes its inputs in place) "
                                  f"is not supported in tinygan; return a new tensor instead")
    ctx._keep_saved(args, outputs)
    if record:
        outputs = cls._backward_cls(ctx, args, tensor_args).wrap_outputs(outputs, args)
    else:
        outputs = [_unalias(o, args) for o in outputs]
    return tuple(outputs) if isinstance(output, (tuple, list)) else outputs[0]


def _unalias(output, args):
    """An input returned as it is comes back as a new tensor on the same memory (PyTorch returns a view)."""
    if isinstance(output, Tensor) and any(output is a for a in args):
        return Tensor.from_array(output.array)
    return output


def once_differentiable(backward):
    """Decorator for a custom Function's backward that is not itself differentiable (written with NumPy, say):
    a second derivative through it raises instead of being silently wrong."""
    def wrapper(ctx, *grads):
        with no_grad():
            return backward(ctx, *grads)
    wrapper.__name__, wrapper.__doc__, wrapper.once_differentiable = backward.__name__, backward.__doc__, True
    return wrapper


# ==================================================================================================
# The graph node of a PyTorch-style Function
# ==================================================================================================
class BackwardCFunction(CoreFunction):
    """``y.grad_fn`` of a PyTorch-style Function: its inputs are the Tensor arguments; backward calls the
    user's backward with the ctx (recorded under create_graph). ``name()`` reads like PyTorch's: MyReLUBackward."""
    saves_inputs = False                          # ctx.saved_tensors checks the versions of what was saved
    _forward_cls = _output_cls = None

    def __init__(self, ctx, args, tensor_args):
        self.ctx, self.inputs, self.args = ctx, tuple(tensor_args), args
        self.needs_input_grad = tuple(t.requires_grad for t in tensor_args)
        self.input_versions = tuple(t._version for t in tensor_args)
        self.tensor_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.n_args = len(args)
        self.received = set()                        # outputs whose OutputOf node passed on a gradient

    def name(self):
        return f"{self._forward_cls.__name__}Backward"

    @property
    def saved_tensors(self):                       # PyTorch's grad_fn is the ctx: y.grad_fn.saved_tensors
        return self.ctx.saved_tensors

    # ---- forward: the outputs, attached to this node ------------------------------------------
    def wrap_outputs(self, outputs, args):
        """The outputs to return: each differentiable one a new tensor made by this node, the others as they are."""
        non_differentiable = {id(t) for t in self.ctx._non_differentiable}
        self.output_like = [(o.shape, o.dtype) if isinstance(o, Tensor) else None for o in outputs]
        self.differentiable = [i for i, o in enumerate(outputs) if isinstance(o, Tensor) and
                               id(o) not in non_differentiable and o.dtype.kind in "fc"]
        self.single = self.differentiable[0] if len(self.differentiable) == 1 else None
        start, self.flat_start = 0, {}
        for i in self.differentiable:             # several: their gradients meet in one flat vector
            self.flat_start[i], start = start, start + outputs[i].array.size
        self.flat_size = start
        if self.differentiable:
            self.flat_dtype = np.result_type(*[outputs[i].dtype for i in self.differentiable])
        wrapped = [_unalias(o, args) for o in outputs]
        if self.single is not None:
            wrapped[self.single] = Tensor.from_array(outputs[self.single].array, requires_grad=True, ctx=self)
        elif self.differentiable:                 # one flat tensor made by this node, each output cut from it
            xp = array_backend.get_array_module(outputs[self.differentiable[0]].array)
            flat = xp.broadcast_to(xp.zeros((), dtype=self.flat_dtype), (self.flat_size,))   # no memory: a stand-in
            flat = Tensor.from_array(flat, requires_grad=True, ctx=self)
            for i in self.differentiable:
                wrapped[i] = self._output_cls.apply(flat, y=outputs[i].array, index=i, start=self.flat_start[i])
        for entry in self.ctx._saved:            # saved outputs: watch the graph's tensor for in-place changes
            if isinstance(entry, SavedOutput) and entry.index in self.flat_start:
                entry.output = weakref.ref(wrapped[entry.index])
        return wrapped

    def output_again(self, i):
        """Output i computed again from the inputs, with recording on (a saved output in a recorded backward)."""
        outputs = self._forward_cls.apply(*self.args)
        return outputs[i] if isinstance(outputs, tuple) else outputs

    # ---- backward -------------------------------------------------------------------------------
    def backward(self, gy):
        """Plain backward: the gradient arrays as Tensors into the user's backward; arrays back."""
        grads = self.user_backward(Tensor.from_array(gy))
        return tuple(None if g is None else g.array for g in grads)

    def backward_graph(self, gy):
        """create_graph=True: the user's backward with recording on (a @once_differentiable one: first
        derivative only, see the core's ``backward_graph``)."""
        if getattr(self._forward_cls.backward, "once_differentiable", False):
            return super().backward_graph(gy)
        return self.user_backward(gy)

    def user_backward(self, gy):
        ctx = self.ctx
        ctx.needs_input_grad = self.needs_per_argument()
        ctx._node = self
        try:
            grads = self._forward_cls.backward(ctx, *self.output_grads(gy))
        finally:
            ctx._node = None
            self.received = set()
        return self.checked(grads if isinstance(grads, tuple) else (grads,))

    def needs_per_argument(self):
        needs = [False] * self.n_args
        for position, need in zip(self.tensor_positions, self.needs_input_grad):
            needs[position] = need
        return tuple(needs)

    def output_grads(self, gy):
        """One gradient per forward output: ``gy`` itself for a single differentiable output, else cut from the
        flat gradient; zeros (or None, when the ctx does not materialize them) for outputs that got none."""
        grads = [None] * len(self.output_like)
        if self.single is not None:
            grads[self.single] = gy
        for i in self.differentiable if self.single is None else ():
            if i in self.received:
                shape, dtype = self.output_like[i]
                start = self.flat_start[i]
                g = gy[start:start + int(np.prod(shape))].reshape(shape)      # (flat,) -> output i's shape
                grads[i] = g if g.dtype == dtype else g.to(dtype)
        if self.ctx.materialize_grads:
            xp = array_backend.get_array_module(gy.array)
            grads = [Tensor.from_array(xp.zeros(like[0], dtype=like[1])) if g is None and like is not None else g
                     for g, like in zip(grads, self.output_like)]
        return grads

    def checked(self, grads):
        """The user's gradients, one per forward argument, as gradients of the Tensor inputs (PyTorch's checks)."""
        name = self.name()
        if len(grads) > self.n_args and all(g is None for g in grads[self.n_args:]):
            grads = grads[:self.n_args]
        if len(grads) != self.n_args:
            raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                               f"(expected {self.n_args}, got {len(grads)})")
        positions = set(self.tensor_positions)
        for i, g in enumerate(grads):
            if g is not None and i not in positions:
                raise RuntimeError(f"function {name} returned a gradient different than None at position {i + 1}, "
                                   f"but the corresponding forward input was not a Tensor")
        return tuple(self.fit(name, i, grads[p], t) for i, (p, t) in enumerate(zip(self.tensor_positions,
                                                                                    self.inputs)))

    def fit(self, name, i, g, x):
        """Gradient ``g`` for input ``x``: summed to x's shape where it broadcasts to it, in x's dtype."""
        if g is None:
            return None
        if not isinstance(g, Tensor):
            raise TypeError(f"function {name} returned a {type(g).__name__} as a gradient: expected a Tensor or None")
        if g.shape != x.shape:
            if np.broadcast_shapes(g.shape, x.shape) != g.shape:
                raise RuntimeError(f"function {name} returned an invalid gradient at index {i} - got "
                                   f"{list(g.shape)} but expected shape compatible with {list(x.shape)}")
            g = sum_to(g, x.shape)
        return g if g.dtype == x.dtype else g.to(x.dtype)

    def __repr__(self):
        return f"<{self.name()}>"


class OutputOf(CoreFunction):
    """Output ``index`` of a multi-output custom Function, cut from its node's flat output;
    gflat = zeros with gy (flattened) at this output's place"""
    backward_on_tensors = True
    saves_inputs = False

    def __init__(self, y, index, start):
        self.y, self.index, self.start = y, index, start

    def forward(self, flat):
        self.flat_size, self.flat_dtype = flat.shape[0], flat.dtype
        return self.y

    def backward(self, gy):
        node = self.inputs[0].grad_fn
        if isinstance(node, BackwardCFunction):
            node.received.add(self.index)
        stop = self.start + int(np.prod(gy.shape))
        if isinstance(gy, Tensor):
            gy = gy if gy.dtype == self.flat_dtype else gy.to(self.flat_dtype)
            return IndexAdd.apply(gy.reshape(-1), index=slice(self.start, stop), shape=(self.flat_size,))
        g = array_backend.get_array_module(gy).zeros(self.flat_size, dtype=self.flat_dtype)
        g[self.start:stop] = gy.reshape(-1)                                   # output's shape -> (its size,)
        return g

    def name(self):                              # walking the graph, PyTorch shows the Function's node itself
        return self.inputs[0].grad_fn.name() if self.inputs else "OutputOfBackward0"

    @property
    def next_functions(self):
        return self.inputs[0].grad_fn.next_functions if self.inputs else ()

    def __repr__(self):
        return f"<{self.name()}>"

    def graph_edge(self):
        """Where ``next_functions`` points for this output: the custom Function's node, at this output's index."""
        return (self.inputs[0].grad_fn, self.index) if self.inputs else (self, 0)

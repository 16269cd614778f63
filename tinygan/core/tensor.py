"""Tensor: an array that remembers how it was computed, with its operators.

``a + b``, ``x.sum()``, ``x.reshape(...)``: each operator or method is one call of a Function in tinygan/ops/
(``Function.apply``, function.py), which computes the result and records how; ``loss.backward()`` walks those
records back (backward.py). Besides the operators, a Tensor has what the engine itself needs: its fields, moving
between devices and dtypes (``to``), hooks, and ``backward``. The methods that exist so PyTorch code runs unchanged
(in-place ops, legacy types, ``new_zeros``, ``split``, ``norm``, ...) are added by tinygan/compat/.
"""
import collections
import math

import numpy as np

from tinygan.core import array_backend
from tinygan.core.function import is_grad_enabled, no_grad


# ==================================================================================================
# Tensor
# ==================================================================================================
class Tensor:
    """An n-dimensional array that remembers how it was computed, so gradients can flow back through it."""
    __slots__ = ("array", "grad", "requires_grad", "_ctx", "name", "_hooks", "_version", "_grad_home", "__weakref__")
    __array_priority__ = 1000  # numpy_array * tensor calls Tensor.__rmul__, not NumPy's loop

    def __init__(self, data=(), *sizes, requires_grad=False, dtype=None, device=None):
        if sizes or type(data) in (int, Size):        # Tensor(64, 1): sizes, as torch.Tensor's (zeros, not garbage)
            data = np.zeros(shape_arg((data,) + sizes), dtype=dtype or np.float32)
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

    def _set_fields(self, array, requires_grad=False, ctx=None):
        """The one place a tensor's fields are set: its array, no gradient yet, its creator, no name, no hooks,
        no in-place changes yet."""
        self.array = array                            # the NumPy or CuPy array holding the values
        self.grad = None
        self.requires_grad = requires_grad
        self._ctx = ctx                               # the Function that made it; None for a leaf
        self.name = None
        self._hooks = None                            # a Hooks once register_hook or retain_grad is called
        self._version = 0                             # bumped by every in-place change (see Function.apply)
        self._grad_home = None                        # where backward puts a new .grad (see accumulate_grad)
        return self

    @staticmethod
    def from_array(array, requires_grad=False, ctx=None):
        """A tensor holding ``array`` (NumPy or CuPy) itself, not a copy: changes show in both (as
        ``torch.from_numpy``, on either device; the fast way for ops and optimizers to wrap a result). ``ctx``
        is the Function that made it (``Function.apply`` passes it)."""
        return Tensor.__new__(Tensor)._set_fields(array, requires_grad, ctx)

    # ---- properties -----------------------------------------------------------------------------
    @property
    def data(self):
        """PyTorch's ``.data``: a tensor sharing this one's memory, cut from the graph (``.array`` is the raw array).

        Changes through it are not seen by autograd, as in PyTorch: ``p.data.clamp_(-c, c)`` clips weights in
        place without bumping ``p``'s version. Assigning ``p.data = t`` replaces the values (shape and all).
        """
        return Tensor.from_array(self.array)

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
        return Size(self.shape) if dim is None else self.shape[dim]

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
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
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
        return Tensor.from_array(self.array)

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
            out = _shape.ToDevice.apply(out, device=array_backend.check_device(device))
        if dtype is not None and np.dtype(dtype) != out.dtype:
            if np.dtype(dtype).kind == "f":
                out = _elem.Cast.apply(out, dtype=np.dtype(dtype))
            else:                                     # integers and booleans carry no gradient
                with no_grad():
                    out = _elem.Cast.apply(out, dtype=np.dtype(dtype))
        return out.clone() if copy and out is self else out

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
        return Tensor.from_array(self.array < array_of(other))

    def __le__(self, other):
        return Tensor.from_array(self.array <= array_of(other))

    def __gt__(self, other):
        return Tensor.from_array(self.array > array_of(other))

    def __ge__(self, other):
        return Tensor.from_array(self.array >= array_of(other))

    def __eq__(self, other):                        # elementwise, as PyTorch; tensors hash by id (__hash__)
        return Tensor.from_array(self.array == array_of(other)) if _comparable(other) else NotImplemented

    def __ne__(self, other):
        return Tensor.from_array(self.array != array_of(other)) if _comparable(other) else NotImplemented

    def __setitem__(self, index, value):
        """x[index] = value in place, as PyTorch: under no_grad, or when neither x nor value needs a gradient.

        A leaf that requires grad refuses (PyTorch's error); assigning into a recorded result, or assigning a
        value that requires grad, is not supported yet (NotImplementedError: build the result with
        ``tinygan.where`` or ``tinygan.cat`` instead).
        """
        if is_grad_enabled() and (self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)):
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

    def clone(self, memory_format=None):
        """A copy that owns its memory and stays in the graph (gradients flow through), as torch's ``clone``."""
        return _shape.Clone.apply(self)

    # ---- backward -------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Compute d(self)/d(leaf) for every leaf that requires grad, adding it into ``leaf.grad``.

        ``create_graph=True`` records the backward itself, so the gradients in ``.grad`` can be differentiated
        again (a gradient penalty); ``retain_graph`` then defaults to True, as in PyTorch.
        """
        if create_graph:                              # the backward recorded: tinygan/autograd.py
            from tinygan.autograd import backward
            return backward([self], [gradient], retain_graph, create_graph=True)
        gy = root_gradient(self, gradient)
        with no_grad():                               # the backward itself is not recorded
            for tensor, g in backward_pass([self], [gy], retain_graph=bool(retain_graph)):
                if tensor.is_leaf:
                    accumulate_grad(tensor, g)        # into .grad, summed over backward calls

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
            self._hooks = Hooks()
        return self._hooks


# ==================================================================================================
# What the operators take: numbers, arrays and tensors, indices, shapes
# ==================================================================================================
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


def _comparable(value):
    """What ``==`` compares elementwise: tensors, arrays, numbers (``t == None`` is False, as in PyTorch)."""
    return isinstance(value, (Tensor, int, float, bool, np.generic)) or hasattr(value, "dtype")


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
        return (MaxResult if kind == "max" else MinResult)(values, Tensor.from_array(xp.zeros((), dtype=np.int64)))
    indices = getattr(x.array, "argmax" if kind == "max" else "argmin")(axis=dim)
    if keepdim:
        indices = array_backend.get_array_module(indices).expand_dims(indices, dim)
    return (MaxResult if kind == "max" else MinResult)(values, Tensor.from_array(indices))


def increment_version(tensor):
    """Record an in-place change of ``tensor``'s values made on its array (an optimizer step, an init), so that a
    graph that saved the old values refuses to backward (``torch.autograd.graph.increment_version``)."""
    tensor._version += 1


def constant(array):
    """An array as a tensor outside the graph (a mask in a ``backward_graph`` formula)."""
    return Tensor.from_array(array)


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


class Size(tuple):
    """torch.Size, what x.size() returns: a tuple that Tensor(...) and FloatTensor(...) read as sizes, not data."""


def shape_arg(shape):
    """Accept both f(2, 3) and f((2, 3)) as PyTorch does."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(n) for n in shape)


# The walk that backward runs, and the Functions the methods above call: last, as they import Tensor from here.
from tinygan.core.backward import (Hooks, RemovableHandle, accumulate_grad, backward_pass,  # noqa: E402
                                   graph_freed, root_gradient)
from tinygan.ops import arithmetic as _arith  # noqa: E402
from tinygan.ops import elementwise as _elem  # noqa: E402
from tinygan.ops import reduction as _red  # noqa: E402
from tinygan.ops import shape as _shape  # noqa: E402

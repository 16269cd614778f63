"""Tensor: an array that remembers how it was computed, with its operators.

``a + b``, ``x.sum()``, ``x.reshape(...)``: each operator or method is one call of a Function in tinygan/ops/
(``Function.apply``, function.py), which computes the result and records how; ``loss.backward()`` walks those
records back (backward.py). Besides the operators, a Tensor has what the engine itself needs (its fields, moving
between devices and dtypes with ``to``, hooks, ``backward``) and the methods that exist so PyTorch code runs
unchanged (in-place ops, legacy types, ``new_zeros``, ``split``, ``norm``, ...).
"""
import collections
import math

import numpy as np

from tinygan import rng
from tinygan.core import array_backend
from tinygan.core.function import is_grad_enabled, no_grad


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
        return self

    @staticmethod
    def _from_array(array, requires_grad=False, ctx=None):
        """Wrap an existing array without copying (internal fast path)."""
        return Tensor.__new__(Tensor)._set_fields(array, requires_grad, ctx)

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
            out = _shape.ToDevice.apply(out, device=array_backend.check_device(device))
        if dtype is not None and np.dtype(dtype) != out.dtype:
            if np.dtype(dtype).kind == "f":
                out = _elem.Cast.apply(out, dtype=np.dtype(dtype))
            else:                                     # integers and booleans carry no gradient
                with no_grad():
                    out = _elem.Cast.apply(out, dtype=np.dtype(dtype))
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
    # ---- in-place ops: PyTorch's trailing-underscore methods ---------------------------------------
    # They change this tensor's own memory (views and a parameter's flat optimizer buffer see the change) and
    # bump its version, so a backward through a graph that saved the old values raises instead of using the
    # new ones. PyTorch's rules: refused on a leaf that requires grad while gradients are recorded (use
    # ``with no_grad():``, or ``p.data.clamp_(...)``, whose changes autograd does not see, as in PyTorch).
    def _write_in_place(self, op, compute):
        """Write ``compute()`` (an array of self's shape) into self's memory, under PyTorch's rules."""
        if is_grad_enabled() and self.requires_grad:
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
        if is_grad_enabled() and value.requires_grad:
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


# The walk that backward runs, and the Functions the methods above call; imported last because they import
# Tensor from here.
from tinygan.core.backward import (Hooks, RemovableHandle, accumulate_grad, backward_pass,  # noqa: E402
                                   graph_freed, root_gradient)
from tinygan.ops import arithmetic as _arith  # noqa: E402
from tinygan.ops import elementwise as _elem  # noqa: E402
from tinygan.ops import reduction as _red  # noqa: E402
from tinygan.ops import shape as _shape  # noqa: E402

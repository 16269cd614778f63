"""The Tensor methods that PyTorch code calls and tinygan's engine does not need: in-place ops (``add_``,
``clamp_``, ``normal_``, ...: in_place.py, the mixin this one extends), legacy types and dtype shorthands
(``.long()``, ``.half()``, ``.type()``),
device questions (``is_cuda``, ``get_device``), ``new_zeros`` & co, arithmetic by name (``x.add(y)``), the
shape and reduction methods built from the core's (``split``, ``chunk``, ``repeat``, ``norm``, ``std``, ...), and
the ops the core has no method for (``gather``, ``scatter``, ``index_select``, ``logsumexp``, ``sin``, ...).

They are written as the mixin ``TensorMethods``; ``install_tensor_methods`` copies them onto the core's Tensor,
the class every op returns, and ``tinygan.compat`` calls it once on import. It refuses to replace anything the
core defines, so the core's own behaviour is the same with or without this module.
"""
import numpy as np

from tinygan.compat.in_place import InPlaceMethods
from tinygan.compat.more_tensor_ops import MORE_INSTALLED_DUNDERS, MoreTensorMethods
from tinygan.compat.legacy_types import LEGACY_TYPE_NAMES
from tinygan.core import Tensor, array_backend, is_grad_enabled, shape_arg
from tinygan.ops import elementwise as _elem
from tinygan.ops import indexing as _index
from tinygan.ops import reduction as _red
from tinygan.ops import shape as _shape


class TensorMethods(InPlaceMethods):
    """PyTorch's Tensor methods beyond the core's; see the module docstring for how they reach ``Tensor``."""
    # ---- Python numbers: float(t), int(t), a one-element integer tensor as an index --------------------
    def __float__(self):
        """float(t) of a one-element tensor, as PyTorch."""
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

    LEGACY_TYPE_NAMES = LEGACY_TYPE_NAMES   # x.type() -> 'torch.FloatTensor'

    def __format__(self, format_spec):
        """f"{loss:.4f}": a one-element 0-d tensor formats as its number (as PyTorch: ``f"{t}"`` of a 0-d tensor
        is ``1.5``, not ``tensor(1.5)``); other tensors accept only an empty format spec (their str)."""
        if self.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    # ---- devices and dtypes ---------------------------------------------------------------------
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

    def cpu(self):
        """This tensor on the CPU, as torch's ``cpu``; differentiable."""
        return self.to("cpu")

    def gpu(self):
        """This tensor on the GPU (tinygan's name for ``cuda()``); differentiable."""
        return self.to("gpu")

    def cuda(self, device=None, non_blocking=False):
        """This tensor on the GPU, as torch's ``cuda`` (``device``: None, 0 or "cuda:0"); differentiable."""
        device = array_backend.device("cuda" if device is None else device)
        if device.type != "cuda":
            raise ValueError(f"cuda: invalid device {device!r}, it must be a CUDA device")
        return self.to(device)

    def type(self, dtype=None, non_blocking=False):
        """No argument: PyTorch's type name ('torch.FloatTensor', 'torch.cuda.LongTensor'). Given a dtype, a type
        name or a legacy type (tinygan.LongTensor, tinygan.cuda.FloatTensor): this tensor converted to it."""
        if dtype is None:
            name = LEGACY_TYPE_NAMES.get(self.dtype)
            if name is None:
                raise TypeError(f"type: dtype {self.dtype} has no PyTorch tensor type name")
            return f"torch.{'cuda.' if self.is_cuda else ''}{name}"
        name = getattr(dtype, "type_name", dtype)   # a legacy type carries its name: 'torch.cuda.FloatTensor'
        if not isinstance(name, str):
            return self.to(dtype=dtype)
        prefix, _, kind = name.rpartition(".")
        dtypes = {type_name: dt for dt, type_name in LEGACY_TYPE_NAMES.items()}
        if kind not in dtypes or prefix not in ("torch", "torch.cuda", "tinygan", "tinygan.cuda"):
            raise ValueError(f"invalid type: {name!r} (expected a type name such as 'torch.FloatTensor' or "
                             f"'torch.cuda.LongTensor')")
        return self.to("gpu" if prefix.endswith("cuda") else "cpu", dtypes[kind])

    def type_as(self, other):
        """This tensor in ``other``'s dtype and on its device, as torch's ``type_as``."""
        return self.type(other.type())

    def float(self):
        """This tensor as float32, as torch's ``float`` (differentiable)."""
        return self.to(dtype=np.float32)

    def double(self):
        """This tensor as float64, as torch's ``double`` (differentiable)."""
        return self.to(dtype=np.float64)

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


    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        """``scatter`` in place (torch's ``scatter_``); where an index repeats, the last write wins (PyTorch leaves
        that order undefined)."""
        src = _scatter_source("scatter_", src, value, reduce)
        return self._write_in_place("scatter_", lambda xp: _index.scatter(self.detach(), dim, index, src,
                                                                          name="scatter_").array)

    def scatter_add_(self, dim, index, src):
        """``scatter_add`` in place (torch's ``scatter_add_``)."""
        src = _scatter_source("scatter_add_", src, None, None)
        return self._write_in_place("scatter_add_", lambda xp: _index.scatter(self.detach(), dim, index, src, add=True,
                                                                              name="scatter_add_").array)

    # ---- new tensors like this one -------------------------------------------------------------
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
        out = Tensor.from_array(xp.full(shape, value, dtype=self.dtype if dtype is None else dtype))
        return out.requires_grad_(True) if requires_grad else out

    # ---- arithmetic, comparisons and reductions by name, as torch's methods -----------------------
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

    lt, le, gt, ge, eq, ne = Tensor.__lt__, Tensor.__le__, Tensor.__gt__, Tensor.__ge__, Tensor.__eq__, Tensor.__ne__

    def t(self):
        """A matrix transposed (a 0-d or 1-d tensor as it is), as torch's ``t``."""
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self.transpose(0, 1) if self.ndim == 2 else self

    def amax(self, dim=(), keepdim=False):
        """The maximum over ``dim`` (all axes by default), as torch's ``amax``; differentiable."""
        return _red.Max.apply(self, dim=None if dim == () else dim, keepdim=keepdim)

    def amin(self, dim=(), keepdim=False):
        """The minimum over ``dim`` (all axes by default), as torch's ``amin``; differentiable."""
        return _red.Min.apply(self, dim=None if dim == () else dim, keepdim=keepdim)

    def argmax(self, dim=None, keepdim=False):
        """Indices of the maxima along ``dim`` (of the flattened tensor when dim is None), as torch's ``argmax``."""
        return _arg_extreme(self, "argmax", dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        """Indices of the minima along ``dim`` (of the flattened tensor when dim is None), as torch's ``argmin``."""
        return _arg_extreme(self, "argmin", dim, keepdim)

    def all(self, dim=None, keepdim=False):
        """True where every element over ``dim`` is nonzero, as torch's ``all``."""
        return Tensor.from_array(array_backend.get_array_module(self.array).asarray(
            self.array.all(axis=dim, keepdims=keepdim)))

    def any(self, dim=None, keepdim=False):
        """True where some element over ``dim`` is nonzero, as torch's ``any``."""
        return Tensor.from_array(array_backend.get_array_module(self.array).asarray(
            self.array.any(axis=dim, keepdims=keepdim)))

    def std(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        """sqrt(var) over ``dim``, dividing by N - 1 unless unbiased=False (or by N - correction), as torch's
        ``std``; differentiable."""
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def norm(self, p="fro", dim=None, keepdim=False):
        """The p-norm over ``dim`` (all elements by default), as torch's ``norm`` (tinygan/ops/reduction.py)."""
        return _red.norm(self, p, dim, keepdim)

    def logsumexp(self, dim, keepdim=False):
        """log(sum(exp(x))) over ``dim``, without overflow, as torch's ``logsumexp``; differentiable."""
        return _red.LogSumExp.apply(self, dim=dim, keepdim=keepdim)

    def sin(self):
        """sin(x) elementwise, as torch's ``sin``."""
        return _elem.Sin.apply(self)

    def cos(self):
        """cos(x) elementwise, as torch's ``cos``."""
        return _elem.Cos.apply(self)

    def tan(self):
        """tan(x) elementwise, as torch's ``tan``."""
        return _elem.Tan.apply(self)

    def log1p(self):
        """log(1 + x) elementwise, accurate for tiny x, as torch's ``log1p``."""
        return _elem.Log1p.apply(self)

    def expm1(self):
        """exp(x) - 1 elementwise, accurate for tiny x, as torch's ``expm1``."""
        return _elem.Expm1.apply(self)

    # ---- shapes ---------------------------------------------------------------------------------
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
        dim = _dim_index(dim, self.ndim, "split")
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
        n = self.shape[_dim_index(dim, self.ndim, "chunk")]
        return self.split(max(-(-n // int(chunks)), 1), dim)

    def unbind(self, dim=0):
        """The slices along ``dim``, that axis removed, as torch's ``unbind``."""
        dim = _dim_index(dim, self.ndim, "unbind")
        return tuple(self[(slice(None),) * dim + (i,)] for i in range(self.shape[dim]))

    def flip(self, *dims):
        """This tensor with the order of elements along ``dims`` reversed, as torch's ``flip``."""
        dims = {_dim_index(d, self.ndim, "flip") for d in shape_arg(dims)}
        return self[tuple(slice(None, None, -1) if i in dims else slice(None) for i in range(self.ndim))]

    # -- picking and copying --
    def where(self, condition, other):
        """This tensor where ``condition``, ``other`` elsewhere: tinygan.where(condition, self, other)."""
        return _shape.Where.apply(condition, self, other)

    def masked_fill(self, mask, value):
        """``value`` where ``mask`` is True, this tensor elsewhere, as torch's ``masked_fill`` (out of place)."""
        return _shape.Where.apply(mask, value, self)

    def gather(self, dim, index, *, sparse_grad=False):
        """y[i][j] = x[i][index[i][j]] for dim 1 (y has index's shape), as torch's ``gather`` (tinygan/ops/
        indexing.py); differentiable, its backward a scatter-add."""
        return _index.gather(self, dim, index)

    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        """This tensor with src[i][j] (a tensor, or one number) written at [i][index[i][j]] for dim 1, as torch's
        ``scatter``; index may be smaller than self and src. Differentiable (src's gradient gathers)."""
        return _index.scatter(self, dim, index, _scatter_source("scatter", src, value, reduce, in_place=False))

    def scatter_add(self, dim, index, src):
        """This tensor with src[i][j] added at [i][index[i][j]] for dim 1 (repeats accumulate), as torch's
        ``scatter_add``; differentiable."""
        return _index.scatter(self, dim, index, src, add=True, name="scatter_add")

    def index_select(self, dim, index):
        """The slices along ``dim`` at the positions in the 1-D ``index``, as torch's ``index_select``."""
        return _index.index_select(self, dim, index)

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        """Each slice along ``dim`` (each element of the flattened tensor for dim None) repeated ``repeats`` times
        (a number, or one count per slice), as torch's ``repeat_interleave``; differentiable."""
        return _index.repeat_interleave(self, repeats, dim, output_size)


def _dim_index(dim, ndim, name):
    if not -ndim <= dim < max(ndim, 1):
        raise IndexError(f"{name}: dimension {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % max(ndim, 1)


def _arg_extreme(x, kind, dim, keepdim):
    """int64 indices of x's maxima or minima along dim (all of x flattened when dim is None: keepdim gives all
    axes of size 1, as PyTorch)."""
    xp = array_backend.get_array_module(x.array)
    indices = xp.asarray(getattr(x.array, kind)(axis=dim)).astype(np.int64)
    if keepdim:
        indices = indices.reshape((1,) * x.ndim) if dim is None else xp.expand_dims(indices, dim)
    return Tensor.from_array(indices)


def _scatter_source(op, src, value, reduce, in_place=True):
    """What scatter writes: ``src`` (a tensor, or a number given in its place) or ``value``."""
    if reduce is not None:
        raise NotImplementedError(f"{op}: reduce= is not supported by tinygan (scatter_add adds)")
    src = value if src is None else src
    if src is None:
        raise TypeError(f"{op}: give src (a tensor) or value (a number)")
    if in_place and isinstance(src, Tensor):
        if is_grad_enabled() and src.requires_grad:
            raise NotImplementedError(f"{op}: src requires grad, and {op} records no graph through it; "
                                      f"use the out-of-place form ({op[:-1]})")
        src = src.detach()
    return src


IN_PLACE_OPERATORS = ("__iadd__", "__isub__", "__imul__", "__itruediv__")
# the mixins' dunders that are installed (the others are the mixin classes' own)
INSTALLED_DUNDERS = IN_PLACE_OPERATORS + ("__format__", "__float__", "__int__", "__index__") + MORE_INSTALLED_DUNDERS


def install_tensor_methods(tensor_class):
    """Copy every method and property of the mixins ``InPlaceMethods``, ``TensorMethods`` and
    ``MoreTensorMethods`` (more_tensor_ops.py) onto ``tensor_class`` (the core's Tensor).

    Called once, by ``tinygan.compat``. A name the class already defines is an error (unless it already holds
    this very method: a second call changes nothing), so the mixin can add to the core but never change it.
    """
    for name, value in {**vars(InPlaceMethods), **vars(TensorMethods), **vars(MoreTensorMethods)}.items():
        if name.startswith("__") and name.endswith("__") and name not in INSTALLED_DUNDERS:
            continue                               # the mixin's own __doc__, __module__, __dict__, ...
        existing = vars(tensor_class).get(name)
        if existing is not None and existing is not value:
            raise TypeError(f"install_tensor_methods: {tensor_class.__name__}.{name} is the core's; the "
                            f"compatibility layer may add methods, not replace them")
        setattr(tensor_class, name, value)

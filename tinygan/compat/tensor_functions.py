"""PyTorch's ``torch.*`` functions that are also Tensor methods: ``torch.sum(x, 1)`` is ``x.sum(1)``,
``torch.where(c, x, y)``, ``torch.max(a, b)`` ... exported as ``tinygan.sum``, ``tinygan.where``, and so on.

Each is a one-line call of the method (read the method in tinygan/core/tensor.py or tinygan/compat/
tensor_methods.py). They live in their own module, not in ``tinygan.functional`` (PyTorch's ``F``), because
several names here (``sum``, ``max``, ``min``, ``pow``) are Python builtins: inside this module they mean the
tensor functions, and it calls no builtin of those names.
"""
import contextlib

from tinygan.core import Tensor, array_backend, is_grad_enabled, no_grad
from tinygan.ops import indexing as _index
from tinygan.ops import shape as _shape

__all__ = ["add", "allclose", "argmax", "argmin", "bmm", "chunk", "clone", "cos", "div", "expm1", "flatten", "flip",
           "gather", "index_select", "inference_mode", "is_floating_point", "is_tensor", "isfinite", "isinf", "isnan",
           "log1p", "logsumexp", "masked_fill", "matmul", "max", "maximum", "mean", "min", "minimum", "mm", "mul",
           "neg", "norm", "numel", "permute", "pow", "repeat_interleave", "reshape", "scatter", "scatter_add", "sin",
           "split", "square", "squeeze", "std", "sub", "sum", "tan", "tile", "transpose", "unbind", "unsqueeze",
           "var", "where"]


# ==================================================================================================
# Arithmetic
# ==================================================================================================
def add(input, other, *, alpha=1, out=None):
    """input + alpha * other (torch.add)."""
    return _into(out, input + (other if alpha == 1 else other * alpha), "add")


def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other (torch.sub)."""
    return _into(out, input - (other if alpha == 1 else other * alpha), "sub")


def mul(input, other, *, out=None):
    """input * other (torch.mul)."""
    return _into(out, input * other, "mul")


def div(input, other, *, rounding_mode=None, out=None):
    """input / other (torch.div; true division only)."""
    if rounding_mode is not None:
        raise NotImplementedError(f"div: rounding_mode={rounding_mode!r} is not supported in tinygan")
    return _into(out, input / other, "div")


def pow(input, exponent, *, out=None):
    """input ** exponent (torch.pow); either may be a number."""
    return _into(out, input ** exponent, "pow")


def _into(out, result, name):
    """``out=``: the result written into ``out`` (same shape) and ``out`` returned, as PyTorch's out= forms."""
    if out is None:
        return result
    if not isinstance(out, Tensor) or tuple(out.shape) != tuple(result.shape):
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"{name}: out= must be a tensor of the result's shape {tuple(result.shape)}, got {got}")
    if result.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic differentiation, "
                           f"but one of the arguments requires grad.")
    with no_grad():
        out.copy_(result)
    return out


def neg(input):
    """-input (torch.neg)."""
    return -input


def square(input):
    """input * input (torch.square)."""
    return input * input


def matmul(input, other):
    """input @ other with NumPy's broadcasting rules (torch.matmul)."""
    return input @ other


def mm(input, mat2):
    """The product of two 2-D matrices (torch.mm)."""
    return input.mm(mat2)


def bmm(input, mat2):
    """Batched matrix product of (b, n, m) and (b, m, p) (torch.bmm)."""
    return input.bmm(mat2)


def maximum(input, other):
    """The elementwise maximum of two tensors (torch.maximum); at ties the gradient goes to ``input``."""
    return _shape.Where.apply(input >= other, input, other)


def minimum(input, other):
    """The elementwise minimum of two tensors (torch.minimum); at ties the gradient goes to ``input``."""
    return _shape.Where.apply(input <= other, input, other)


# ==================================================================================================
# Reductions
# ==================================================================================================
def sum(input, dim=None, keepdim=False, *, dtype=None):
    """The sum over ``dim`` (all elements by default) (torch.sum)."""
    return (input if dtype is None else input.to(dtype=dtype)).sum(dim=dim, keepdim=keepdim)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """The mean over ``dim`` (all elements by default) (torch.mean)."""
    return (input if dtype is None else input.to(dtype=dtype)).mean(dim=dim, keepdim=keepdim)


def max(input, dim=None, keepdim=False):
    """torch.max: the largest element; over ``dim`` as ``input.max(dim, keepdim)``; with a tensor as second
    argument, the elementwise ``maximum``."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    return input.max(dim=dim, keepdim=keepdim)


def min(input, dim=None, keepdim=False):
    """torch.min: the smallest element; over ``dim`` as ``input.min(dim, keepdim)``; with a tensor as second
    argument, the elementwise ``minimum``."""
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    return input.min(dim=dim, keepdim=keepdim)


def var(input, dim=None, unbiased=True, keepdim=False, *, correction=None):
    """The variance over ``dim``, dividing by N - 1 unless unbiased=False (or by N - correction) (torch.var)."""
    return input.var(dim, unbiased, keepdim, correction=correction)


def std(input, dim=None, unbiased=True, keepdim=False, *, correction=None):
    """sqrt(var) over ``dim`` (torch.std)."""
    return input.std(dim, unbiased, keepdim, correction=correction)


def norm(input, p="fro", dim=None, keepdim=False):
    """The p-norm over ``dim`` (torch.norm); see Tensor.norm."""
    return input.norm(p, dim, keepdim)


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(input))) over ``dim``, without overflow (torch.logsumexp)."""
    return input.logsumexp(dim, keepdim)


def sin(input):
    """sin(input) elementwise (torch.sin)."""
    return input.sin()


def cos(input):
    """cos(input) elementwise (torch.cos)."""
    return input.cos()


def tan(input):
    """tan(input) elementwise (torch.tan)."""
    return input.tan()


def log1p(input):
    """log(1 + input) elementwise (torch.log1p)."""
    return input.log1p()


def expm1(input):
    """exp(input) - 1 elementwise (torch.expm1)."""
    return input.expm1()


def argmax(input, dim=None, keepdim=False):
    """Indices of the maxima along ``dim`` (of the flattened tensor when dim is None) (torch.argmax)."""
    return input.argmax(dim=dim, keepdim=keepdim)


def argmin(input, dim=None, keepdim=False):
    """Indices of the minima along ``dim`` (of the flattened tensor when dim is None) (torch.argmin)."""
    return input.argmin(dim=dim, keepdim=keepdim)


# ==================================================================================================
# Shapes, picking and copying
# ==================================================================================================
def reshape(input, shape):
    """``input`` with a new shape (torch.reshape)."""
    return input.reshape(shape)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge axes start_dim..end_dim into one (torch.flatten)."""
    return input.flatten(start_dim, end_dim)


def transpose(input, dim0, dim1):
    """Swap two axes (torch.transpose)."""
    return input.transpose(dim0, dim1)


def permute(input, dims):
    """Reorder the axes (torch.permute)."""
    return input.permute(dims)


def squeeze(input, dim=None):
    """Drop size-1 axes (only ``dim`` when given) (torch.squeeze)."""
    return input.squeeze(dim)


def unsqueeze(input, dim):
    """Insert a size-1 axis at ``dim`` (torch.unsqueeze)."""
    return input.unsqueeze(dim)


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of ``tensor`` along ``dim`` (torch.split); see Tensor.split."""
    return tensor.split(split_size_or_sections, dim)


def chunk(input, chunks, dim=0):
    """At most ``chunks`` equal pieces along ``dim`` (torch.chunk); see Tensor.chunk."""
    return input.chunk(chunks, dim)


def unbind(input, dim=0):
    """The slices along ``dim``, that axis removed (torch.unbind)."""
    return input.unbind(dim)


def flip(input, dims):
    """``input`` with the order of elements along ``dims`` reversed (torch.flip)."""
    return input.flip(dims)


def tile(input, dims):
    """Tile ``input``, dims[i] copies along axis i; fewer dims than axes repeat the last axes (torch.tile)."""
    dims = tuple(dims)
    return input.repeat((1,) * (input.ndim - len(dims)) + dims)


def where(condition, input=None, other=None):
    """torch.where: ``input`` where ``condition``, ``other`` elsewhere (tensors or numbers, broadcast together;
    differentiable in both); with the condition alone, the indices where it is True, one tensor per axis."""
    if input is None and other is None:
        c = condition.array if isinstance(condition, Tensor) else condition
        return tuple(Tensor.from_array(i) for i in array_backend.get_array_module(c).nonzero(c))
    if input is None or other is None:
        raise TypeError("where: give both input and other, or neither (then the indices where condition is True)")
    return _shape.Where.apply(condition, input, other)


def masked_fill(input, mask, value):
    """``value`` where ``mask`` is True, ``input`` elsewhere (torch.masked_fill)."""
    return input.masked_fill(mask, value)


def gather(input, dim, index, *, sparse_grad=False):
    """out[i][j] = input[i][index[i][j]] for dim 1 (torch.gather); see Tensor.gather."""
    return input.gather(dim, index)


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """input with src[i][j] (or value) written at [i][index[i][j]] for dim 1 (torch.scatter); see Tensor.scatter."""
    return input.scatter(dim, index, src, value=value, reduce=reduce)


def scatter_add(input, dim, index, src):
    """input with src[i][j] added at [i][index[i][j]] for dim 1 (torch.scatter_add)."""
    return input.scatter_add(dim, index, src)


def index_select(input, dim, index):
    """The slices of input along ``dim`` at the positions in the 1-D ``index`` (torch.index_select)."""
    return input.index_select(dim, index)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each slice along ``dim`` repeated ``repeats`` times (torch.repeat_interleave); with integer counts alone,
    the indices 0, 1, ... repeated that often."""
    return _index.repeat_interleave(input, repeats, dim, output_size)


def clone(input, *, memory_format=None):
    """A copy of ``input`` that stays in the graph (torch.clone)."""
    return input.clone()


# ==================================================================================================
# Questions about tensors
# ==================================================================================================
def is_tensor(obj):
    """True for a tinygan Tensor (Parameters included) (torch.is_tensor)."""
    return isinstance(obj, Tensor)


def is_floating_point(input):
    """True for a floating-point tensor (torch.is_floating_point)."""
    return input.is_floating_point()


def numel(input):
    """The number of elements (torch.numel)."""
    return input.numel()


def isnan(input):
    """A boolean tensor, True where ``input`` is NaN (torch.isnan)."""
    return Tensor.from_array(array_backend.get_array_module(input.array).isnan(input.array))


def isinf(input):
    """A boolean tensor, True where ``input`` is +-inf (torch.isinf)."""
    return Tensor.from_array(array_backend.get_array_module(input.array).isinf(input.array))


def isfinite(input):
    """A boolean tensor, True where ``input`` is neither NaN nor +-inf (torch.isfinite)."""
    return Tensor.from_array(array_backend.get_array_module(input.array).isfinite(input.array))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when |input - other| <= atol + rtol * |other| everywhere (torch.allclose)."""
    a, b = (t.array if isinstance(t, Tensor) else t for t in (input, other))
    return bool(array_backend.get_array_module(a).allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


# ==================================================================================================
# Gradient mode
# ==================================================================================================
def inference_mode(mode=True):
    """torch.inference_mode: a context manager and decorator that records no graph, as ``no_grad`` (tinygan has
    no separate inference mode); ``inference_mode(False)`` leaves the gradient mode as it is."""
    if callable(mode):                        # @inference_mode without parentheses
        return no_grad()(mode)
    return no_grad() if mode else _unchanged()


@contextlib.contextmanager
def _unchanged():
    yield

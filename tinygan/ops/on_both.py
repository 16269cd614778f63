"""What a backward formula calls besides operators, for arrays and Tensors alike.

A backward written with operators (``gy * (1 - y * y)``), ``reshape``, ``.T`` and these functions runs on arrays
in a plain backward and on Tensors, recorded, in a ``create_graph`` backward (``Function.backward_on_tensors``):
the formula is written once. Each function is the NumPy/CuPy call on an array and the Tensor op on a Tensor.
"""
from tinygan.core import array_backend
from tinygan.core.tensor import Tensor


def sum_to(g, shape):
    """``g`` summed over the axes broadcasting added or stretched, so that it has ``shape``."""
    if g.shape == shape:
        return g
    return _arith.SumTo.apply(g, shape=tuple(shape)) if isinstance(g, Tensor) else unbroadcast(g, shape)


def unbroadcast(g, shape):
    """``sum_to`` on an array."""
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))                     # (*new, *shape) -> shape-sized dims
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g


def times_constant(gy, c):
    """gy * c for a constant array ``c`` made for this product (a mask): on arrays, written into c's buffer."""
    if isinstance(gy, Tensor):
        return gy * c
    c *= gy
    return c


def sum(x, axis=None, keepdims=False):
    return x.sum(dim=axis, keepdim=keepdims) if isinstance(x, Tensor) else x.sum(axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return x.mean(dim=axis, keepdim=keepdims) if isinstance(x, Tensor) else x.mean(axis=axis, keepdims=keepdims)


def broadcast_to(x, shape):
    return x.broadcast_to(shape) if isinstance(x, Tensor) else array_backend.get_array_module(x).broadcast_to(x, shape)


def transpose(x, axes):
    """x with its axes reordered: axis i of the result is axis ``axes[i]`` of x."""
    return x.permute(axes) if isinstance(x, Tensor) else x.transpose(axes)


def exp(x):
    return x.exp() if isinstance(x, Tensor) else array_backend.get_array_module(x).exp(x)


def log(x):
    return x.log() if isinstance(x, Tensor) else array_backend.get_array_module(x).log(x)


def sin(x):
    return _elem.Sin.apply(x) if isinstance(x, Tensor) else array_backend.get_array_module(x).sin(x)


def cos(x):
    return _elem.Cos.apply(x) if isinstance(x, Tensor) else array_backend.get_array_module(x).cos(x)


def tanh(x):
    return x.tanh() if isinstance(x, Tensor) else array_backend.get_array_module(x).tanh(x)


def normal_cdf(x):
    """Phi(x), the standard normal distribution function."""
    return _elem.NormalCDF.apply(x) if isinstance(x, Tensor) else _elem.normal_cdf_array(x)


def sigmoid(x):
    return x.sigmoid() if isinstance(x, Tensor) else _elem.sigmoid_array(x)


def floor_quotient(a, b):
    """floor(a / b), a constant (its gradient is zero almost everywhere): an array, or a Tensor outside the graph."""
    if isinstance(a, Tensor):
        return Tensor.from_array(array_backend.get_array_module(a.array).floor(a.array / b.array))
    return array_backend.get_array_module(a).floor(a / b)


def where(condition, x, other):
    """x where ``condition`` (a boolean array), other elsewhere; x or other may be a number."""
    if isinstance(x, Tensor) or isinstance(other, Tensor):
        return _shape.Where.apply(condition, x, other)
    return array_backend.get_array_module(condition).where(condition, x, other)


def astype(x, dtype):
    return x.to(dtype=dtype) if isinstance(x, Tensor) else x.astype(dtype)


def to_device(x, device):
    return x.to(device) if isinstance(x, Tensor) else array_backend.to_device(x, device)


# The ops the Tensor cases call; imported last because they import this module.
from tinygan.ops import arithmetic as _arith  # noqa: E402
from tinygan.ops import elementwise as _elem  # noqa: E402
from tinygan.ops import shape as _shape  # noqa: E402

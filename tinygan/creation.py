"""Functions that make new tensors: from data, filled with a constant, random, or a range.

float32 unless asked otherwise; on the default device (``tinygan.set_default_device``) unless a device is
given. Random tensors come from tinygan's seeded generator (``tinygan.manual_seed``).
"""
import numpy as np

from tinygan import rng
from tinygan.core import Tensor, array_backend, shape_arg

# PyTorch's dtype names (NumPy scalar types: x.dtype == tinygan.float32); tinygan.float, .int, .bool: __init__.py
float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64, uint8, bool_ = np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_
half, double, short, long = float16, float64, int16, int64


def _device(device):
    return array_backend.get_default_device() if device is None else array_backend.check_device(device)


def _make(array, requires_grad):
    return Tensor.from_array(array).requires_grad_(requires_grad) if requires_grad else Tensor.from_array(array)


def _sizes(name, shape, size):
    """The shape given as sizes (``zeros(2, 3)``, ``zeros((2, 3))``) or by keyword (``zeros(size=(2, 3))``)."""
    if size is None:
        return shape_arg(shape)
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"{name}(): argument 'size' must be a tuple of ints, not {type(size).__name__}")
    if shape:
        raise TypeError(f"{name}: give the size once, as sizes or as size=, not both (got {shape} and size={size})")
    return shape_arg((size,))


def _data(data):
    """``data`` for Tensor(...) as data: a Python int as a 0-d array (Tensor(3) alone reads 3 as a size)."""
    return np.asarray(data) if type(data) is int else data


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (a number, nested list, array or tensor)."""
    data = data.array if isinstance(data, Tensor) else _data(data)
    t = Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
    if t.array is data:                      # no conversion happened: copy, so the tensor owns its memory
        t.array = t.array.copy()
    return t


def zeros(*shape, size=None, dtype=float32, device=None, requires_grad=False):
    """A tensor of zeros."""
    return _make(array_backend.xp_for(_device(device)).zeros(_sizes("zeros", shape, size), dtype=dtype),
                 requires_grad)


def ones(*shape, size=None, dtype=float32, device=None, requires_grad=False):
    """A tensor of ones."""
    return _make(array_backend.xp_for(_device(device)).ones(_sizes("ones", shape, size), dtype=dtype),
                 requires_grad)


def full(shape, fill_value, dtype=float32, device=None, requires_grad=False):
    """A tensor filled with ``fill_value``."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _make(array_backend.xp_for(_device(device)).full(shape, fill_value, dtype=dtype), requires_grad)


def randn(*shape, size=None, dtype=float32, device=None, requires_grad=False):
    """Samples of the standard normal distribution N(0, 1)."""
    device = _device(device)
    return _make(rng.randn(_sizes("randn", shape, size), np.dtype(dtype), device), requires_grad)


def rand(*shape, size=None, dtype=float32, device=None, requires_grad=False):
    """Samples of the uniform distribution on [0, 1)."""
    device = _device(device)
    return _make(rng.rand(_sizes("rand", shape, size), np.dtype(dtype), device), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None):
    """Evenly spaced values in [start, end): integers for integer arguments, else float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, int) for v in (start, end, step)) else float32
    return Tensor.from_array(array_backend.xp_for(_device(device)).arange(start, end, step, dtype=dtype))


def _like(t, dtype, device):
    return (t.dtype if dtype is None else dtype), (t.device if device is None else device)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(t, dtype, device)
    return zeros(t.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(t, dtype, device)
    return ones(t.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(t, dtype, device)
    return full(t.shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(t, dtype, device)
    return randn(t.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(t, dtype, device)
    return rand(t.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty(*shape, size=None, dtype=float32, device=None, requires_grad=False):
    """torch.empty: a tensor of the given shape, filled with zeros where PyTorch leaves the memory uninitialised."""
    return zeros(_sizes("empty", shape, size), dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    """torch.empty_like, filled with zeros (see ``empty``)."""
    return zeros_like(t, dtype=dtype, device=device, requires_grad=requires_grad)


def randint(low, high=None, size=None, *, dtype=int64, device=None, requires_grad=False):
    """torch.randint: integers drawn uniformly from [low, high); randint(high, size) or randint(low, high, size)."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high                       # randint(high, size)
    elif high is None:
        low, high = 0, low                                   # randint(high, size=...)
    if size is None:
        raise TypeError("randint: give the size: randint(high, size) or randint(low, high, size)")
    low, high = int(low), int(high)
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    device = _device(device)
    xp = array_backend.xp_for(device)
    u = rng.rand(shape_arg((size,)), np.dtype(np.float64), device)   # tinygan's seeded generator
    values = xp.minimum(low + xp.floor(u * (high - low)), high - 1)
    return _make(values.astype(dtype), requires_grad)


def randperm(n, *, dtype=int64, device=None):
    """torch.randperm: a random permutation of 0..n-1, from tinygan's seeded generator."""
    device = _device(device)
    return Tensor.from_array(array_backend.xp_for(device).asarray(rng.permutation(int(n), device)).astype(dtype))


def normal(mean, std=1.0, size=None, *, dtype=float32, device=None):
    """torch.normal: samples of N(mean, std^2); mean and std numbers (then ``size`` is needed) or tensors that
    broadcast together (no gradient flows to them, as in PyTorch): ``normal(mean_tensor)`` (std 1),
    ``normal(0.0, std_tensor)``, ``normal(mean_tensor, std_tensor)``, ``normal(0.0, 1.0, (n, d))``."""
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if tensors:
        mean, std = (t.array if isinstance(t, Tensor) else t for t in (mean, std))
        shape = np.broadcast_shapes(np.shape(mean), np.shape(std))
        dtype, device = tensors[0].dtype, tensors[0].device
    elif size is None:
        raise TypeError("normal: with a number for mean and for std, give the size: normal(0.0, 1.0, size=(n, d))")
    else:
        shape = shape_arg((size,))
    device = _device(device)
    return Tensor.from_array((rng.randn(shape, np.dtype(dtype), device) * std + mean).astype(dtype, copy=False))


def linspace(start, end, steps, *, dtype=float32, device=None, requires_grad=False):
    """torch.linspace: ``steps`` evenly spaced values from start to end, both included."""
    return _make(array_backend.xp_for(_device(device)).linspace(start, end, int(steps), dtype=dtype), requires_grad)


def eye(n, m=None, *, dtype=float32, device=None, requires_grad=False):
    """torch.eye: an n x m (n x n) matrix with ones on the diagonal."""
    return _make(array_backend.xp_for(_device(device)).eye(int(n), None if m is None else int(m), dtype=dtype),
                 requires_grad)


def from_numpy(array):
    """torch.from_numpy: a tensor sharing the NumPy array's memory and dtype (changes show in both)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    return Tensor.from_array(array)


def as_tensor(data, dtype=None, device=None):
    """torch.as_tensor: ``data`` as a tensor, sharing its memory when no dtype or device conversion is needed."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    return Tensor(_data(data), dtype=dtype, device=device)


def get_default_dtype():
    """torch.get_default_dtype: the dtype of floating-point tensors made from Python numbers, float32."""
    return float32


def set_default_dtype(dtype):
    """torch.set_default_dtype: tinygan's creation functions make float32; any other default is refused."""
    if np.dtype(dtype) != np.float32:
        raise NotImplementedError(f"set_default_dtype: tinygan's default dtype is float32 and cannot be changed "
                                  f"(got {np.dtype(dtype)}); pass dtype= to the creation functions, or call "
                                  f"model.to(tinygan.float64)")

"""Functions that make new tensors: from data, filled with a constant, random, or a range.

float32 unless asked otherwise; on the default device (``tinygan.set_default_device``) unless a device is
given. Random tensors come from tinygan's seeded generator (``tinygan.manual_seed``).
"""
import numpy as np

from tinygan import backend
from tinygan.tensor import Tensor, shape_arg

float32, float64 = np.float32, np.float64


def _device(device):
    return backend.get_default_device() if device is None else backend.check_device(device)


def _make(array, requires_grad):
    return Tensor._from_array(array).requires_grad_(requires_grad) if requires_grad else Tensor._from_array(array)


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (a number, nested list, array or tensor)."""
    if isinstance(data, Tensor):
        data = data.array
    t = Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
    if t.array is data:                      # no conversion happened: copy, so the tensor owns its memory
        t.array = t.array.copy()
    return t


def zeros(*shape, dtype=float32, device=None, requires_grad=False):
    """A tensor of zeros."""
    return _make(backend.xp_for(_device(device)).zeros(shape_arg(shape), dtype=dtype), requires_grad)


def ones(*shape, dtype=float32, device=None, requires_grad=False):
    """A tensor of ones."""
    return _make(backend.xp_for(_device(device)).ones(shape_arg(shape), dtype=dtype), requires_grad)


def full(shape, fill_value, dtype=float32, device=None, requires_grad=False):
    """A tensor filled with ``fill_value``."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _make(backend.xp_for(_device(device)).full(shape, fill_value, dtype=dtype), requires_grad)


def randn(*shape, dtype=float32, device=None, requires_grad=False):
    """Samples of the standard normal distribution N(0, 1)."""
    device = _device(device)
    return _make(backend.randn(shape_arg(shape), np.dtype(dtype), device), requires_grad)


def rand(*shape, dtype=float32, device=None, requires_grad=False):
    """Samples of the uniform distribution on [0, 1)."""
    device = _device(device)
    return _make(backend.rand(shape_arg(shape), np.dtype(dtype), device), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None):
    """Evenly spaced values in [start, end): integers for integer arguments, else float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, int) for v in (start, end, step)) else float32
    return Tensor._from_array(backend.xp_for(_device(device)).arange(start, end, step, dtype=dtype))


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

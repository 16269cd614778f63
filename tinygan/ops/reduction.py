"""Reductions over axes (sum, mean, max, min, var, logsumexp, the p-norm) and the softmax family.

A reduction's backward spreads gy back over the reduced axes: it is reshaped to keep the reduced axes as
size 1 (``_expand``) and then broadcast against x. Every backward here is written once, for arrays and Tensors
(``backward_on_tensors``, tinygan/core/function.py).
"""
import math

import numpy as np

from tinygan.core.array_backend import get_array_module
from tinygan.core.function import Function
from tinygan.ops import on_both
from tinygan.ops import shape as _shape
from tinygan.ops.on_both import broadcast_to, exp


def normalize_axes(dim, ndim):
    """A tuple of non-negative axes for ``dim`` (None = all axes)."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    if ndim == 0:                                               # a 0-d tensor: dim 0 and -1 mean "no axis"
        if any(d not in (0, -1) for d in dim):
            raise IndexError(f"dimension {tuple(dim)} is out of range for a tensor with 0 dimensions")
        return ()
    axes = []
    for d in dim:
        if not -ndim <= d < ndim:
            raise IndexError(f"dimension {d} is out of range for a tensor with {ndim} dimensions")
        axes.append(d % ndim)
    return tuple(sorted(set(axes)))


def _kept_shape(x_shape, axes):
    """x's shape with the reduced axes as size 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(x_shape))


def _expand(gy, x_shape, axes):
    """Give gy back the reduced axes as size 1, so it broadcasts against x."""
    return gy.reshape(_kept_shape(x_shape, axes))               # reduced shape -> x's ndim with 1s


class Sum(Function):
    """y = sum of x over axes;  gx = gy broadcast back over those axes"""
    backward_on_tensors = True
    saves_inputs = False                 # backward reads x's shape, not its values (as PyTorch)

    def __init__(self, dim=None, keepdim=False):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, x):
        self.axes = normalize_axes(self.dim, x.ndim)
        self.x_shape = x.shape
        return x.sum(axis=self.axes, keepdims=self.keepdim)

    def backward(self, gy):
        return broadcast_to(_expand(gy, self.x_shape, self.axes), self.x_shape)


class Mean(Function):
    """y = mean of x over axes (N elements each);  gx = gy / N broadcast back"""
    backward_on_tensors = True
    saves_inputs = False                 # backward reads x's shape, not its values (as PyTorch)

    def __init__(self, dim=None, keepdim=False):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, x):
        self.axes = normalize_axes(self.dim, x.ndim)
        self.x_shape = x.shape
        return x.mean(axis=self.axes, keepdims=self.keepdim)

    def backward(self, gy):
        n = math.prod(self.x_shape[a] for a in self.axes)
        return broadcast_to(_expand(gy, self.x_shape, self.axes) / n, self.x_shape)


class Max(Function):
    """y = max of x over axes;  gx = gy at the maximum (shared equally among ties), 0 elsewhere"""
    backward_on_tensors = True
    reduce = "max"

    def __init__(self, dim=None, keepdim=False):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, x):
        self.axes = normalize_axes(self.dim, x.ndim)
        if x.size == 0:
            raise ValueError(f"{self.reduce}: cannot reduce an empty tensor of shape {x.shape}")
        y = getattr(x, self.reduce)(axis=self.axes, keepdims=True)
        self.is_extreme = x == y
        return y if self.keepdim else y.reshape([n for i, n in enumerate(x.shape) if i not in self.axes])

    def backward(self, gy):
        mask = self.is_extreme
        share = (mask / mask.sum(axis=self.axes, keepdims=True)).astype(gy.dtype)   # a constant array
        return _expand(gy, mask.shape, self.axes) * share


class Min(Max):
    """y = min of x over axes;  gx = gy at the minimum (shared equally among ties), 0 elsewhere"""
    reduce = "min"


class Var(Function):
    """y = sum((x - mean)^2) / (N - correction);  gx = gy * 2 (x - mean) / (N - correction)"""
    backward_on_tensors = True

    def __init__(self, dim=None, keepdim=False, correction=1):
        self.dim, self.keepdim, self.correction = dim, keepdim, correction

    def forward(self, x):
        self.axes = normalize_axes(self.dim, x.ndim)
        n = math.prod(x.shape[a] for a in self.axes)
        self.denominator = max(n - self.correction, 0)
        centered = x - x.mean(axis=self.axes, keepdims=True)
        return (centered * centered).sum(axis=self.axes, keepdims=self.keepdim) / self.denominator

    def backward(self, gy):
        x, = self.saved_inputs()
        centered = x - on_both.mean(x, self.axes, keepdims=True)
        scale = 2 / self.denominator if self.denominator else float("nan")  # N <= correction: NaN, as torch
        return _expand(gy, x.shape, self.axes) * centered * scale


class LogSumExp(Function):
    """y = m + log(sum(exp(x - m))) over axes, m = max(x) where finite (no exp overflows);  gx = gy * exp(x - y)"""
    backward_on_tensors = True

    def __init__(self, dim=None, keepdim=False):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, x):
        xp = get_array_module(x)
        self.axes = normalize_axes(self.dim, x.ndim)
        m = x.max(axis=self.axes, keepdims=True) if x.size else xp.zeros(_kept_shape(x.shape, self.axes), x.dtype)
        m = xp.where(xp.isfinite(m), m, 0)                      # all -inf: log(0) = -inf, not -inf - -inf = nan
        with np.errstate(divide="ignore"):
            y = xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        self.y = y if self.keepdim else y.reshape([n for i, n in enumerate(x.shape) if i not in self.axes])
        return self.y

    def backward(self, gy):
        x, = self.saved_inputs()
        y = _expand(self.saved_output(), x.shape, self.axes)
        with np.errstate(invalid="ignore"):                      # an all -inf slice: nan, as in PyTorch
            return _expand(gy, x.shape, self.axes) * exp(x - y)


def norm(x, p="fro", dim=None, keepdim=False):
    """The p-norm of tensor x over ``dim`` (all elements by default), as torch's ``norm``: p=2 or "fro"
    sqrt(sum x^2), p=1 sum |x|, p=inf max |x|, p=-inf min |x|, other p > 0 (sum |x|^p)^(1/p). Built from ops; the
    2-norm of zeros has gradient 0, as in PyTorch."""
    if p in ("fro", 2):
        squares = (x * x).sum(dim=dim, keepdim=keepdim)
        zero = squares.array == 0                 # sqrt's gradient there is inf: take PyTorch's 0 instead
        return _shape.Where.apply(zero, 0.0, _shape.Where.apply(zero, 1.0, squares).sqrt())
    if p == 1:
        return x.abs().sum(dim=dim, keepdim=keepdim)
    if p in (math.inf, -math.inf):
        return (Max if p > 0 else Min).apply(x.abs(), dim=dim, keepdim=keepdim)
    if isinstance(p, (int, float)) and not isinstance(p, bool) and p > 0:
        return (x.abs() ** p).sum(dim=dim, keepdim=keepdim) ** (1 / p)
    raise ValueError(f"norm: p={p!r} is not supported (expected 'fro', 1, 2, inf, -inf or a number > 0)")


class Softmax(Function):
    """y_i = exp(x_i) / sum_j exp(x_j);  gx = y * (gy - sum(gy * y))"""
    backward_on_tensors = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=self.dim, keepdims=True))    # shifting by the max keeps exp finite
        self.y = e / e.sum(axis=self.dim, keepdims=True)
        return self.y

    def backward(self, gy):
        y = self.saved_output()
        return y * (gy - on_both.sum(gy * y, self.dim, keepdims=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x);  gx = gy - softmax(x) * sum(gy)"""
    backward_on_tensors = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        xp = get_array_module(x)
        shifted = x - x.max(axis=self.dim, keepdims=True)
        self.y = shifted - xp.log(xp.exp(shifted).sum(axis=self.dim, keepdims=True))
        return self.y

    def backward(self, gy):
        return gy - exp(self.saved_output()) * on_both.sum(gy, self.dim, keepdims=True)


# ==================================================================================================
# Per-channel sums on raw arrays: BatchNorm's statistics and gradients, ConvTranspose2d's bias gradient
# ==================================================================================================
def _subscripts(ndim):
    """einsum letters for an (N, C, ...) array: 'nc', 'nci', 'ncij', ... (C is always 'c')."""
    return "nc" + "ijklm"[:ndim - 2]


def channel_sum(x):
    """sum of x over every axis but the channel axis 1: (N, C, ...) -> (C,).

    One einsum, whatever x's memory layout: 3-4x faster than x.sum(axis=(0, 2, 3)) on the GANs' shapes
    (NumPy's reduction makes short inner loops over H*W); a reshape first would copy strided views. It sums each
    sample in x's dtype and then the N per-sample sums in float64 (as PyTorch accumulates BatchNorm's statistics
    in double on the CPU): one float32 total per channel over N*H*W numbers would lose ~3e-7 of it, which BatchNorm
    multiplies by mean/std; at the same speed.
    """
    xp = get_array_module(x)
    letters = _subscripts(x.ndim)
    per_sample = xp.einsum(f"{letters}->nc", x)                   # (N, C)
    return per_sample.sum(axis=0, dtype=xp.float64).astype(x.dtype, copy=False)


def channel_dot(a, b):
    """sum(a * b) over every axis but the channel axis 1, without the full-size product: (N, C, ...) -> (C,);
    per sample, then over samples in float64, as ``channel_sum``."""
    xp = get_array_module(a)
    letters = _subscripts(a.ndim)
    per_sample = xp.einsum(f"{letters},{letters}->nc", a, b)      # (N, C)
    return per_sample.sum(axis=0, dtype=xp.float64).astype(a.dtype, copy=False)

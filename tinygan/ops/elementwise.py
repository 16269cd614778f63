"""Elementwise functions: y = f(x) element by element, so gx = gy * f'(x).

Also sin, cos, tan and the smooth activations SiLU and GELU (with the normal distribution function Phi).
Each backward keeps whichever of x or y makes f' cheapest: exp and tanh and sigmoid keep their output. Every
backward is written once, for arrays and Tensors alike (``backward_on_tensors``, tinygan/core/function.py); a
mask such as [x > 0] is a constant array in both. On the GPU, LeakyReLU and tanh's backward run as one fused
kernel each, in ``forward_gpu`` / ``backward_gpu`` with the kernels at the end of this file.
"""
import math

import numpy as np

from tinygan.core.array_backend import get_array_module
from tinygan.core.function import Function
from tinygan.kernels import FusedKernel, fusable
from tinygan.ops.on_both import astype, cos, exp, normal_cdf, sigmoid, sin, tanh, times_constant


def _python_number(value):
    """A NumPy scalar as a Python number, so it cannot upcast float32 arrays (NumPy 2 promotion rules)."""
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", None) == 0 else value


class Elementwise(Function):
    """An elementwise op: its backward is a formula that runs on arrays and on Tensors."""
    backward_on_tensors = True


class Exp(Elementwise):
    """y = exp(x);  gx = gy * y"""

    def forward(self, x):
        self.y = get_array_module(x).exp(x)
        return self.y

    def backward(self, gy):
        return gy * self.saved_output()


class Log(Elementwise):
    """y = log(x);  gx = gy / x"""

    def forward(self, x):
        return get_array_module(x).log(x)

    def backward(self, gy):
        x, = self.saved_inputs()
        return gy / x


class Sqrt(Elementwise):
    """y = sqrt(x);  gx = gy / (2 y)"""

    def forward(self, x):
        self.y = get_array_module(x).sqrt(x)
        return self.y

    def backward(self, gy):
        return gy / (2 * self.saved_output())


class Abs(Elementwise):
    """y = |x|;  gx = gy * sign(x)  (0 at x = 0, as in PyTorch)"""

    def forward(self, x):
        return abs(x)

    def backward(self, gy):
        x = self.inputs[0].array                  # sign(x) is a constant array, also on Tensors: sign' = 0
        return gy * get_array_module(x).sign(x)


class Clamp(Elementwise):
    """y = min(max(x, lo), hi);  gx = gy where lo <= x <= hi, else 0"""

    def __init__(self, min=None, max=None):
        self.lo, self.hi = _python_number(min), _python_number(max)

    def forward(self, x):
        xp = get_array_module(x)
        y = x
        if self.lo is not None:               # maximum/minimum, not clip: older CuPy's clip rejects None
            y = xp.maximum(y, self.lo)
        if self.hi is not None:
            y = xp.minimum(y, self.hi)
        return y

    def backward(self, gy):
        x = self.inputs[0].array              # the 0/1 mask is a constant array, also on Tensors
        keep = True
        if self.lo is not None:
            keep = x >= self.lo
        if self.hi is not None:
            keep = keep & (x <= self.hi)
        return gy * keep


class Tanh(Elementwise):
    """y = tanh(x);  gx = gy * (1 - y^2)"""

    def forward(self, x):
        self.y = get_array_module(x).tanh(x)
        return self.y

    def backward(self, gy):
        y = self.saved_output()
        return gy * (1 - y * y)

    def backward_gpu(self, gy):
        """``backward`` as one fused kernel, ``TANH_BACKWARD``."""
        xp, y = get_array_module(gy), self.y
        if not fusable(xp, gy, y):
            return self.backward(gy)
        gx = xp.empty(y.shape, dtype=y.dtype)
        TANH_BACKWARD(xp, gy=gy, y=y, gx=gx)
        return gx


def sigmoid_array(x):
    """1 / (1 + exp(-x)) on an array, written exp(min(x, 0)) / (1 + exp(-|x|)) so that no exp overflows:
    for x >= 0 it is 1 / (1 + exp(-x)), for x < 0 exp(x) / (1 + exp(x)), and float32 keeps PyTorch's range
    (nonzero down to x = -88, where (1 + tanh(x/2)) / 2 is exactly 0 below x = -19)."""
    xp = get_array_module(x)
    return xp.exp(xp.minimum(x, 0)) / (1 + xp.exp(-abs(x)))


class Sigmoid(Elementwise):
    """y = 1 / (1 + exp(-x));  gx = gy * y * (1 - y)"""

    def forward(self, x):
        self.y = sigmoid_array(x)
        return self.y

    def backward(self, gy):
        y = self.saved_output()
        return gy * y * (1 - y)


class ReLU(Elementwise):
    """y = max(x, 0);  gx = gy where x > 0, else 0"""

    def forward(self, x):
        y = get_array_module(x).maximum(x, 0)
        self.y = y
        return y

    def backward(self, gy):
        return gy * (self.y > 0)                                 # a constant mask: no second-order term


class LeakyReLU(Elementwise):
    """y = x if x > 0 else a x;  gx = gy if x > 0 else a gy

    Branch-free: ``where`` on a random-sign mask runs ~20x slower than one ufunc (branch mispredictions).
    For a <= 1, y = max(x, a x) (x > 0: x >= a x; x < 0: a x >= x, also for a < 0); for a > 1, y = min(x, a x).
    Backward: gx = gy * slope with slope = a + (1 - a) [x > 0], a constant array (1 or a).
    """

    def __init__(self, negative_slope=0.01):
        self.slope = _python_number(negative_slope)

    def forward(self, x):
        xp = get_array_module(x)
        a = self.slope
        self.positive = x > 0
        y = xp.asarray(x * a)                     # an array even for 0-d x (NumPy gives a scalar), for out=y
        if a <= 1:
            xp.maximum(x, y, out=y)
        else:
            xp.minimum(x, y, out=y)
        return y

    def backward(self, gy):
        a = self.slope
        slope = self.positive.astype(gy.dtype)    # 1 where x > 0, else 0
        slope *= 1 - a
        slope += a                                # 1 where x > 0, else a
        return times_constant(gy, slope)          # gy * slope

    def forward_gpu(self, x):
        """``forward`` as one fused kernel, ``LEAKY_RELU_FORWARD``, writing y and the mask in one pass."""
        xp = get_array_module(x)
        if not fusable(xp, x):
            return self.forward(x)
        y = xp.empty(x.shape, dtype=x.dtype)
        self.positive = xp.empty(x.shape, dtype=np.bool_)
        LEAKY_RELU_FORWARD(xp, x=x, a=float(self.slope), y=y, positive=self.positive)
        return y

    def backward_gpu(self, gy):
        """``backward`` as one fused kernel, ``LEAKY_RELU_BACKWARD``."""
        xp, a = get_array_module(gy), self.slope
        if not fusable(xp, gy):
            return self.backward(gy)
        gx = xp.empty(gy.shape, dtype=gy.dtype)
        LEAKY_RELU_BACKWARD(xp, gy=gy, positive=self.positive, a=float(a), one_minus_a=float(1 - a), gx=gx)
        return gx


class Softplus(Elementwise):
    """y = log(1 + exp(x)), computed as logaddexp(0, x);  gx = gy * sigmoid(x)"""

    def forward(self, x):
        return get_array_module(x).logaddexp(0, x)

    def backward(self, gy):
        x, = self.saved_inputs()
        return gy * sigmoid(x)


class Sin(Elementwise):
    """y = sin(x);  gx = gy * cos(x)"""

    def forward(self, x):
        return get_array_module(x).sin(x)

    def backward(self, gy):
        x, = self.saved_inputs()
        return gy * cos(x)


class Cos(Elementwise):
    """y = cos(x);  gx = -gy * sin(x)"""

    def forward(self, x):
        return get_array_module(x).cos(x)

    def backward(self, gy):
        x, = self.saved_inputs()
        return -gy * sin(x)


class Log1p(Elementwise):
    """y = log(1 + x);  gx = gy / (1 + x)  (exact for tiny x, where log(1 + x) rounds 1 + x first)"""

    def forward(self, x):
        return get_array_module(x).log1p(x)

    def backward(self, gy):
        x, = self.saved_inputs()
        return gy / (x + 1)


class Expm1(Elementwise):
    """y = exp(x) - 1;  gx = gy * (y + 1)"""

    def forward(self, x):
        self.y = get_array_module(x).expm1(x)
        return self.y

    def backward(self, gy):
        return gy * (self.saved_output() + 1)


class Tan(Elementwise):
    """y = tan(x);  gx = gy * (1 + y^2)"""

    def forward(self, x):
        self.y = get_array_module(x).tan(x)
        return self.y

    def backward(self, gy):
        y = self.saved_output()
        return gy * (1 + y * y)


class SiLU(Elementwise):
    """y = x sigmoid(x);  gx = gy * s (1 + x (1 - s)) with s = sigmoid(x)"""

    def forward(self, x):
        return x * sigmoid_array(x)

    def backward(self, gy):
        x, = self.saved_inputs()
        s = sigmoid(x)
        return gy * s * (1 + x * (1 - s))


# erfc(z) for z >= 0 as exp(-z^2 + a Chebyshev series in t = 2 / (2 + z)) (Numerical Recipes 3rd ed., 6.2.2):
# relative error under 1e-14, so float64 keeps its precision (NumPy has no erf)
ERFC_CHEBYSHEV = (
    -1.3026537197817094, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.561514786808631e-3,
    -9.46595344482036e-4, 3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5, -1.624290004647e-6,
    1.303655835580e-6, 1.5626441722e-8, -8.5238095915e-8, 6.529054439e-9, 5.059343495e-9, -9.91364156e-10,
    -2.27365122e-10, 9.6467911e-11, 2.394038e-12, -6.886027e-12, 8.94487e-13, 3.13092e-13, -1.12708e-13,
    3.81e-16, 7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17)


def _erfc_nonnegative(z):
    """erfc(z) for z >= 0 (Clenshaw's recurrence over ERFC_CHEBYSHEV)."""
    t = 2 / (2 + z)
    ty = 4 * t - 2
    d = dd = 0
    for c in ERFC_CHEBYSHEV[:0:-1]:
        d, dd = ty * d - dd + c, d
    return t * get_array_module(z).exp(-z * z + 0.5 * (ERFC_CHEBYSHEV[0] + ty * d) - dd)


def normal_cdf_array(x):
    """Phi(x) = erfc(-x / sqrt 2) / 2 on an array; the lower tail from erfc directly, so it keeps its digits."""
    tail = _erfc_nonnegative(abs(x) * (1 / math.sqrt(2))) / 2   # Phi(-|x|)
    return get_array_module(x).where(x < 0, tail, 1 - tail)


class NormalCDF(Elementwise):
    """y = Phi(x) = (1 + erf(x / sqrt 2)) / 2;  gx = gy * exp(-x^2 / 2) / sqrt(2 pi)"""

    def forward(self, x):
        return normal_cdf_array(x).astype(x.dtype, copy=False)

    def backward(self, gy):
        x, = self.saved_inputs()
        return gy * exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi))


class GELU(Elementwise):
    """y = x Phi(x);  gx = gy * (Phi(x) + x exp(-x^2 / 2) / sqrt(2 pi))

    approximate="tanh": y = x (1 + tanh(u)) / 2 with u = sqrt(2 / pi) (x + 0.044715 x^3);
    gx = gy * ((1 + t) / 2 + x (1 - t^2) sqrt(2 / pi) (1 + 3 * 0.044715 x^2) / 2) with t = tanh(u).
    """
    K, C = math.sqrt(2 / math.pi), 0.044715

    def __init__(self, approximate="none"):
        self.approximate = approximate

    def forward(self, x):
        if self.approximate == "tanh":
            return x * (1 + get_array_module(x).tanh(self.K * (x + self.C * x * x * x))) * 0.5
        return x * normal_cdf_array(x).astype(x.dtype, copy=False)

    def backward(self, gy):
        x, = self.saved_inputs()
        if self.approximate == "tanh":
            t = tanh(self.K * (x + self.C * x * x * x))
            return gy * ((1 + t) * 0.5 + x * (1 - t * t) * (self.K * 0.5) * (1 + 3 * self.C * x * x))
        return gy * (normal_cdf(x) + x * exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi)))


class Cast(Elementwise):
    """y = x converted to another dtype;  gx = gy converted back"""

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.x_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return astype(gy, self.x_dtype)


# ==================================================================================================
# GPU: the fused kernels that forward_gpu / backward_gpu run (tinygan/kernels.py)
# ==================================================================================================
# gx = gy * (1 - y^2) in one pass on the GPU (three array ops otherwise)
TANH_BACKWARD = FusedKernel("tinygan_tanh_backward", "T gy, T y", "T gx", "gx = gy * (1 - y * y);")
# y = x * (p + a (1 - p)) with the mask p = [x > 0], written beside y in one pass: exactly x or a x, any a
LEAKY_RELU_FORWARD = FusedKernel("tinygan_leaky_relu_forward", "T x, T a", "T y, bool positive", """
    positive = x > 0;
    T p = positive;
    y = x * (p + a * (1 - p));
    """)
# gx = gy * ((1 - a) p + a) in one pass (four array ops otherwise), in the CPU path's order of operations
LEAKY_RELU_BACKWARD = FusedKernel("tinygan_leaky_relu_backward", "T gy, bool positive, T a, T one_minus_a", "T gx", """
    T p = positive;
    gx = (p * one_minus_a + a) * gy;
    """)

"""Elementwise functions: y = f(x) element by element, so gx = gy * f'(x).

Each backward keeps whichever of x or y makes f' cheapest: exp and tanh and sigmoid keep their output.
On the GPU, LeakyReLU and tanh's backward run as one fused kernel each (tinygan/kernels.py), written beside
the array ops they replace.
"""
import numpy as np

from tinygan.core.array_backend import get_array_module
from tinygan.core.function import Function
from tinygan.core.tensor import constant
from tinygan.kernels import FusedKernel, fusable


def _python_number(value):
    """A NumPy scalar as a Python number, so it cannot upcast float32 arrays (NumPy 2 promotion rules)."""
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", None) == 0 else value


class Exp(Function):
    """y = exp(x);  gx = gy * y"""

    def forward(self, x):
        self.y = get_array_module(x).exp(x)
        return self.y

    def backward(self, gy):
        return gy * self.y

    def backward_graph(self, gy):
        x, = self.inputs
        return gy * x.exp()


class Log(Function):
    """y = log(x);  gx = gy / x"""

    def forward(self, x):
        self.x = x
        return get_array_module(x).log(x)

    def backward(self, gy):
        return gy / self.x

    def backward_graph(self, gy):
        x, = self.inputs
        return gy / x


class Sqrt(Function):
    """y = sqrt(x);  gx = gy / (2 y)"""

    def forward(self, x):
        self.y = get_array_module(x).sqrt(x)
        return self.y

    def backward(self, gy):
        return gy / (2 * self.y)

    def backward_graph(self, gy):
        x, = self.inputs
        return gy / (2 * x.sqrt())


class Abs(Function):
    """y = |x|;  gx = gy * sign(x)  (0 at x = 0, as in PyTorch)"""

    def forward(self, x):
        self.x = x
        return abs(x)

    def backward(self, gy):
        return gy * get_array_module(gy).sign(self.x)

    def backward_graph(self, gy):
        x, = self.inputs
        return gy * constant(get_array_module(x.array).sign(x.array))   # sign' = 0 almost everywhere


class Clamp(Function):
    """y = min(max(x, lo), hi);  gx = gy where lo <= x <= hi, else 0"""

    def __init__(self, min=None, max=None):
        self.lo, self.hi = _python_number(min), _python_number(max)

    def forward(self, x):
        xp = get_array_module(x)
        self.x = x
        y = x
        if self.lo is not None:               # maximum/minimum, not clip: older CuPy's clip rejects None
            y = xp.maximum(y, self.lo)
        if self.hi is not None:
            y = xp.minimum(y, self.hi)
        return y

    def backward(self, gy):
        keep = True
        if self.lo is not None:
            keep = self.x >= self.lo
        if self.hi is not None:
            keep = keep & (self.x <= self.hi)
        return gy * keep

    def backward_graph(self, gy):
        return gy * constant(self.backward(get_array_module(gy.array).ones_like(gy.array)))   # the 0/1 mask


# gx = gy * (1 - y^2) in one pass on the GPU (three array ops otherwise)
TANH_BACKWARD = FusedKernel("tinygan_tanh_backward", "T gy, T y", "T gx", "gx = gy * (1 - y * y);")


class Tanh(Function):
    """y = tanh(x);  gx = gy * (1 - y^2)"""

    def forward(self, x):
        self.y = get_array_module(x).tanh(x)
        return self.y

    def backward(self, gy):
        y = self.y
        xp = get_array_module(gy)
        if xp is not np and fusable(xp, gy, y):
            gx = xp.empty(y.shape, dtype=y.dtype)
            TANH_BACKWARD(xp, gy=gy, y=y, gx=gx)
            return gx
        return gy * (1 - y * y)

    def backward_graph(self, gy):
        y = self.inputs[0].tanh()
        return gy * (1 - y * y)


def sigmoid_array(x):
    """1 / (1 + exp(-x)) on an array, written exp(min(x, 0)) / (1 + exp(-|x|)) so that no exp overflows:
    for x >= 0 it is 1 / (1 + exp(-x)), for x < 0 exp(x) / (1 + exp(x)), and float32 keeps PyTorch's range
    (nonzero down to x = -88, where (1 + tanh(x/2)) / 2 is exactly 0 below x = -19)."""
    xp = get_array_module(x)
    return xp.exp(xp.minimum(x, 0)) / (1 + xp.exp(-abs(x)))


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x));  gx = gy * y * (1 - y)"""

    def forward(self, x):
        self.y = sigmoid_array(x)
        return self.y

    def backward(self, gy):
        y = self.y
        return gy * y * (1 - y)

    def backward_graph(self, gy):
        y = self.inputs[0].sigmoid()
        return gy * y * (1 - y)


class ReLU(Function):
    """y = max(x, 0);  gx = gy where x > 0, else 0"""

    def forward(self, x):
        y = get_array_module(x).maximum(x, 0)
        self.y = y
        return y

    def backward(self, gy):
        return gy * (self.y > 0)

    def backward_graph(self, gy):
        return gy * constant((self.y > 0).astype(gy.dtype))      # the mask is piecewise constant: no 2nd term


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


class LeakyReLU(Function):
    """y = x if x > 0 else a x;  gx = gy if x > 0 else a gy

    Branch-free: ``where`` on a random-sign mask runs ~20x slower than one ufunc (branch mispredictions).
    For a <= 1, y = max(x, a x) (x > 0: x >= a x; x < 0: a x >= x, also for a < 0); for a > 1, y = min(x, a x).
    Backward: gx = gy * (a + (1 - a) [x > 0]). On the GPU each is one fused kernel (above).
    """

    def __init__(self, negative_slope=0.01):
        self.slope = _python_number(negative_slope)

    def forward(self, x):
        xp = get_array_module(x)
        a = self.slope
        if xp is not np and fusable(xp, x):
            y = xp.empty(x.shape, dtype=x.dtype)
            self.positive = xp.empty(x.shape, dtype=np.bool_)
            LEAKY_RELU_FORWARD(xp, x=x, a=float(a), y=y, positive=self.positive)
            return y
        self.positive = x > 0
        y = xp.asarray(x * a)                     # an array even for 0-d x (NumPy gives a scalar), for out=y
        if a <= 1:
            xp.maximum(x, y, out=y)
        else:
            xp.minimum(x, y, out=y)
        return y

    def backward(self, gy):
        a = self.slope
        xp = get_array_module(gy)
        if xp is not np and fusable(xp, gy):
            gx = xp.empty(gy.shape, dtype=gy.dtype)
            LEAKY_RELU_BACKWARD(xp, gy=gy, positive=self.positive, a=float(a), one_minus_a=float(1 - a), gx=gx)
            return gx
        gx = self.positive.astype(gy.dtype)       # 1 where x > 0, else 0
        gx *= 1 - a
        gx += a                                   # 1 where x > 0, else a
        gx *= gy
        return gx

    def backward_graph(self, gy):
        return gy * constant(self.backward(get_array_module(gy.array).ones_like(gy.array)))   # 1 or a


class Softplus(Function):
    """y = log(1 + exp(x)), computed as logaddexp(0, x);  gx = gy * sigmoid(x)"""

    def forward(self, x):
        xp = get_array_module(x)
        self.x = x
        return xp.logaddexp(0, x)

    def backward(self, gy):
        return gy * sigmoid_array(self.x)

    def backward_graph(self, gy):
        return gy * self.inputs[0].sigmoid()


class Cast(Function):
    """y = x converted to another dtype;  gx = gy converted back"""

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.x_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return gy.astype(self.x_dtype)

    def backward_graph(self, gy):
        return gy.to(dtype=self.x_dtype)

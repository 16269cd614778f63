"""Arithmetic with NumPy broadcasting: + - * / ** and matrix products.

When an input was broadcast in the forward pass, its gradient is summed back over the broadcast axes
(``sum_to``): each input element was used once per output element it was copied to. Every backward here is
written once, for arrays and Tensors alike (``backward_on_tensors``, see tinygan/core/function.py).
"""
import math

import numpy as np

from tinygan.core.array_backend import get_array_module
from tinygan.core.function import Function
from tinygan.ops.on_both import broadcast_to, log, sum_to, unbroadcast  # noqa: F401  (unbroadcast: for importers)


class SumTo(Function):
    """y = x summed over the axes broadcasting added to ``shape`` (``sum_to``);  gx = gy broadcast back"""
    saves_inputs = False
    backward_on_tensors = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        return unbroadcast(x, self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.x_shape)


class BroadcastingFunction(Function):
    """A binary op whose operands broadcast; a shape mismatch is reported with the op's name and shapes."""
    backward_on_tensors = True

    @classmethod
    def apply(cls, a, b):
        try:
            return super(BroadcastingFunction, cls).apply(a, b)
        except ValueError:
            try:
                np.broadcast_shapes(a.shape, b.shape)          # shape tuples only: NumPy's serves both devices
            except ValueError:
                raise ValueError(f"{cls.__name__.lower()}: shapes {tuple(a.shape)} and {tuple(b.shape)} "
                                 f"cannot broadcast") from None
            raise


# ==================================================================================================
# Tensor (op) Tensor
# ==================================================================================================
class Add(BroadcastingFunction):
    """y = a + b;  ga = gy,  gb = gy (summed over broadcast axes)"""
    saves_inputs = False

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        return a + b

    def backward(self, gy):
        return sum_to(gy, self.a_shape), sum_to(gy, self.b_shape)


class Sub(BroadcastingFunction):
    """y = a - b;  ga = gy,  gb = -gy"""
    saves_inputs = False

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        return a - b

    def backward(self, gy):
        gb = -sum_to(gy, self.b_shape) if self.needs_input_grad[1] else None
        return sum_to(gy, self.a_shape), gb


class Mul(BroadcastingFunction):
    """y = a * b;  ga = gy * b,  gb = gy * a"""

    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.saved_inputs()
        ga = sum_to(gy * b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(gy * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Div(BroadcastingFunction):
    """y = a / b;  ga = gy / b,  gb = -gy * a / b^2"""

    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        a, b = self.saved_inputs()
        ga = sum_to(gy / b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(-gy * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(BroadcastingFunction):
    """y = a ** b;  ga = gy * b * a^(b-1),  gb = gy * y * log(a)"""

    def forward(self, a, b):
        self.y = a ** b
        return self.y

    def backward(self, gy):
        a, b = self.saved_inputs()
        ga = sum_to(gy * b * a ** (b - 1), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(gy * self.saved_output() * log(a), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class MatMul(BroadcastingFunction):
    """y = a @ b;  ga = gy @ b^T,  gb = a^T @ gy (batched over leading axes, 1-D operands as in NumPy)"""

    def forward(self, a, b):
        return a @ b

    def backward(self, gy):
        a, b = self.saved_inputs()
        a2 = a.reshape(1, -1) if a.ndim == 1 else a              # (k,) -> (1, k)
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b              # (k,) -> (k, 1)
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])   # shape tuples only: NumPy's serves both devices
        gy = gy.reshape(batch + (a2.shape[-2], b2.shape[-1]))    # put back the axes a 1-D operand dropped
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = gy @ _mT(b2)                                    # (..., n, m) @ (..., m, k) -> (..., n, k)
            ga = sum_to(ga, a2.shape).reshape(a.shape)           # (..., n, k) -> a.shape
        if self.needs_input_grad[1]:
            gb = _mT(a2) @ gy                                    # (..., k, n) @ (..., n, m) -> (..., k, m)
            gb = sum_to(gb, b2.shape).reshape(b.shape)           # (..., k, m) -> b.shape
        return ga, gb

    @classmethod
    def apply(cls, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least one dimension, got shapes "
                             f"{tuple(a.shape)} and {tuple(b.shape)}")
        k_a, k_b = a.shape[-1], (b.shape[-2] if b.ndim > 1 else b.shape[0])
        if k_a != k_b:
            raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned "
                             f"({k_a} != {k_b})")
        return super().apply(a, b)


def _mT(x):
    """x with its last two axes swapped (arrays and Tensors)."""
    return x.swapaxes(-1, -2) if hasattr(x, "swapaxes") else x.transpose(-1, -2)


# ==================================================================================================
# Tensor (op) Python number: the number stays a parameter, so it never upcasts float32 or needs a gradient
# ==================================================================================================
class Neg(Function):
    """y = -x;  gx = -gy"""
    saves_inputs = False
    backward_on_tensors = True

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class AddScalar(Function):
    """y = x + c;  gx = gy"""
    backward_on_tensors = True
    saves_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x + self.c

    def backward(self, gy):
        return gy


class MulScalar(Function):
    """y = c * x;  gx = c * gy"""
    backward_on_tensors = True
    saves_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x * self.c

    def backward(self, gy):
        return gy * self.c


class DivScalar(Function):
    """y = x / c;  gx = gy / c"""
    backward_on_tensors = True
    saves_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x / self.c

    def backward(self, gy):
        return gy / self.c


class RSubScalar(Function):
    """y = c - x;  gx = -gy"""
    backward_on_tensors = True
    saves_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return self.c - x

    def backward(self, gy):
        return -gy


class RDivScalar(Function):
    """y = c / x;  gx = -gy * c / x^2"""
    backward_on_tensors = True

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return self.c / x

    def backward(self, gy):
        x, = self.saved_inputs()
        return gy * -self.c / (x * x)


class PowScalar(Function):
    """y = x ** p;  gx = gy * p * x^(p-1)"""
    backward_on_tensors = True

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        if self.p == 2:
            return x * x
        return x ** self.p

    def backward(self, gy):
        x, = self.saved_inputs()
        if self.p == 2:
            return gy * 2 * x
        return gy * self.p * x ** (self.p - 1)


class RPowScalar(Function):
    """y = c ** x;  gx = gy * y * log(c)"""
    backward_on_tensors = True

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        self.y = self.c ** x
        return self.y

    def backward(self, gy):
        return gy * self.saved_output() * math.log(self.c)

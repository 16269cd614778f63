"""Arithmetic with NumPy broadcasting: + - * / ** and matrix products.

When an input was broadcast in the forward pass, its gradient is summed back over the broadcast axes
(``unbroadcast``): each input element was used once per output element it was copied to.
"""
import numpy as np

from tinygan.core.array_backend import get_array_module
from tinygan.core.function import Function


def unbroadcast(g, shape):
    """Sum ``g`` over the axes broadcasting added or stretched, so that it has ``shape``."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))                     # (*new, *shape) -> shape-sized dims
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g


def sum_to(g, shape):
    """``unbroadcast`` on Tensors, recorded (for ``backward_graph``): g summed down to ``shape``."""
    return g if tuple(g.shape) == tuple(shape) else SumTo.apply(g, shape=tuple(shape))


class SumTo(Function):
    """y = x summed over the axes broadcasting added to ``shape`` (``unbroadcast``);  gx = gy broadcast back"""
    saves_inputs = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        return unbroadcast(x, self.shape)

    def backward(self, gy):
        return get_array_module(gy).broadcast_to(gy, self.x_shape)

    def backward_graph(self, gy):
        return gy.broadcast_to(self.x_shape)


class BroadcastingFunction(Function):
    """A binary op whose operands broadcast; a shape mismatch is reported with the op's name and shapes."""

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
        return unbroadcast(gy, self.a_shape), unbroadcast(gy, self.b_shape)

    def backward_graph(self, gy):
        a, b = self.inputs
        return sum_to(gy, a.shape), sum_to(gy, b.shape)


class Sub(BroadcastingFunction):
    """y = a - b;  ga = gy,  gb = -gy"""
    saves_inputs = False

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        return a - b

    def backward(self, gy):
        gb = -unbroadcast(gy, self.b_shape) if self.needs_input_grad[1] else None
        return unbroadcast(gy, self.a_shape), gb

    def backward_graph(self, gy):
        a, b = self.inputs
        return sum_to(gy, a.shape), -sum_to(gy, b.shape)


class Mul(BroadcastingFunction):
    """y = a * b;  ga = gy * b,  gb = gy * a"""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, gy):
        ga = unbroadcast(gy * self.b, self.a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(gy * self.a, self.b.shape) if self.needs_input_grad[1] else None
        return ga, gb

    def backward_graph(self, gy):
        a, b = self.inputs
        ga = sum_to(gy * b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(gy * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Div(BroadcastingFunction):
    """y = a / b;  ga = gy / b,  gb = -gy * a / b^2"""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, gy):
        ga = unbroadcast(gy / self.b, self.a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(-gy * self.a / (self.b * self.b), self.b.shape) if self.needs_input_grad[1] else None
        return ga, gb

    def backward_graph(self, gy):
        a, b = self.inputs
        ga = sum_to(gy / b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(-gy * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(BroadcastingFunction):
    """y = a ** b;  ga = gy * b * a^(b-1),  gb = gy * y * log(a)"""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = a ** b
        return self.y

    def backward(self, gy):
        xp = get_array_module(gy)
        ga = unbroadcast(gy * self.b * self.a ** (self.b - 1), self.a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(gy * self.y * xp.log(self.a), self.b.shape) if self.needs_input_grad[1] else None
        return ga, gb

    def backward_graph(self, gy):
        a, b = self.inputs
        ga = sum_to(gy * b * a ** (b - 1), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(gy * a ** b * a.log(), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class MatMul(BroadcastingFunction):
    """y = a @ b;  ga = gy @ b^T,  gb = a^T @ gy (batched over leading axes, 1-D operands as in NumPy)"""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, gy):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a                    # (k,) -> (1, k)
        b2 = b[:, None] if b.ndim == 1 else b                    # (k,) -> (k, 1)
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])   # shape tuples only: NumPy's serves both devices
        gy = gy.reshape(batch + (a2.shape[-2], b2.shape[-1]))    # put back the axes a 1-D operand dropped
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = gy @ b2.swapaxes(-1, -2)                        # (..., n, m) @ (..., m, k) -> (..., n, k)
            ga = unbroadcast(ga, a2.shape).reshape(a.shape)      # (..., n, k) -> a.shape
        if self.needs_input_grad[1]:
            gb = a2.swapaxes(-1, -2) @ gy                        # (..., k, n) @ (..., n, m) -> (..., k, m)
            gb = unbroadcast(gb, b2.shape).reshape(b.shape)      # (..., k, m) -> b.shape
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

    def backward_graph(self, gy):
        a, b = self.inputs
        a2 = a.reshape(1, -1) if a.ndim == 1 else a              # (k,) -> (1, k)
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b              # (k,) -> (k, 1)
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        gy = gy.reshape(batch + (a2.shape[-2], b2.shape[-1]))    # put back the axes a 1-D operand dropped
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = sum_to(gy @ b2.transpose(-1, -2), a2.shape).reshape(a.shape)   # (..., n, k) -> a.shape
        if self.needs_input_grad[1]:
            gb = sum_to(a2.transpose(-1, -2) @ gy, b2.shape).reshape(b.shape)   # (..., k, m) -> b.shape
        return ga, gb


# ==================================================================================================
# Tensor (op) Python number: the number stays a parameter, so it never upcasts float32 or needs a gradient
# ==================================================================================================
class Neg(Function):
    """y = -x;  gx = -gy"""
    saves_inputs = False

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy

    def backward_graph(self, gy):
        return -gy


class AddScalar(Function):
    """y = x + c;  gx = gy"""
    saves_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x + self.c

    def backward(self, gy):
        return gy

    def backward_graph(self, gy):
        return gy


class MulScalar(Function):
    """y = c * x;  gx = c * gy"""
    saves_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x * self.c

    def backward(self, gy):
        return gy * self.c

    def backward_graph(self, gy):
        return gy * self.c


class DivScalar(Function):
    """y = x / c;  gx = gy / c"""
    saves_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x / self.c

    def backward(self, gy):
        return gy / self.c

    def backward_graph(self, gy):
        return gy / self.c


class RSubScalar(Function):
    """y = c - x;  gx = -gy"""
    saves_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return self.c - x

    def backward(self, gy):
        return -gy

    def backward_graph(self, gy):
        return -gy


class RDivScalar(Function):
    """y = c / x;  gx = -gy * c / x^2 = -gy * y / x"""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        self.x = x
        self.y = self.c / x
        return self.y

    def backward(self, gy):
        return -gy * self.y / self.x

    def backward_graph(self, gy):
        x, = self.inputs
        return gy * -self.c / (x * x)


class PowScalar(Function):
    """y = x ** p;  gx = gy * p * x^(p-1)"""

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        self.x = x
        if self.p == 2:
            return x * x
        return x ** self.p

    def backward(self, gy):
        if self.p == 2:
            return gy * 2 * self.x
        return gy * self.p * self.x ** (self.p - 1)

    def backward_graph(self, gy):
        x, = self.inputs
        return gy * 2 * x if self.p == 2 else gy * self.p * x ** (self.p - 1)


class RPowScalar(Function):
    """y = c ** x;  gx = gy * y * log(c)"""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        self.y = self.c ** x
        return self.y

    def backward(self, gy):
        import math
        return gy * self.y * math.log(self.c)

    def backward_graph(self, gy):
        import math
        x, = self.inputs
        return gy * self.c ** x * math.log(self.c)

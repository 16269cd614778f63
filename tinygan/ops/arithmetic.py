"""Arithmetic with NumPy broadcasting: + - * / ** and matrix products.

When an input was broadcast in the forward pass, its gradient is summed back over the broadcast axes
(``sum_to``): each input element was used once per output element it was copied to. Every backward here is
written once, for arrays and Tensors alike (``backward_on_tensors``, see tinygan/core/function.py).
"""
import math

import numpy as np

from tinygan.core.array_backend import get_array_module
from tinygan.core.function import Function
from tinygan.ops.on_both import (broadcast_to, floor_quotient, log, sum_to,  # noqa: F401  (unbroadcast: importers')
                                 unbroadcast)


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


# ==================================================================================================
# Result types: PyTorch's rules where NumPy's differ
# ==================================================================================================
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}         # bool < integer < floating < complex


def torch_promoted(a, b, true_division=False):
    """a, b cast as PyTorch promotes types where NumPy's rules differ. The higher category wins and keeps its
    dtype (float32 + int64 is float32, not float64); a 0-d tensor does not widen a tensor with axes of its own
    category (float32 * a float64 0-d tensor is float32); integers divided give float32, torch's default float.
    Only operands that need no gradient are cast, so gradients never change dtype."""
    ka, kb = _CATEGORY[a.dtype.kind], _CATEGORY[b.dtype.kind]
    if true_division and max(ka, kb) < 2:
        return a.to(dtype=np.float32), b.to(dtype=np.float32)
    if ka != kb:
        return (a.to(dtype=b.dtype), b) if ka < kb else (a, b.to(dtype=a.dtype))
    if a.dtype != b.dtype and (a.ndim == 0) != (b.ndim == 0):
        scalar_like, other = (a, b) if a.ndim == 0 else (b, a)
        if not scalar_like.requires_grad:
            cast = scalar_like.to(dtype=other.dtype)
            return (cast, b) if a.ndim == 0 else (a, cast)
    return a, b


class BroadcastingFunction(Function):
    """A binary op whose operands broadcast; a shape mismatch is reported with the op's name and shapes."""
    backward_on_tensors = True
    true_division = False

    @classmethod
    def apply(cls, a, b):
        if a.dtype != b.dtype or (cls.true_division and a.dtype.kind in "biu"):
            a, b = torch_promoted(a, b, cls.true_division)
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
    true_division = True

    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        a, b = self.saved_inputs()
        ga = sum_to(gy / b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(-gy * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Remainder(BroadcastingFunction):
    """y = a - floor(a / b) * b (the sign of b, Python's %);  ga = gy,  gb = -gy * floor(a / b)"""

    def forward(self, a, b):
        return get_array_module(a).remainder(a, b)

    def backward(self, gy):
        a, b = self.saved_inputs()
        ga = sum_to(gy, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(-gy * floor_quotient(a, b), b.shape) if self.needs_input_grad[1] else None
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


class ScalarFunction(Function):
    """An op of a tensor x and a Python number c. As in PyTorch, an integer or bool x with a float c (or any c,
    for a division) is first made float32, torch's default float dtype, where NumPy would give float64; a bool x
    with an int c is made int64."""
    backward_on_tensors = True
    true_division = False

    @classmethod
    def apply(cls, x, **params):
        c, = params.values()
        if x.dtype.kind in "biu" and (cls.true_division or isinstance(c, float)):
            x = x.to(dtype=np.float32)
        elif x.dtype.kind == "b" and not isinstance(c, bool):           # bool with an int c: int64
            x = x.to(dtype=np.int64)
        return super(ScalarFunction, cls).apply(x, **params)


class AddScalar(ScalarFunction):
    """y = x + c;  gx = gy"""
    saves_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x + self.c

    def backward(self, gy):
        return gy


class MulScalar(ScalarFunction):
    """y = c * x;  gx = c * gy"""
    saves_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x * self.c

    def backward(self, gy):
        return gy * self.c


class DivScalar(ScalarFunction):
    """y = x / c;  gx = gy / c"""
    true_division = True
    saves_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x / self.c

    def backward(self, gy):
        return gy / self.c


class RSubScalar(ScalarFunction):
    """y = c - x;  gx = -gy"""
    saves_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return self.c - x

    def backward(self, gy):
        return -gy


class RDivScalar(ScalarFunction):
    """y = c / x;  gx = -gy * c / x^2"""
    true_division = True

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return self.c / x

    def backward(self, gy):
        x, = self.saved_inputs()
        return gy * -self.c / (x * x)


class PowScalar(ScalarFunction):
    """y = x ** p;  gx = gy * p * x^(p-1)"""

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


class RPowScalar(ScalarFunction):
    """y = c ** x;  gx = gy * y * log(c)"""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        self.y = self.c ** x
        return self.y

    def backward(self, gy):
        return gy * self.saved_output() * math.log(self.c)

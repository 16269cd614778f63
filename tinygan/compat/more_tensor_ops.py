"""More of PyTorch's tensor functions and methods, built from tinygan's ops: ``diag``, ``dot``, ``matrix_power``,
``remainder`` (and ``%``), ``sort``, ``unique``, the bitwise/logical operators ``& | ^ ~``, and the torch-level
``eq``/``ne``/``gt``/``lt``/``ge``/``le``, ``any``, ``all``, ``true_divide``.

The differentiable ones are compositions of recorded ops (``dot`` is ``(x * y).sum()``, ``diag`` indexing or a
product with 0/1 matrices, ``matrix_power`` repeated ``@``, ``sort``'s values a ``gather``), so their gradients
and second derivatives come from those ops; ``remainder`` is its own op (tinygan/ops/arithmetic.py). The methods
are the mixin ``MoreTensorMethods``, copied onto Tensor by ``install_tensor_methods`` (tinygan/compat/__init__.py).
"""
import collections

import numpy as np

from tinygan.core import Tensor, array_backend
from tinygan.ops import arithmetic as _arith
from tinygan.ops import shape as _shape

__all__ = ["all", "any", "diag", "dot", "eq", "ge", "gt", "le", "lt", "matrix_power", "ne", "remainder", "sort",
           "true_divide", "unique"]

SortResult = collections.namedtuple("sort", ["values", "indices"])      # torch.return_types.sort


def _xp(t):
    return array_backend.get_array_module(t.array)


def _constant(array):
    return Tensor.from_array(array)


def _as_operand(value, like, name):
    """A number as a 0-d tensor of ``like``'s dtype (float32 for a float with an integer tensor), as PyTorch."""
    if not isinstance(value, (Tensor, bool, int, float, np.number)):
        raise TypeError(f"{name}: expected a tensor or a number, got {type(value).__name__}")
    return _shape.operand_like(value, like)


class MoreTensorMethods:
    """Tensor methods copied onto the core's Tensor (see the module docstring)."""

    def remainder(self, other):
        """Python's modulus, with the sign of the divisor (torch's ``remainder``); differentiable."""
        return _arith.Remainder.apply(self, _as_operand(other, self, "remainder"))

    def __mod__(self, other):
        return self.remainder(other)

    def matrix_power(self, n):
        """The matrix (or each matrix of a batch) times itself n times (torch's ``matrix_power``); differentiable."""
        return matrix_power(self, n)

    def sort(self, dim=-1, descending=False, stable=False):
        """(values, indices) sorted along ``dim`` (torch's ``sort``); the values are differentiable."""
        return sort(self, dim=dim, descending=descending, stable=stable)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002 (torch's name)
        """The distinct values, sorted (torch's ``unique``); not differentiable."""
        return unique(self, sorted, return_inverse, return_counts, dim)

    def __and__(self, other):
        return _bitwise(self, other, "bitwise_and", "&")

    def __or__(self, other):
        return _bitwise(self, other, "bitwise_or", "|")

    def __xor__(self, other):
        return _bitwise(self, other, "bitwise_xor", "^")

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self):
        if self.dtype.kind not in "biu":
            raise TypeError(f"~ (bitwise_not): only bool and integer tensors, got {self.dtype}")
        return _constant(_xp(self).invert(self.array))


MORE_INSTALLED_DUNDERS = ("__mod__", "__and__", "__or__", "__xor__", "__rand__", "__ror__", "__rxor__",
                          "__invert__")


def _bitwise(a, b, op, symbol):
    b = _as_operand(b, a, op)
    if a.dtype.kind not in "biu" or b.dtype.kind not in "biu":
        raise TypeError(f"{symbol} ({op}): only bool and integer tensors, got {a.dtype} and {b.dtype}")
    return _constant(getattr(_xp(a), op)(a.array, b.array))


# ==================================================================================================
# Functions
# ==================================================================================================
def remainder(input, other):
    """torch.remainder: input - floor(input / other) * other; differentiable."""
    if not isinstance(input, Tensor):
        return _as_operand(input, other, "remainder").remainder(other)
    return input.remainder(other)


def true_divide(input, other):
    """torch.true_divide, the alias of torch.div: true division (integers give float32)."""
    return input / other


def eq(input, other):
    return input == other


def ne(input, other):
    return input != other


def gt(input, other):
    return input > other


def lt(input, other):
    return input < other


def ge(input, other):
    return input >= other


def le(input, other):
    return input <= other


def any(input, dim=None, keepdim=False):  # noqa: A001 (torch's name)
    """torch.any: True where some element (over ``dim``) is nonzero."""
    return input.any(dim=dim, keepdim=keepdim)


def all(input, dim=None, keepdim=False):  # noqa: A001 (torch's name)
    """torch.all: True where every element (over ``dim``) is nonzero."""
    return input.all(dim=dim, keepdim=keepdim)


def dot(input, other):
    """torch.dot: the inner product of two 1-D tensors of one dtype and length; differentiable."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.dtype != other.dtype:
        raise RuntimeError(f"dot: expected both vectors to have same dtype, but found {input.dtype} and "
                           f"{other.dtype}")
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(f"dot: inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
                           f"[{other.shape[0]}] to have the same number of elements")
    return (input * other).sum()


def diag(input, diagonal=0):
    """torch.diag: a 1-D tensor -> the square matrix with it on diagonal ``diagonal`` (0 the main one, > 0 above,
    < 0 below); a 2-D tensor -> that diagonal of it. Differentiable."""
    k = int(diagonal)
    if input.ndim == 2:
        rows, cols = input.shape
        n = max(0, min(rows + min(k, 0), cols - max(k, 0)))          # the diagonal's length
        at = _xp(input).arange(n)
        return input[_constant(at + max(-k, 0)), _constant(at + max(k, 0))]
    if input.ndim != 1:
        raise RuntimeError(f"diag: expected a 1D or 2D tensor, got {input.ndim}D")
    n = input.shape[0]
    m = n + abs(k)
    xp, at = _xp(input), _xp(input).arange(n)
    place_rows = xp.zeros((m, n), dtype=input.dtype)               # (m, n): element i goes to row i + max(-k, 0)
    place_rows[at + max(-k, 0), at] = 1
    place_cols = xp.zeros((n, m), dtype=input.dtype)               # (n, m): ... and to column i + max(k, 0)
    place_cols[at, at + max(k, 0)] = 1
    return (_constant(place_rows) * input) @ _constant(place_cols)  # (m, n) * (n,) -> (m, n); @ (n, m) -> (m, m)


def matrix_power(input, n):
    """torch.matrix_power: the square matrix (or each of a batch) multiplied by itself n times; n = 0 gives the
    identity. Differentiable. Negative n needs the inverse, which tinygan does not have."""
    if input.ndim < 2 or input.shape[-1] != input.shape[-2]:
        raise RuntimeError(f"matrix_power: expected a square matrix or a batch of them, got shape "
                           f"{tuple(input.shape)}")
    n = int(n)
    if n < 0:
        raise NotImplementedError("matrix_power: negative powers need the matrix inverse, which tinygan lacks")
    if n == 0:
        eye = _xp(input).eye(input.shape[-1], dtype=input.dtype)
        return _constant(_xp(input).broadcast_to(eye, input.shape).copy())
    result = input
    for _ in range(n - 1):
        result = result @ input
    return result


def sort(input, dim=-1, descending=False, stable=False):
    """torch.sort: (values, indices) along ``dim``, ascending unless ``descending``; values differentiable (a
    gather of ``input``); equal elements keep their order (a stable sort, which torch gives with stable=True)."""
    xp = _xp(input)
    if input.ndim == 0:
        return SortResult(input.clone(), _constant(xp.zeros((), dtype=np.int64)))
    if descending:
        order = xp.flip(xp.argsort(xp.flip(input.array, axis=dim), axis=dim, kind="stable"), axis=dim)
        order = input.shape[dim] - 1 - order                          # back to positions in the unflipped input
    else:
        order = xp.argsort(input.array, axis=dim, kind="stable")
    indices = _constant(order.astype(np.int64))
    return SortResult(input.gather(dim, indices), indices)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """torch.unique: the distinct values (of the flattened tensor, or the distinct slices along ``dim``),
    sorted; with ``return_inverse`` where each element went, with ``return_counts`` how often each occurs."""
    xp = _xp(input)
    values, inverse, counts = xp.unique(input.array, return_inverse=True, return_counts=True, axis=dim)
    shape = input.shape if dim is None else (input.shape[dim],)
    out = [_constant(values)]
    if return_inverse:
        out.append(_constant(inverse.reshape(shape).astype(np.int64)))   # one index per element (per slice)
    if return_counts:
        out.append(_constant(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)

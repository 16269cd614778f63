"""Constant padding (F.pad, nn.ZeroPad2d, nn.ConstantPad2d): widen each axis by ``before`` and ``after``
elements of ``value``; a negative amount cuts that many elements off instead, as in PyTorch.

Padding with zeros is linear, and its adjoint is padding by the opposite amounts: the gradient drops what was
added and gets zeros where elements were cut. With another ``value`` the map is affine, with the same
linear part, so the same backward:

    y = pad(x, (b, a) per axis, value)        gx = pad(gy, (-b, -a) per axis, 0)
"""
import operator

from tinygan.core.array_backend import get_array_module
from tinygan.core.function import Function


def pad_array(x, pads, value):
    """x with ``pads[axis] = (before, after)`` elements of ``value`` added (negative: removed) on each axis."""
    xp = get_array_module(x)
    out_shape = tuple(n + b + a for n, (b, a) in zip(x.shape, pads))
    y = xp.full(out_shape, value, dtype=x.dtype)
    # y[j] = x[j - before] wherever both exist: j in [max(before, 0), min(out, n + before)) on each axis
    kept = [(max(b, 0), min(m, n + b), b) for n, m, (b, a) in zip(x.shape, out_shape, pads)]
    if all(lo < hi for lo, hi, _ in kept):
        y[tuple(slice(lo, hi) for lo, hi, _ in kept)] = x[tuple(slice(lo - b, hi - b) for lo, hi, b in kept)]
    return y


class Pad(Function):
    """y = x with (before, after) elements of value added per axis, removed where negative (PyTorch: F.pad,
    mode="constant");  gx = gy with the opposite amounts: crop what was added, zeros where x was cut"""
    saves_inputs = False

    def __init__(self, pads, value):
        self.pads, self.value = pads, value                        # pads: one (before, after) per axis of x

    def forward(self, x):
        return pad_array(x, self.pads, self.value)

    def backward(self, gy):
        return pad_array(gy, _opposite(self.pads), 0)

    def backward_graph(self, gy):
        return Pad.apply(gy, pads=_opposite(self.pads), value=0)


def _opposite(pads):
    return tuple((-b, -a) for b, a in pads)


# ==================================================================================================
# Argument checks, called by F.pad
# ==================================================================================================
def pad_arguments(shape, pad):
    """PyTorch's pad tuple (last axis first: left, right, top, bottom, ...) -> one (before, after) per axis
    of ``shape``; raises when it is malformed or would leave an axis with a negative size."""
    try:
        pad = tuple(operator.index(p) for p in pad)
    except TypeError:
        raise TypeError(f"pad: pad must be a sequence of ints (left, right, top, bottom, ...), got {pad!r}") from None
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2 (a before and an after per axis), got {pad}")
    if len(pad) > 2 * len(shape):
        raise ValueError(f"pad: padding length should be less than or equal to two times the input dimension "
                         f"but got padding length {len(pad)} and input of dimension {len(shape)}")
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)][::-1]   # last axis first -> axis order
    pads = ((0, 0),) * (len(shape) - len(pairs)) + tuple(pairs)
    for axis, (n, (b, a)) in enumerate(zip(shape, pads)):
        if n + b + a < 0:
            raise ValueError(f"pad: padding ({b}, {a}) on dimension {axis} of size {n} (input shape "
                             f"{tuple(shape)}) would leave a negative size {n + b + a}")
    return pads

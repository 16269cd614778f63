"""ZeroPad2d and ConstantPad2d: F.pad on the last two axes of (N, C, H, W) or (C, H, W) input.

``padding`` is an int (all four sides) or (left, right, top, bottom), PyTorch's order; negative amounts crop.
"""
import operator

from tinygan import functional as F
from tinygan.nn.module import Module, call_naming_errors, check_input


class ConstantPad2d(Module):
    """Pad the last two axes with ``value``: (N, C, H, W) -> (N, C, H + top + bottom, W + left + right)."""

    def __init__(self, padding, value):
        super().__init__()
        self.padding = _quadruple(type(self).__name__, padding)
        self.value = value

    def forward(self, x):
        check_input(self, x, lambda x: x.ndim in (3, 4), "(N, C, H, W) or (C, H, W)")
        return call_naming_errors(self, F.pad, x, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last two axes with zeros: (N, C, H, W) -> (N, C, H + top + bottom, W + left + right)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


def _quadruple(layer, padding):
    """An int or (left, right, top, bottom) -> a tuple of four ints."""
    try:
        pads = (operator.index(padding),) * 4 if not hasattr(padding, "__len__") else \
            tuple(map(operator.index, padding))
    except TypeError:
        pads = ()
    if len(pads) != 4:
        raise TypeError(f"{layer}: padding must be an int or a tuple (left, right, top, bottom), got {padding!r}")
    return pads

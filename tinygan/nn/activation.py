"""Activation layers: ReLU, LeakyReLU, Tanh, Sigmoid.

``inplace`` is accepted for PyTorch code (``nn.ReLU(True)``, ``nn.LeakyReLU(0.2, inplace=True)``) and
shown in the repr, but the result is always a new tensor: the values are the same, and autodiff stays simple.
"""
from tinygan import functional as F
from tinygan.nn.module import Module


class ReLU(Module):
    """max(x, 0) elementwise."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Tanh(Module):
    """tanh(x) elementwise."""

    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x)) elementwise."""

    def forward(self, x):
        return F.sigmoid(x)

"""Dropout layers: in training, zero each element (Dropout) or each whole channel (Dropout2d) with probability p
and scale the rest by 1/(1-p); the identity in evaluation mode."""
from tinygan import functional as F
from tinygan.nn.module import Module


class _DropoutNd(Module):
    """What the dropout layers share: p, checked, and ``inplace``, accepted for PyTorch code (``nn.Dropout(0.5,
    inplace=True)``) and shown in the repr; the result is always a new tensor."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Inverted dropout in training mode (masks drawn from tinygan's seeded generator); identity in eval."""

    def forward(self, x):
        return F.dropout(x, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Channel dropout for (N, C, H, W) feature maps: each (n, c) channel is zeroed whole with probability p,
    the others scaled by 1/(1-p) (masks of shape (N, C, 1, 1)); identity in eval."""

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training)

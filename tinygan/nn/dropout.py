"""Dropout: in training, zero each element with probability p and scale the rest by 1/(1-p)."""
from tinygan import functional as F
from tinygan.nn.module import Module


class Dropout(Module):
    """Inverted dropout in training mode (masks drawn from tinygan's seeded generator); identity in eval."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"

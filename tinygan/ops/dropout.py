"""Inverted dropout: zero each element with probability p and scale the survivors by 1 / (1 - p), so the
expected output equals the input and evaluation needs no rescaling.
"""
from tinygan import backend
from tinygan.tensor import Function


class Dropout(Function):
    """y = x * mask / (1 - p), mask ~ Bernoulli(1 - p);  gx = gy * mask / (1 - p) (the same mask)"""

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        xp = backend.get_array_module(x)
        dtype = x.dtype if x.dtype.kind == "f" and x.dtype.itemsize >= 4 else xp.dtype("float32")
        keep = backend.rand(x.shape, dtype, backend.device_of(x)) >= self.p   # P(keep) = 1 - p
        if self.p == 1:
            self.mask = xp.zeros(x.shape, dtype=x.dtype)        # everything dropped (no 1 / 0)
        else:
            self.mask = keep.astype(x.dtype) * (1 / (1 - self.p))
        return x * self.mask

    def backward(self, gy):
        return gy * self.mask

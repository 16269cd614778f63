"""Inverted dropout: zero each element (or, for dropout2d, each whole channel) with probability p and scale the
survivors by 1 / (1 - p), so the expected output equals the input and evaluation needs no rescaling.

Once its mask is drawn, dropout is the linear map x -> x * mask, its own adjoint: the gradient is multiplied
by the same mask, and so is the gradient of that gradient (the same backward, run on Tensors).
"""
from tinygan import rng
from tinygan.core import array_backend
from tinygan.core.function import Function


class MaskMultiply(Function):
    """y = x * mask (a fixed array broadcasting to x);  gx = gy * mask (the same mask: the map is self-adjoint)"""
    saves_inputs = False
    backward_on_tensors = True                                     # gy * mask: on arrays and Tensors alike

    def __init__(self, mask):
        self.mask = mask

    def forward(self, x):
        return x * self.mask

    def backward(self, gy):
        return gy * self.mask


class Dropout(MaskMultiply):
    """y = x * mask / (1 - p), mask ~ Bernoulli(1 - p) of shape mask_shape, broadcast over x (PyTorch: dropout,
    and dropout2d with mask_shape (N, C, 1, 1));  gx = gy * mask / (1 - p) (the same mask)"""

    def __init__(self, p, mask_shape=None):
        self.p = p
        self.mask_shape = mask_shape                               # None: x's shape, one draw per element

    def forward(self, x):
        xp = array_backend.get_array_module(x)
        shape = x.shape if self.mask_shape is None else self.mask_shape
        if self.p == 1:
            self.mask = xp.zeros(shape, dtype=x.dtype)             # everything dropped (no 1 / 0)
        else:
            dtype = x.dtype if x.dtype.kind == "f" and x.dtype.itemsize >= 4 else xp.dtype("float32")
            keep = rng.rand(shape, dtype, array_backend.device_of(x)) >= self.p   # P(keep) = 1 - p
            self.mask = keep.astype(x.dtype) * (1 / (1 - self.p))
        return x * self.mask

"""Embedding lookup: row i of the output is row ids[i] of the weight table."""
from tinygan import backend
from tinygan.tensor import Function


class Embedding(Function):
    """y = weight[ids];  gweight = zeros with gy's rows added at ids (repeated ids accumulate)"""

    def __init__(self, ids, padding_idx=None):
        self.ids, self.padding_idx = ids, padding_idx

    def forward(self, weight):
        self.weight_shape = weight.shape
        return weight[self.ids]                                  # ids.shape -> ids.shape + (D,)

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        gweight = xp.zeros(self.weight_shape, dtype=gy.dtype)
        D = self.weight_shape[1]
        backend.scatter_add(gweight, self.ids.reshape(-1), gy.reshape(-1, D))   # (..., D) -> (M, D)
        if self.padding_idx is not None:
            gweight[self.padding_idx] = 0                        # the padding row never learns
        return gweight

"""Embedding lookup: row i of the output is row ids[i] of the weight table."""
from tinygan.core import array_backend
from tinygan.core.function import Function
from tinygan.core.tensor import constant
from tinygan.ops.shape import IndexAdd


class Embedding(Function):
    """y = weight[ids];  gweight = zeros with gy's rows added at ids (repeated ids accumulate)"""
    saves_inputs = False                                         # backward reads only the ids

    def __init__(self, ids, padding_idx=None):
        self.ids, self.padding_idx = ids, padding_idx

    def forward(self, weight):
        self.weight_shape = weight.shape
        return weight[self.ids]                                  # ids.shape -> ids.shape + (D,)

    def backward(self, gy):
        xp = array_backend.get_array_module(gy)
        gweight = xp.zeros(self.weight_shape, dtype=gy.dtype)
        D = self.weight_shape[1]
        array_backend.scatter_add(gweight, self.ids.reshape(-1), gy.reshape(-1, D))   # (..., D) -> (M, D)
        if self.padding_idx is not None:
            gweight[self.padding_idx] = 0                        # the padding row never learns
        return gweight

    def backward_graph(self, gy):
        """The same scatter-add as an op (``IndexAdd``: its backward gathers the rows at ids again), times a
        constant 0/1 row mask for the padding row: linear in gy, so differentiable any number of times."""
        D = self.weight_shape[1]
        gweight = IndexAdd.apply(gy.reshape(-1, D), index=self.ids.reshape(-1),     # (..., D) -> (M, D)
                                 shape=self.weight_shape)
        if self.padding_idx is not None:
            xp = array_backend.get_array_module(gy.array)
            keep = xp.ones((self.weight_shape[0], 1), dtype=gy.dtype)            # (num_embeddings, 1)
            keep[self.padding_idx] = 0
            gweight = gweight * constant(keep)
        return gweight

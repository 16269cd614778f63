"""Embedding: a lookup table of learnable vectors, one row per id (class label in a conditional GAN)."""
import numpy as np

from tinygan import functional as F
from tinygan.core import array_backend, array_of
from tinygan.nn import init
from tinygan.nn.module import Module, Parameter, empty_parameter


class Embedding(Module):
    """y[..., :] = weight[ids[...], :], with weight of shape (num_embeddings, embedding_dim) ~ N(0, 1).

    The row ``padding_idx`` (if given) starts at 0 and receives no gradient, as in PyTorch. ``_weight`` gives the
    table (its array shared) and ``_freeze=True`` keeps it fixed (how PyTorch's from_pretrained builds one)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None):
        super().__init__()
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise NotImplementedError("Embedding: max_norm, scale_grad_by_freq and sparse are not supported")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for "
                                 f"{self.num_embeddings} embeddings")
            padding_idx %= self.num_embeddings
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = empty_parameter(self.num_embeddings, self.embedding_dim, device=device, dtype=dtype)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"Embedding: _weight must have shape ({self.num_embeddings}, "
                                 f"{self.embedding_dim}), got {tuple(_weight.shape)}")
            self.weight = Parameter(_weight, requires_grad=not _freeze)
        if _freeze:
            self.weight.requires_grad_(False)

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0               # its row stays 0: it gets no gradient

    def forward(self, ids):
        raw = array_of(ids)
        if not hasattr(raw, "dtype"):
            raw = ids = np.asarray(ids)                          # a (nested) list of ids
        if raw.dtype.kind not in ("i", "u"):
            raise TypeError(f"{self._error_name()} expected integer ids, got dtype {raw.dtype}")
        # the range check reads values back, so only on the CPU (on the GPU it would sync every step)
        if array_backend.device_of(raw) == "cpu" and raw.size:
            low, high = int(raw.min()), int(raw.max())
            if low < 0 or high >= self.num_embeddings:
                raise IndexError(f"{self._error_name()} expected ids in [0, {self.num_embeddings}), got values "
                                 f"in [{low}, {high}]")
        return F.embedding(ids, self.weight, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s if self.padding_idx is None else s + f", padding_idx={self.padding_idx}"

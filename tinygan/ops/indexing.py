"""Indexing along one axis, as PyTorch's gather, scatter, scatter_add, index_select and repeat_interleave.

For dim = 1 (any dim alike): gather picks y[i][j] = x[i][index[i][j]], scatter writes x[i][index[i][j]] = src[i][j],
scatter_add adds there. Each is NumPy advanced indexing with ``positions(index, dim)``: index along ``dim``, and
along every other axis the position of index's own entry. Gather and index_select are ``GetItem`` (tinygan/ops/
shape.py) with those positions, so their backward is a scatter-add and their adjoint op gathers again; scatter's
and scatter_add's backwards gather, so every op here is differentiable any number of times.

The wrappers at the end check their arguments (the op, the dim and the bad index or shape named) for the Tensor
methods and torch-level functions in tinygan/compat/.
"""
import numpy as np

from tinygan.core import array_backend
from tinygan.core.array_backend import get_array_module
from tinygan.core.function import Function
from tinygan.core.tensor import Tensor, array_of
from tinygan.ops.shape import GetItem, IndexAdd


def positions(index, dim):
    """The advanced index that sends entry k of ``index`` to x[..., index[k], ...] with ``index[k]`` on axis
    ``dim`` and k's own position on the other axes."""
    xp = get_array_module(index)
    grids = [xp.arange(n).reshape([-1 if axis == d else 1 for axis in range(index.ndim)])   # (n,) -> (1, n, 1)
             for d, n in enumerate(index.shape)]
    grids[dim] = index
    return tuple(grids)


def _corner(shape):
    """The slices that pick the leading block of ``shape`` (src may be larger than index in any axis)."""
    return tuple(slice(0, n) for n in shape)


def _grown(g, shape):
    """g placed in the leading corner of zeros of ``shape``: the gradient of src[_corner(g.shape)]."""
    if tuple(g.shape) == tuple(shape):
        return g
    if isinstance(g, Tensor):
        return IndexAdd.apply(g, index=_corner(g.shape), shape=tuple(shape))
    out = get_array_module(g).zeros(shape, dtype=g.dtype)
    out[_corner(g.shape)] = g
    return out


class Gather(GetItem):
    """y[i][j] = x[i][index[i][j]] (dim 1);  gx = zeros with gy[i][j] added at [i][index[i][j]] (scatter-add)"""


class IndexSelect(GetItem):
    """y = x[:, index] (dim 1, index 1-D);  gx = zeros with gy's slices added at index (repeats accumulate)"""


class ScatterAdd(Function):
    """y = x with src[i][j] added at [i][index[i][j]] (dim 1; repeats accumulate);  gx = gy,  gsrc = gather(gy)"""
    backward_on_tensors = True
    saves_inputs = False

    def __init__(self, where, index_shape):
        self.where, self.index_shape = where, index_shape

    def forward(self, x, src):
        self.src_shape = src.shape
        y = x.copy()
        array_backend.scatter_add(y, self.where, src[_corner(self.index_shape)])
        return y

    def backward(self, gy):
        gsrc = _grown(gy[self.where], self.src_shape) if self.needs_input_grad[1] else None
        return gy, gsrc


class Scatter(Function):
    """y = x with src[i][j] (or a number) written at [i][index[i][j]] (dim 1);  gx = gy with 0 where written,
    gsrc = gather(gy) (PyTorch's: with a repeated index the written value is one of the candidates)"""
    backward_on_tensors = True
    saves_inputs = False

    def __init__(self, where, index_shape, value=None):
        self.where, self.index_shape, self.value = where, index_shape, value

    def forward(self, x, *src):
        xp = get_array_module(x)
        self.kept = xp.ones(x.shape, dtype=np.bool_)             # a constant mask: 0 where a value is written
        self.kept[self.where] = False
        y = x.copy()
        if src:
            self.src_shape = src[0].shape
            y[self.where] = src[0][_corner(self.index_shape)]
        else:
            y[self.where] = self.value
        return y

    def backward(self, gy):
        gx = gy * self.kept if self.needs_input_grad[0] else None
        if len(self.needs_input_grad) == 1:
            return gx
        return gx, (_grown(gy[self.where], self.src_shape) if self.needs_input_grad[1] else None)


# ==================================================================================================
# The checked entry points: tinygan/compat's Tensor methods and torch-level functions call these
# ==================================================================================================
def gather(x, dim, index):
    """torch.gather: y[i][j] = x[i][index[i][j]] for dim 1, y of index's shape."""
    dim, index = _checked_index("gather", x, dim, index)
    return Gather.apply(x, index=positions(index, dim))


def scatter(x, dim, index, src, add=False, name="scatter"):
    """torch.scatter (src a tensor or a number) and, with ``add``, torch.scatter_add: x with src[i][j] written
    (or added) at [i][index[i][j]] for dim 1; out of place."""
    dim, index = _checked_index(name, x, dim, index, getattr(src, "shape", None))
    where = positions(index, dim)
    if not isinstance(src, Tensor):
        if add or hasattr(src, "shape"):
            raise TypeError(f"{name}: src must be a Tensor, got {type(src).__name__}")
        return Scatter.apply(x, where=where, index_shape=index.shape, value=src)
    if src.dtype != x.dtype:
        raise RuntimeError(f"{name}: expected src of the input's dtype {x.dtype}, got {src.dtype}")
    op = ScatterAdd if add else Scatter
    return op.apply(x, src, where=where, index_shape=index.shape)


def index_select(x, dim, index):
    """torch.index_select: the slices x[..., index[k], ...] along ``dim``, in index's order."""
    index = _index_array("index_select", index, x)
    if index.ndim > 1:
        raise RuntimeError(f"index_select: index must be 1-D (a vector), got shape {tuple(index.shape)}")
    dim = _dim("index_select", dim, x.ndim)
    index = index.reshape(-1)                                    # 0-d -> (1,)
    _check_bounds("index_select", index, dim, x.shape[dim])
    return IndexSelect.apply(x, index=(slice(None),) * dim + (index,))


def repeat_interleave(x, repeats=None, dim=None, output_size=None):
    """torch.repeat_interleave: each slice along ``dim`` repeated repeats (or repeats[k]) times; dim None: the
    flattened tensor. Given only integer ``repeats`` as x: the indices 0, 1, ... each repeated so often."""
    if repeats is None:
        counts = _repeat_counts(x, None)
        return Tensor.from_array(array_backend.to_device(np.repeat(np.arange(len(counts)), counts), x.device))
    if dim is None:
        x, dim = x.reshape(-1), 0                                # x.shape -> (numel,)
    dim = _dim("repeat_interleave", dim, x.ndim)
    n = x.shape[dim]
    counts = _repeat_counts(repeats, n)
    index = np.repeat(np.arange(n), counts)
    if output_size is not None and output_size != len(index):
        raise RuntimeError(f"repeat_interleave: output_size={output_size} but the repeats add up to {len(index)}")
    return index_select(x, dim, Tensor.from_array(array_backend.to_device(index, x.device)))


def _repeat_counts(repeats, n):
    """The repeat count of each of n slices, as a NumPy array (a GPU tensor of counts is read back, as in
    PyTorch without output_size)."""
    counts = array_backend.to_device(array_of(repeats), "cpu") if hasattr(array_of(repeats), "dtype") else repeats
    counts = np.asarray(counts)
    if counts.dtype.kind not in "iu":
        raise RuntimeError(f"repeat_interleave: repeats must be integers, got dtype {counts.dtype}")
    if counts.ndim > 1 or (n is not None and counts.ndim == 1 and counts.size not in (1, n)):
        raise RuntimeError(f"repeat_interleave: repeats must be a number or have shape ({n},), got shape "
                           f"{counts.shape}")
    if counts.size and counts.min() < 0:
        raise RuntimeError(f"repeat_interleave: repeats must be non-negative, got {int(counts.min())}")
    return np.broadcast_to(counts.reshape(-1), (counts.size if n is None else n,))


def _dim(name, dim, ndim):
    if ndim == 0:
        raise RuntimeError(f"{name}: a 0-d input is not supported by tinygan; reshape it to (1,) first")
    if not -ndim <= dim < ndim:
        raise IndexError(f"{name}: dimension {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % ndim


def _index_array(name, index, like):
    """An integer index (tensor, array or list) as an array on ``like``'s device."""
    array = array_of(index)
    if not hasattr(array, "dtype"):
        array = np.asarray(array)
    if array.dtype.kind not in "iu":
        raise RuntimeError(f"{name}: expected an integer (int64) index, got dtype {array.dtype}")
    return array_backend.to_device(array, like.device)


def _check_bounds(name, index, dim, size):
    """Every index in [0, size), checked on the CPU only (on the GPU it would read the index back: a host sync)."""
    if index.size and array_backend.device_of(index) == "cpu":
        bad = (index < 0) | (index >= size)
        if bad.any():
            raise RuntimeError(f"{name}: index {int(index[bad][0])} is out of bounds for dimension {dim} with "
                               f"size {size}")


def _checked_index(name, x, dim, index, src_shape=None):
    """(dim as a non-negative axis, index as an array), with the rules of gather and scatter checked: index has
    x's number of dimensions, is no larger than x apart from ``dim`` (nor than src anywhere), and in range."""
    index = _index_array(name, index, x)
    dim = _dim(name, dim, x.ndim)
    if index.ndim != x.ndim:
        raise RuntimeError(f"{name}: index needs as many dimensions as the input ({x.ndim}), got index of shape "
                           f"{tuple(index.shape)} for input of shape {tuple(x.shape)}")
    for d, (i, n) in enumerate(zip(index.shape, x.shape)):
        if d != dim and i > n:
            raise RuntimeError(f"{name}: index of shape {tuple(index.shape)} is larger than the input of shape "
                               f"{tuple(x.shape)} in dimension {d} (only dimension {dim} may differ)")
    if src_shape is not None and (len(src_shape) != index.ndim or any(i > s for i, s in zip(index.shape, src_shape))):
        raise RuntimeError(f"{name}: index of shape {tuple(index.shape)} must be no larger than src of shape "
                           f"{tuple(src_shape)} in every dimension")
    _check_bounds(name, index, dim, x.shape[dim])
    return dim, index

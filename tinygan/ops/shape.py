"""Operations that move elements around without changing them: reshape, transpose, cat, stack,
broadcast_to, indexing, and moves between devices. Each backward moves the gradient back the same way, written
once for arrays and Tensors (``backward_on_tensors``); indexing's scatter-add has its adjoint op instead.
"""
import itertools

import numpy as np

from tinygan.core import array_backend
from tinygan.core.array_backend import get_array_module
from tinygan.core.function import Function
from tinygan.core.tensor import Tensor, array_of
from tinygan.ops.on_both import sum_to, to_device, transpose, where


class Reshape(Function):
    """y = x viewed with a new shape;  gx = gy reshaped back to x's shape"""
    backward_on_tensors = True
    saves_inputs = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        try:
            return x.reshape(self.shape)                         # x.shape -> self.shape
        except ValueError:
            raise ValueError(f"reshape: cannot view a tensor of shape {x.shape} ({x.size} elements) "
                             f"as shape {tuple(self.shape)}") from None

    def backward(self, gy):
        return gy.reshape(self.x_shape)                          # self.shape -> x.shape


class Permute(Function):
    """y = x with its axes reordered;  gx = gy with the inverse order"""
    backward_on_tensors = True
    saves_inputs = False

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        if sorted(a % x.ndim for a in self.axes) != list(range(x.ndim)):
            raise ValueError(f"permute: {tuple(self.axes)} is not a permutation of the {x.ndim} axes of {x.shape}")
        self.axes = tuple(a % x.ndim for a in self.axes)
        return x.transpose(self.axes)                            # axis i of y is axis axes[i] of x

    def backward(self, gy):
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return transpose(gy, tuple(inverse))                     # undo the reordering


class BroadcastTo(Function):
    """y = x copied along new or size-1 axes;  gx = gy summed over them"""
    backward_on_tensors = True
    saves_inputs = False

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        try:
            return get_array_module(x).broadcast_to(x, self.shape)
        except ValueError:
            raise ValueError(f"expand: shape {x.shape} cannot broadcast to {self.shape}") from None

    def backward(self, gy):
        return sum_to(gy, self.x_shape)


class Cat(Function):
    """y = x1, x2, ... joined along ``dim``;  gx_i = the slice of gy that came from x_i"""
    backward_on_tensors = True
    saves_inputs = False

    def __init__(self, dim=0):
        self.dim = dim

    def forward(self, *xs):
        xp = get_array_module(*xs)
        self.sizes = [x.shape[self.dim] for x in xs]
        try:
            return xp.concatenate(xs, axis=self.dim)
        except ValueError:
            shapes = ", ".join(str(x.shape) for x in xs)
            raise ValueError(f"cat: shapes {shapes} cannot be joined along dim {self.dim}") from None

    def backward(self, gy):
        bounds = [0] + list(itertools.accumulate(self.sizes))    # where each input's slice starts and ends
        lead = (slice(None),) * (self.dim % gy.ndim)
        return tuple(gy[lead + (slice(a, b),)] for a, b in zip(bounds, bounds[1:]))


class Stack(Function):
    """y = x1, x2, ... stacked along a new axis ``dim``;  gx_i = gy's slice i along that axis"""
    backward_on_tensors = True
    saves_inputs = False

    def __init__(self, dim=0):
        self.dim = dim

    def forward(self, *xs):
        xp = get_array_module(*xs)
        try:
            return xp.stack(xs, axis=self.dim)
        except ValueError:
            shapes = ", ".join(str(x.shape) for x in xs)
            raise ValueError(f"stack: all tensors need the same shape, got {shapes}") from None

    def backward(self, gy):
        lead = (slice(None),) * (self.dim % gy.ndim)
        return tuple(gy[lead + (i,)] for i in range(gy.shape[self.dim]))   # (.., n, ..) -> n without that axis


class GetItem(Function):
    """y = x[index];  gx = zeros with gy added at index (repeated indices accumulate)"""
    saves_inputs = False

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.x_shape, self.x_dtype = x.shape, x.dtype
        return x[self.index]

    def backward(self, gy):
        xp = get_array_module(gy)
        gx = xp.zeros(self.x_shape, dtype=gy.dtype)
        if _is_basic_index(self.index):
            gx[self.index] = gy                                  # slices never repeat an element
        else:
            array_backend.scatter_add(gx, self.index, gy)
        return gx

    def backward_graph(self, gy):
        return IndexAdd.apply(gy, index=self.index, shape=self.x_shape)


class IndexAdd(Function):
    """y = zeros(shape) with x added at index (GetItem's backward as an op);  gx = gy[index]"""
    backward_on_tensors = True
    saves_inputs = False

    def __init__(self, index, shape):
        self.index, self.shape = index, shape

    def forward(self, x):
        y = get_array_module(x).zeros(self.shape, dtype=x.dtype)
        if _is_basic_index(self.index):
            y[self.index] = x                                    # slices never repeat an element
        else:
            array_backend.scatter_add(y, self.index, x)
        return y

    def backward(self, gy):
        return gy[self.index]


def _is_basic_index(index):
    """True for ints, slices, None and Ellipsis: indexing that picks each element at most once."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


class ToDevice(Function):
    """y = x copied to another device;  gx = gy copied back"""
    backward_on_tensors = True
    saves_inputs = False

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        self.x_device = array_backend.device_of(x)
        return array_backend.to_device(x, self.device)

    def backward(self, gy):
        return to_device(gy, self.x_device)


class Clone(Function):
    """y = a copy of x (torch's ``clone``);  gx = gy"""
    backward_on_tensors = True
    saves_inputs = False                                         # backward reads no input values

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


class Where(Function):
    """y = x where condition, other elsewhere (torch.where);  gx = gy where condition, 0 elsewhere;
    gother = gy where not condition, 0 elsewhere"""
    backward_on_tensors = True
    saves_inputs = False                                         # backward reads only the condition

    def __init__(self, condition):
        self.condition = condition

    @classmethod
    def apply(cls, condition, x, other):
        """Broadcast a boolean ``condition`` and ``x``, ``other`` (tensors, or numbers taking the tensor's dtype)
        to one shape and dtype, then pick."""
        like = x if isinstance(x, Tensor) else other
        if not isinstance(like, Tensor):
            raise TypeError("where: x or other must be a tensor")
        x, other = operand_like(x, like), operand_like(other, like)
        c = array_of(condition)
        if not hasattr(c, "dtype"):
            c = np.asarray(c)
        c = array_backend.to_device(c, like.device)
        if c.dtype != np.bool_:
            raise TypeError(f"where: condition must be a boolean tensor, got dtype {c.dtype}")
        try:
            shape = np.broadcast_shapes(c.shape, x.shape, other.shape)
        except ValueError:
            raise ValueError(f"where: shapes {tuple(c.shape)} (condition), {tuple(x.shape)} and "
                             f"{tuple(other.shape)} cannot broadcast") from None
        dtype = np.result_type(x.dtype, other.dtype)
        x, other = (t.to(dtype=dtype) for t in (x, other))
        x, other = (t if t.shape == shape else BroadcastTo.apply(t, shape=shape) for t in (x, other))
        return super().apply(x, other, condition=get_array_module(c).broadcast_to(c, shape))

    def forward(self, x, other):
        return get_array_module(x).where(self.condition, x, other)

    def backward(self, gy):
        gx = where(self.condition, gy, 0) if self.needs_input_grad[0] else None
        gother = where(self.condition, 0, gy) if self.needs_input_grad[1] else None
        return gx, gother


def operand_like(value, like):
    """A tensor operand as it is; a number as a constant tensor on ``like``'s device, in ``like``'s dtype (a float
    with an integer tensor: float32, as PyTorch)."""
    if isinstance(value, Tensor):
        return value
    dtype = np.float32 if isinstance(value, float) and like.dtype.kind != "f" else like.dtype
    return Tensor.from_array(array_backend.xp_for(like.device).asarray(value, dtype=dtype))


# ==================================================================================================
# Pixel shuffle's checks (the op itself is a reshape, a permute and a reshape, in tinygan/functional.py)
# ==================================================================================================
def shuffle_factor(op, name, factor):
    """The upscale / downscale factor as a positive int, or a clear error."""
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor <= 0:
        raise ValueError(f"{op}: {name} must be a positive int, got {factor!r}")
    return int(factor)


def check_pixel_shuffle(x, r):
    if x.ndim < 3 or x.shape[-3] % (r * r):
        raise ValueError(f"pixel_shuffle: expects input (*, C * {r * r}, H, W) whose channels divide by "
                         f"upscale_factor^2 = {r * r}, got shape {tuple(x.shape)}")


def check_pixel_unshuffle(x, r):
    if x.ndim < 3 or x.shape[-2] % r or x.shape[-1] % r:
        raise ValueError(f"pixel_unshuffle: expects input (*, C, H, W) whose H and W divide by "
                         f"downscale_factor = {r}, got shape {tuple(x.shape)}")

"""Resizing (N, C, H, W) images, as F.interpolate and nn.Upsample: modes "nearest", "nearest-exact", "bilinear".

Every mode is linear in x and acts on rows and columns separately: output row i is a fixed combination of
input rows, output column j of input columns. With A_h (OH, H) and A_w (OW, W) the two combinations,

    y = A_h @ x @ A_w^T  (for each image and channel)        gx = A_h^T @ gy @ A_w

The matrices come from PyTorch's source coordinate rules (its CPU kernels, aten/src/ATen/native/UpSample.h),
with ratio = 1 / scale_factor when a scale factor was given and in / out otherwise:

    nearest:        src = min(floor(dst * ratio), in - 1)             src = dst when out == in, dst // 2 when
                                                                     out == 2 in (PyTorch's shortcuts)
    nearest-exact:  src = min(floor(max(ratio * (dst + 0.5) - 0.5, 0) + 0.5), in - 1)
                    (both in float64 for float64 images, float32 otherwise, floored as float32: PyTorch's
                    arithmetic, so that a coordinate landing on an integer picks the pixel PyTorch picks)
    bilinear:       src = max(ratio * (dst + 0.5) - 0.5, 0)           (align_corners=False)
                    src = dst * (in - 1) / (out - 1)                  (align_corners=True; 0 when out == 1)
                    y[dst] = (1 - l) x[i0] + l x[i0 + 1],  i0 = floor(src), l = src - i0 (x[i0] alone at the end);
                    an axis whose size does not change is copied, as PyTorch does, whatever the scale factor

Checked against PyTorch 2.13 on the CPU (tests/test_resize_pad.py). Its kernels do not all agree with each
other, so in rare cases tinygan's nearest modes pick the neighbouring pixel: a coordinate within one rounding
of an integer (one or two output rows or columns, in about 2 of 1,000 random float64 resizes with sizes up to
400, fewer in float32); and, for outputs above about a thousand pixels, an axis of unchanged size under a
scale factor other than 1 (PyTorch's generic kernel then applies the formula where its small-output kernel
copies). Integer factors and sizes that are multiples of the input agree exactly.

Three ops:
- ``NearestRepeat2d``: nearest upsampling by integer factors (kh, kw), the hot path of DCGAN-style generators
  (``nn.Upsample(scale_factor=2)``): each pixel copied into a kh x kw block by kh*kw strided assignments into
  a (N, C, H, kh, W, kw) buffer viewed as (N, C, H*kh, W*kw); the backward sums each block (``BlockSum2d``).
- ``Resize2d``: everything else, y = A_h x A_w^T as two matrix products (nearest: two gathers, so that
  copies stay copies: a 0 * inf in a product would put NaN where PyTorch has a number). The matrices are
  small (OH x H), exact, built once per shape and kept; the adjoint is the same op with the transposes.
  Matrices rather than per-pixel gathers for bilinear: one GEMM per axis is fast on both devices for the
  image sizes of GANs, and the adjoint needs no scatter-add (slow in NumPy, and a second kernel on CuPy).
- ``BlockSum2d``: ``NearestRepeat2d``'s adjoint, so that both have a second derivative.
"""
import functools
import math
import numbers

import numpy as np

from tinygan.core.array_backend import get_array_module
from tinygan.core.function import Function

MODES = ("nearest", "nearest-exact", "bilinear")
TORCH_ONLY_MODES = ("linear", "bicubic", "trilinear", "area")


# ==================================================================================================
# The fast path: nearest upsampling by integer factors, and its adjoint
# ==================================================================================================
def repeat_blocks(x, factors):
    """(N, C, H, W) -> (N, C, H*kh, W*kw): every pixel copied into a kh x kw block."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    kh, kw = factors
    y = xp.empty((N, C, H, kh, W, kw), dtype=x.dtype)
    for i in range(kh):                     # kh*kw plain strided copies: faster in NumPy than one copy of
        for j in range(kw):                 # the (N, C, H, kh, W, kw) broadcast view (inner loops of length kw)
            y[:, :, :, i, :, j] = x
    return y.reshape(N, C, H * kh, W * kw)  # (N, C, H, kh, W, kw) -> (N, C, H*kh, W*kw), no copy


def sum_blocks(g, factors):
    """(N, C, H*kh, W*kw) -> (N, C, H, W): the sum of each kh x kw block (repeat_blocks' adjoint)."""
    N, C, OH, OW = g.shape
    kh, kw = factors
    H, W = OH // kh, OW // kw
    g = g.reshape(N, C, H, kh, OW)          # (N, C, H*kh, W*kw) -> (N, C, H, kh, W*kw)
    rows = g[:, :, :, 0]
    for i in range(1, kh):                  # sum the kh rows of each block: slices of whole rows
        rows = rows + g[:, :, :, i]
    rows = rows.reshape(N, C, H, W, kw)     # (N, C, H, W*kw) -> (N, C, H, W, kw)
    out = rows[..., 0]
    for j in range(1, kw):                  # then the kw columns
        out = out + rows[..., j]
    return out


class NearestRepeat2d(Function):
    """y[n, c, i, j] = x[n, c, i // kh, j // kw] (PyTorch: interpolate(mode="nearest"), integer scale);
    gx = gy summed over each kh x kw block"""
    saves_inputs = False

    def __init__(self, factors):
        self.factors = factors

    def forward(self, x):
        return repeat_blocks(x, self.factors)

    def backward(self, gy):
        return sum_blocks(gy, self.factors)

    def backward_graph(self, gy):
        return BlockSum2d.apply(gy, factors=self.factors)


class BlockSum2d(Function):
    """y[n, c, i, j] = sum of x over block (i, j) of kh x kw pixels (PyTorch: avg_pool2d(x, k) * kh*kw);
    gx = gy repeated over each block (NearestRepeat2d's forward)"""
    saves_inputs = False

    def __init__(self, factors):
        self.factors = factors

    def forward(self, x):
        return sum_blocks(x, self.factors)

    def backward(self, gy):
        return repeat_blocks(gy, self.factors)

    def backward_graph(self, gy):
        return NearestRepeat2d.apply(gy, factors=self.factors)


# ==================================================================================================
# The general path: one small matrix per axis
# ==================================================================================================
def _transpose(matrix):
    return None if matrix is None else matrix.T                     # (out, in) -> (in, out) view


def resize_rows_cols(x, rows, cols, row_index=None, col_index=None):
    """rows @ x @ cols^T for each (n, c) image of (N, C, H, W) x; None is the identity. A given index
    (nearest) gathers instead of multiplying by the matrix it selects from."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    y = x
    if col_index is not None:
        y = xp.take(y, col_index, axis=3)                           # (N, C, H, W) -> (N, C, H, OW)
    elif cols is not None:
        y = y.reshape(N * C * H, W) @ cols.T                        # (N*C*H, W) @ (W, OW) -> (N*C*H, OW)
        y = y.reshape(N, C, H, cols.shape[0])                       # (N*C*H, OW) -> (N, C, H, OW)
    if row_index is not None:
        y = xp.take(y, row_index, axis=2)                           # (N, C, H, OW) -> (N, C, OH, OW)
    elif rows is not None:
        y = xp.matmul(rows, y)                                      # (OH, H) @ (N, C, H, OW) -> (N, C, OH, OW)
    return x.copy() if y is x else y


class Resize2d(Function):
    """y = A_h @ x @ A_w^T per image (PyTorch: interpolate, nearest and bilinear);  gx = A_h^T @ gy @ A_w"""
    saves_inputs = False

    def __init__(self, rows, cols, row_index=None, col_index=None):
        self.rows, self.cols = rows, cols                           # (OH, H), (OW, W), or None: the identity
        self.row_index, self.col_index = row_index, col_index       # (OH,), (OW,) source pixels, nearest only

    def forward(self, x):
        return resize_rows_cols(x, self.rows, self.cols, self.row_index, self.col_index)

    def backward(self, gy):
        return resize_rows_cols(gy, _transpose(self.rows), _transpose(self.cols))

    def backward_graph(self, gy):
        return Resize2d.apply(gy, rows=_transpose(self.rows), cols=_transpose(self.cols))


# ==================================================================================================
# PyTorch's source coordinates, one axis at a time (host NumPy: sizes, not data)
# ==================================================================================================
def nearest_source(in_size, out_size, scale_factor, exact, dtype):
    """(out,) int64 input pixel each output pixel copies, by PyTorch's CPU rules: the coordinate computed in
    float64 for float64 images and in float32 otherwise (PyTorch's opmath type), then floored as a float32."""
    dst = np.arange(out_size)
    if not exact and out_size == in_size:
        return dst
    if not exact and out_size == 2 * in_size:
        return dst >> 1
    real = np.float64 if np.dtype(dtype) == np.float64 else np.float32
    if scale_factor is not None and scale_factor > 0:
        ratio = real(1.0 / scale_factor)
    else:
        ratio = real(in_size) / real(out_size)
    if exact:   # max(ratio * (dst + 0.5) - 0.5, 0), then + 0.5 in double, as PyTorch rounds to nearest
        src = np.maximum(ratio * (dst.astype(real) + real(0.5)) - real(0.5), real(0))
        src = src.astype(np.float64) + 0.5
    else:
        src = dst.astype(real) * ratio
    return np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), in_size - 1)


def bilinear_matrix(in_size, out_size, scale_factor, align_corners):
    """(out, in) float64 matrix of linear interpolation weights (two per row, summing to 1)."""
    dst = np.arange(out_size, dtype=np.float64)
    if align_corners:
        src = dst * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    else:
        ratio = 1.0 / scale_factor if scale_factor is not None and scale_factor > 0 else in_size / out_size
        src = np.maximum(ratio * (dst + 0.5) - 0.5, 0.0)
    i0 = src.astype(np.int64)                                       # floor: src >= 0
    i1 = i0 + (i0 < in_size - 1)                                    # the last pixel has no right neighbour
    lam = np.clip(src - i0, 0.0, 1.0)
    matrix = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, i0), 1.0 - lam)
    np.add.at(matrix, (rows, i1), lam)
    return matrix


@functools.lru_cache(maxsize=256)
def _axis_on_host(in_size, out_size, scale_factor, mode, align_corners, dtype):
    """(matrix (out, in), source index (out,) or None): one axis's resize; (None, None) for the identity."""
    if mode == "bilinear":
        if out_size == in_size:                     # PyTorch copies such an axis, whatever the scale factor
            return None, None
        return bilinear_matrix(in_size, out_size, scale_factor, align_corners), None
    index = nearest_source(in_size, out_size, scale_factor, mode == "nearest-exact", dtype)
    if out_size == in_size and np.array_equal(index, np.arange(in_size)):
        return None, None
    matrix = np.zeros((out_size, in_size))
    matrix[np.arange(out_size), index] = 1.0
    return matrix, index


@functools.lru_cache(maxsize=256)
def _axis(in_size, out_size, scale_factor, mode, align_corners, dtype, xp):
    """``_axis_on_host`` in ``dtype`` as arrays of the array module ``xp``, kept: a training step moves nothing
    to the GPU. Keyed by the module, not the device name: arrays of one CuPy (or of a stand-in for it in the
    tests) are refused by another, so each module gets its own."""
    matrix, index = _axis_on_host(in_size, out_size, scale_factor, mode, align_corners, dtype)
    if matrix is None:
        return None, None
    return xp.asarray(matrix.astype(dtype)), None if index is None else xp.asarray(index)


@functools.lru_cache(maxsize=256)
def integer_factor(in_size, out_size, scale_factor, mode, dtype):
    """k when this axis's nearest resize copies every input pixel k times in a row (src = dst // k), else None."""
    if mode == "bilinear" or out_size % in_size:
        return None
    k = out_size // in_size
    index = nearest_source(in_size, out_size, scale_factor, mode == "nearest-exact", dtype)
    return k if np.array_equal(index, np.arange(out_size) // k) else None


def resize_op(x, out_size, scale_factors, mode, align_corners):
    """(Function class, its parameters) resizing x's (H, W) to ``out_size``: the fast path when it applies."""
    sizes = list(zip(x.shape[2:], out_size, scale_factors))
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    factors = tuple(integer_factor(n, m, s, mode, dtype) for n, m, s in sizes)
    if None not in factors:
        return NearestRepeat2d, {"factors": factors}
    xp = get_array_module(x.array)
    (rows, row_index), (cols, col_index) = (_axis(n, m, s, mode, bool(align_corners), dtype, xp)
                                            for n, m, s in sizes)
    return Resize2d, {"rows": rows, "cols": cols, "row_index": row_index, "col_index": col_index}


# ==================================================================================================
# Argument checks, called by F.interpolate and nn.Upsample
# ==================================================================================================
def check_mode(op, mode, align_corners):
    """Raise for a mode tinygan lacks, or align_corners given to a mode without corners (PyTorch's rule)."""
    if mode in TORCH_ONLY_MODES:
        raise NotImplementedError(f"{op}: mode {mode!r} is not supported by tinygan; supported: "
                                  f"{', '.join(map(repr, MODES))}")
    if mode not in MODES:
        raise ValueError(f"{op}: unknown mode {mode!r}; expected one of {', '.join(map(repr, MODES))}")
    if align_corners is not None and mode != "bilinear":
        raise ValueError(f"{op}: align_corners option can only be set with the interpolating modes: linear | "
                         f"bilinear | bicubic | trilinear (got mode={mode!r})")


def _two(value, name, kind):
    """A number or a sequence of two -> a tuple of two (the spatial axes H, W)."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or not all(isinstance(v, kind) and not isinstance(v, bool) for v in values):
        raise ValueError(f"interpolate: {name} must be a number or a sequence of two for the 2 spatial "
                         f"dimensions (H, W) of a 4-D input, got {value!r}")
    return values


def interpolate_arguments(x, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias):
    """Check F.interpolate's arguments; return (output (OH, OW), scale factors (sh, sw) or (None, None))."""
    check_mode("interpolate", mode, align_corners)
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported by tinygan")
    if x.ndim != 4:
        raise ValueError(f"interpolate: expects a 4-D input (N, C, H, W), got shape {tuple(x.shape)}; "
                         f"tinygan resizes images only")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: " + ("only one of size or scale_factor should be defined" if size is not None
                                            else "either size or scale_factor should be defined"))
    H, W = x.shape[2:]
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor is not meaningful with an explicit size")
        out = tuple(int(n) for n in _two(size, "size", numbers.Integral))
        scales = (None, None)
    else:
        scales = tuple(float(s) for s in _two(scale_factor, "scale_factor", numbers.Real))
        if not all(math.isfinite(s) for s in scales):
            raise ValueError(f"interpolate: scale_factor must be finite, got {scale_factor!r}")
        out = (math.floor(H * scales[0]), math.floor(W * scales[1]))
        if recompute_scale_factor:
            scales = (None, None)                                   # PyTorch then uses in / out
    if min(out) <= 0 or min(H, W) <= 0:
        raise ValueError(f"interpolate: input and output sizes should be greater than 0, but got input "
                         f"(H: {H}, W: {W}) output (H: {out[0]}, W: {out[1]})")
    return out, scales

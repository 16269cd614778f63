"""Adaptive pooling: the output size is given and the windows follow from it, as PyTorch draws them.

Output cell i of an axis of size n pooled to size m covers the input range [start_i, end_i) with

    start_i = floor(i * n / m),   end_i = ceil((i + 1) * n / m)

so windows may differ in size and overlap by one element when m does not divide n.

- adaptive average pooling is linear: y = A_h @ x @ A_w^T per image, where row i of A (m, n) holds
  1 / (end_i - start_i) on the window and 0 elsewhere. It runs as resize.Resize2d with these matrices, whose
  backward (gx = A_h^T @ gy @ A_w) and second derivative are already there.
- adaptive max pooling picks each window's first maximum in row-major order (PyTorch's tie rule); the picked
  positions are found on the arrays, and the output is x gathered at them (shape.GetItem, whose backward
  scatters gy back to those positions, and whose backward_graph records that scatter).
"""
import operator

import numpy as np

from tinygan.core.array_backend import get_array_module


def window_bounds(in_size, out_size):
    """([start_i], [end_i]) of the ``out_size`` windows along an axis of ``in_size`` (host ints)."""
    i = np.arange(out_size)
    start = (i * in_size) // out_size                                # floor(i * n / m)
    end = -((-(i + 1) * in_size) // out_size)                        # ceil((i + 1) * n / m)
    return start, end


def average_matrix(in_size, out_size, dtype, xp):
    """A (out_size, in_size): row i averages the window [start_i, end_i); None when it is the identity."""
    if in_size == out_size:
        return None
    start, end = window_bounds(in_size, out_size)
    j = np.arange(in_size)
    inside = (j >= start[:, None]) & (j < end[:, None])              # (out, in) window membership
    return xp.asarray((inside / (end - start)[:, None]).astype(dtype))


def max_positions(x, out_size):
    """(N, C, OH, OW) int64 flat positions (h * W + w) of each window's first maximum in (N, C, H, W) x;
    a window holding NaN picks its first NaN, so the output is NaN there, as PyTorch's."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    (h_start, h_end), (w_start, w_end) = window_bounds(H, out_size[0]), window_bounds(W, out_size[1])
    positions = xp.empty((N, C) + tuple(out_size), dtype=np.int64)
    for i, (h0, h1) in enumerate(zip(h_start.tolist(), h_end.tolist())):
        for j, (w0, w1) in enumerate(zip(w_start.tolist(), w_end.tolist())):
            window = x[:, :, h0:h1, w0:w1].reshape(N, C, -1)         # (N, C, kh, kw) -> (N, C, kh*kw)
            first = window.argmax(axis=2)                            # NaN counts as the maximum, as in NumPy
            kw = w1 - w0
            positions[:, :, i, j] = (h0 + first // kw) * W + (w0 + first % kw)
    return positions


def adaptive_output_size(op, x, output_size):
    """(OH, OW) from PyTorch's output_size: an int, or a pair whose None entries keep the input's size."""
    if output_size is None or isinstance(output_size, (int, np.integer)):
        sizes = (output_size, output_size)
    else:
        sizes = tuple(output_size)
        if len(sizes) != 2:
            raise ValueError(f"{op}: output_size must be an int or a pair (None entries keep the input's size), "
                             f"got {output_size!r}")
    try:
        sizes = tuple(n if n is None else operator.index(n) for n in sizes)
    except TypeError:
        raise TypeError(f"{op}: output_size must hold ints or None, got {output_size!r}") from None
    out = tuple(x.shape[-2 + k] if n is None else n for k, n in enumerate(sizes))
    if min(out) <= 0:
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return out


def check_adaptive_input(op, x):
    """Raise a clear error unless x is a floating point (N, C, H, W) or (C, H, W) tensor with H, W > 0."""
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expects a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expects a floating point input, got {x.dtype}")
    if min(x.shape[-2:]) <= 0:
        raise ValueError(f"{op}: expects non-empty spatial sizes, got input of shape {tuple(x.shape)}")

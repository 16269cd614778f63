"""2-D max and average pooling by im2col-style strided views, with col2im as the backward scatter.

Each output pixel reduces one kernel-sized window of its channel of the (padded) image. As in conv.py the
image is laid out batch-innermost, (C, H, W, N), and every window is one ``as_strided`` view of it:
window (oh, ow)'s element (i, j) sits at (oh*sh + i, ow*sw + j). The backward passes put each output
gradient back onto the window it came from, which is conv.col2im (the adjoint of im2col: overlaps add up):

    max_pool2d:  y = max_(i,j) x[oh*sh + i, ow*sw + j]     gx = col2im(gy at each window's argmax, 0 elsewhere)
    avg_pool2d:  y = sum_(i,j) x[oh*sh + i, ow*sw + j] / d   gx = col2im(gy / d on every window element)

Max pool pads with -inf, so padding never wins a window (padding <= kernel / 2 leaves a real element in
every window). Ties go, as in PyTorch, to the first maximum in the window in row-major (i, j) order. A
window holding NaN outputs NaN, as in PyTorch, but its gradient goes to the window's first element (PyTorch's
goes to a NaN). Average pool pads with zeros; d = kh*kw (count_include_pad=True, PyTorch's
default) or the number of real, unpadded elements in the window (count_include_pad=False).
Outputs are (N, C, OH, OW) views of batch-innermost memory, as conv outputs are.

Second derivatives (``backward_graph``): both backwards are linear in gy, so each becomes an op of its own
whose backward is its adjoint. Average pool's backward spreads gy / d over the windows (``AvgPool2dBackward``);
its adjoint is average pool again. Max pool's backward routes gy to the argmax the forward found
(``MaxPool2dBackward``): the routing is piecewise constant in x (no second-order term), and the adjoint of
routing is gathering from the same positions (``MaxPool2dGather``), whose adjoint is routing again.
"""
import math

from tinygan.core.array_backend import get_array_module
from tinygan.core.function import Function
from tinygan.ops.conv import col2im, conv_output_size, pair


# ==================================================================================================
# Windows as one strided view
# ==================================================================================================
def _windows(x, kernel, stride, padding, fill):
    """(N, C, H, W) image -> (C, kh, kw, OH, OW, N) strided view of its windows, padded with ``fill``.

    The same view as conv.im2col's before its copy; im2col pads with zeros, max pool needs -inf.
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    OH, OW = conv_output_size(H, kh, sh, ph), conv_output_size(W, kw, sw, pw)
    if ph or pw:
        img = xp.full((C, H + 2 * ph, W + 2 * pw, N), fill, dtype=x.dtype)
        img[:, ph:ph + H, pw:pw + W, :] = x.transpose(1, 2, 3, 0)   # (N, C, H, W) -> (C, H, W, N), padded
    else:
        img = x.transpose(1, 2, 3, 0)                               # (N, C, H, W) -> (C, H, W, N) view
    c, h, w, n = img.strides
    return xp.lib.stride_tricks.as_strided(                         # (C, kh, kw, OH, OW, N) view, no copy
        img, (C, kh, kw, OH, OW, N), (c, h, w, h * sh, w * sw, n))


def _window_counts(xp, size, kernel, stride, padding, out):
    """How many real (unpadded) elements each of the ``out`` windows along one axis covers: (out,) ints."""
    start = xp.arange(out) * stride - padding                       # first element, in unpadded coordinates
    return xp.minimum(start + kernel, size) - xp.maximum(start, 0)


# ==================================================================================================
# The ops
# ==================================================================================================
class MaxPool2d(Function):
    """y = max over each window of x;  gx = gy routed to the (first) argmax of its window, 0 elsewhere"""

    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x):
        xp = get_array_module(x)
        self.x_shape = x.shape
        win = _windows(x, self.kernel, self.stride, self.padding, -math.inf)   # (C, kh, kw, OH, OW, N) view
        kh, kw = self.kernel
        y = win[:, 0, 0].copy()                                     # (C, OH, OW, N): offset (0, 0), then
        for k in range(1, kh * kw):                                 # the running max over the other offsets
            xp.maximum(y, win[:, k // kw, k % kw], out=y)
        # the argmax, scanning the offsets from last to first so that the first maximum (row-major) wins;
        # offset 0 stays where no element equals the max (a window holding NaN)
        self.argmax = xp.zeros(y.shape, dtype=xp.int32)             # (C, OH, OW, N) offsets k = i*kw + j
        for k in range(kh * kw - 1, -1, -1):
            self.argmax = xp.where(win[:, k // kw, k % kw] == y, k, self.argmax)
        return y.transpose(3, 0, 1, 2)                              # (C, OH, OW, N) -> (N, C, OH, OW) view

    def backward(self, gy):
        return _route_to_argmax(gy, self.argmax, self.x_shape, self.kernel, self.stride, self.padding)

    def backward_graph(self, gy):
        return MaxPool2dBackward.apply(gy, argmax=self.argmax, x_shape=self.x_shape, kernel=self.kernel,
                                       stride=self.stride, padding=self.padding)


class AvgPool2d(Function):
    """y = sum over each window of x / d;  gx = col2im(gy / d spread over the window)"""
    saves_inputs = False                                            # backward reads no input values

    def __init__(self, kernel, stride, padding, count_include_pad):
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.count_include_pad = count_include_pad

    def forward(self, x):
        self.x_shape = x.shape
        win = _windows(x, self.kernel, self.stride, self.padding, 0)   # (C, kh, kw, OH, OW, N) view
        kh, kw = self.kernel
        y = win[:, 0, 0].copy()                                     # (C, OH, OW, N): offset (0, 0), then
        for k in range(1, kh * kw):                                 # the sum over the other offsets (one
            y += win[:, k // kw, k % kw]                            # strided slice each: faster than .sum)
        self.divisor = self._divisor(x, y.shape[1:3])
        y /= self.divisor
        return y.transpose(3, 0, 1, 2)                              # (C, OH, OW, N) -> (N, C, OH, OW) view

    def backward(self, gy):
        return _spread_over_windows(gy, self.divisor, self.x_shape, self.kernel, self.stride, self.padding)

    def backward_graph(self, gy):
        return AvgPool2dBackward.apply(gy, divisor=self.divisor, x_shape=self.x_shape, kernel=self.kernel,
                                       stride=self.stride, padding=self.padding,
                                       count_include_pad=self.count_include_pad)

    def _divisor(self, x, out):
        """kh*kw, or (OH, OW, 1) counts of real elements per window, in x's dtype (an int would upcast float32)."""
        kh, kw = self.kernel
        if self.count_include_pad or self.padding == (0, 0):
            return x.dtype.type(kh * kw)
        xp = get_array_module(x)
        (H, W), (sh, sw), (ph, pw) = self.x_shape[2:], self.stride, self.padding
        rows = _window_counts(xp, H, kh, sh, ph, out[0])            # (OH,)
        cols = _window_counts(xp, W, kw, sw, pw, out[1])            # (OW,)
        return (rows[:, None, None] * cols[None, :, None]).astype(x.dtype)   # (OH,) x (OW,) -> (OH, OW, 1)


# ==================================================================================================
# The backwards: on arrays, and as ops (for second derivatives), each op linear and the next one's adjoint
# ==================================================================================================
def _route_to_argmax(gy, argmax, x_shape, kernel, stride, padding):
    """(N, C, OH, OW) gy -> (N, C, H, W): each gy at its window's argmax (offsets k = i*kw + j), added up."""
    xp = get_array_module(gy)
    kh, kw = kernel
    g = gy.transpose(1, 2, 3, 0)[:, None]                           # (N, C, OH, OW) -> (C, 1, OH, OW, N)
    offsets = xp.arange(kh * kw).reshape(kh * kw, 1, 1, 1)          # (kh*kw,) -> (kh*kw, 1, 1, 1)
    hit = argmax[:, None] == offsets                                # (C, kh*kw, OH, OW, N): the argmax one-hot
    gcol = xp.where(hit, g, xp.zeros((), dtype=gy.dtype))           # gy at the argmax, 0 at the others
    return col2im(gcol, x_shape, kernel, stride, padding)


def _gather_at_argmax(g, argmax, kernel, stride, padding):
    """(N, C, H, W) g -> (N, C, OH, OW): each window's element at its argmax (``_route_to_argmax``'s adjoint)."""
    xp = get_array_module(g)
    kh, kw = kernel
    win = _windows(g, kernel, stride, padding, 0)                   # (C, kh, kw, OH, OW, N) view
    y = xp.zeros(argmax.shape, dtype=g.dtype)                       # (C, OH, OW, N)
    for k in range(kh * kw):
        y = xp.where(argmax == k, win[:, k // kw, k % kw], y)
    return y.transpose(3, 0, 1, 2)                                  # (C, OH, OW, N) -> (N, C, OH, OW) view


def _spread_over_windows(gy, divisor, x_shape, kernel, stride, padding):
    """(N, C, OH, OW) gy -> (N, C, H, W): gy / d added onto every element of its window (col2im)."""
    xp = get_array_module(gy)
    g = gy.transpose(1, 2, 3, 0) / divisor                          # (N, C, OH, OW) -> (C, OH, OW, N)
    C, OH, OW, N = g.shape
    kh, kw = kernel
    gcol = xp.broadcast_to(g[:, None, None], (C, kh, kw, OH, OW, N))   # the same g for every offset, no copy
    return col2im(gcol, x_shape, kernel, stride, padding)


class MaxPool2dBackward(Function):
    """MaxPool2d's backward as an op: y = x routed to the argmax of each window, 0 elsewhere (x shaped like the
    pool's output, y like its input; the argmax is the forward's, fixed);  gx = gy gathered at those argmaxes"""
    saves_inputs = False

    def __init__(self, argmax, x_shape, kernel, stride, padding):
        self.argmax, self.x_shape = argmax, x_shape
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x):
        return _route_to_argmax(x, self.argmax, self.x_shape, self.kernel, self.stride, self.padding)

    def backward(self, gy):
        return _gather_at_argmax(gy, self.argmax, self.kernel, self.stride, self.padding)

    def backward_graph(self, gy):
        return MaxPool2dGather.apply(gy, argmax=self.argmax, x_shape=self.x_shape, kernel=self.kernel,
                                     stride=self.stride, padding=self.padding)


class MaxPool2dGather(MaxPool2dBackward):
    """y = x at the (fixed) argmax of each window: MaxPool2dBackward's adjoint (x shaped like the pool's input,
    y like its output);  gx = gy routed back to those argmaxes (MaxPool2dBackward's forward)"""

    def forward(self, x):
        return _gather_at_argmax(x, self.argmax, self.kernel, self.stride, self.padding)

    def backward(self, gy):
        return _route_to_argmax(gy, self.argmax, self.x_shape, self.kernel, self.stride, self.padding)

    def backward_graph(self, gy):
        return MaxPool2dBackward.apply(gy, argmax=self.argmax, x_shape=self.x_shape, kernel=self.kernel,
                                       stride=self.stride, padding=self.padding)


class AvgPool2dBackward(Function):
    """AvgPool2d's backward as an op: y = x / d spread over each window and added up (col2im; x shaped like the
    pool's output, y like its input);  gx = avg_pool2d(gy) with the same windows and divisors (its adjoint)"""
    saves_inputs = False

    def __init__(self, divisor, x_shape, kernel, stride, padding, count_include_pad):
        self.divisor, self.x_shape = divisor, x_shape
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.count_include_pad = count_include_pad

    def forward(self, x):
        return _spread_over_windows(x, self.divisor, self.x_shape, self.kernel, self.stride, self.padding)

    def backward(self, gy):
        return AvgPool2d(self.kernel, self.stride, self.padding, self.count_include_pad).forward(gy)

    def backward_graph(self, gy):
        return AvgPool2d.apply(gy, kernel=self.kernel, stride=self.stride, padding=self.padding,
                               count_include_pad=self.count_include_pad)


# ==================================================================================================
# Argument checks, called by the wrappers in tinygan.functional
# ==================================================================================================
def pool_arguments(op, kernel_size, stride, padding):
    """(kernel, stride, padding) as checked pairs; stride=None (or empty, as PyTorch allows) means kernel_size."""
    kernel = pair(kernel_size, "kernel_size", op, 1)
    stride = kernel if stride is None or (hasattr(stride, "__len__") and len(stride) == 0) else \
        pair(stride, "stride", op, 1)
    padding = pair(padding, "padding", op, 0)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{op}: padding {padding} must be at most half of kernel_size {kernel} "
                         f"(as PyTorch requires: pad <= kernel_size / 2)")
    return kernel, stride, padding


def unsupported(op, **settings):
    """Raise NotImplementedError naming the first argument whose value is not the one supported.

    ``settings`` maps a name to (value given, value supported); dilation may be given as 1 or (1, 1).
    """
    for name, (value, supported) in settings.items():
        ok = pair(value, name, op, 1) == (1, 1) if name == "dilation" else value == supported
        if not ok:
            raise NotImplementedError(f"{op}: only {name}={supported!r} is supported, got {name}={value!r}")


def check_pool(op, x, kernel, stride, padding):
    """Raise a clear error when the pool cannot run on this input (kernel, stride, padding: checked pairs)."""
    if x.ndim != 4:
        raise ValueError(f"{op}: expects a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expects a floating point input, got {x.dtype}")
    size = tuple(conv_output_size(n, k, s, p) for n, k, s, p in zip(x.shape[2:], kernel, stride, padding))
    if min(size) <= 0:
        padded = tuple(n + 2 * p for n, p in zip(x.shape[2:], padding))
        raise ValueError(f"{op}: padded input size {padded} (input {tuple(x.shape)}, padding {padding}) is "
                         f"smaller than the kernel {kernel}: the output size would be {size}")

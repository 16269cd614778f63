"""2-D convolution and transposed convolution by im2col / col2im and one matrix product.

im2col copies every kernel-sized patch of the (padded) image into a column of a matrix, so convolution
becomes one GEMM with the flattened weights: all patches are one strided view of the image, copied once.
col2im is its adjoint: it adds every column back onto the patch it came from (overlaps add up), looping
over the kh*kw kernel offsets, each a strided slice covering all output pixels at once.

Memory layout: images are handled batch-innermost, (C, H, W, N), which is also the order the GEMMs
produce. Conv outputs are returned as (N, C, H, W) *views* of that memory rather than transposed copies;
NumPy and CuPy ops accept any layout, so shapes stay PyTorch's while the next conv reads its input
without a transpose.

The two ops are each other's adjoint, so each one's input gradient is the other's forward:

    conv2d:            y  = W2d   @ im2col(x)        gx = col2im(W2d^T @ gy)    (a transposed conv)
    conv_transpose2d:  y  = col2im(W2d^T @ x)        gx = W2d @ im2col(gy)      (a convolution)

``_conv_core`` and ``_conv_transpose_core`` below are those two computations, written once.

Second derivatives (``backward_graph``, for gradient penalties) use the same trick once more, as DeZero does:
the weight gradient gy2d @ im2col(x)^T is bilinear in (x, gy), so it becomes an op of its own,
``Conv2dGradWeight``, whose derivatives are again a transposed conv (in x) and a conv (in gy). Every backward
is then written with conv2d, conv_transpose2d and Conv2dGradWeight, each of which can be differentiated again.
Shapes as in PyTorch: conv weight (C_out, C_in, kH, kW), transposed-conv weight (C_in, C_out, kH, kW).
"""
import operator

from tinygan.core.array_backend import get_array_module
from tinygan.core.function import Function
from tinygan.ops.linear import check_weight_dtype
from tinygan.ops.reduction import channel_sum


# ==================================================================================================
# im2col / col2im
# ==================================================================================================
def conv_output_size(size, kernel, stride, padding):
    """Output length of a convolution along one axis: floor((size + 2 padding - kernel) / stride) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def conv_transpose_output_size(size, kernel, stride, padding, output_padding):
    """Output length of a transposed convolution along one axis: (size - 1) stride - 2 padding + kernel + output_padding."""
    return (size - 1) * stride - 2 * padding + kernel + output_padding


def im2col(x, kernel, stride, padding):
    """(N, C, H, W) image -> (C*kh*kw, OH*OW*N) matrix whose columns are the image's patches.

    The image is first laid out as (C, H, W, N), batch innermost, so patches are copied in runs of N
    contiguous floats (64 in the GANs) instead of rows of OW floats read with stride sw. All patches are
    one strided view of that image: patch (oh, ow)'s element (i, j) sits at (oh*sh + i, ow*sw + j), so
    the view's strides for the kernel axes are the image's own and those for the output axes are stride
    times them. One copy of the view is the matrix. Columns are ordered (OH, OW, N); ``_to_rows`` and
    ``_from_rows`` use the same order, so the GEMMs around im2col need no other change.
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    OH, OW = conv_output_size(H, kh, sh, ph), conv_output_size(W, kw, sw, pw)
    if ph or pw:
        img = xp.zeros((C, H + 2 * ph, W + 2 * pw, N), dtype=x.dtype)
        img[:, ph:ph + H, pw:pw + W, :] = x.transpose(1, 2, 3, 0)   # (N, C, H, W) -> (C, H, W, N), padded
    else:
        img = x.transpose(1, 2, 3, 0)                               # (N, C, H, W) -> (C, H, W, N) view
    c, h, w, n = img.strides
    patches = xp.lib.stride_tricks.as_strided(                      # (C, kh, kw, OH, OW, N) view, no copy
        img, (C, kh, kw, OH, OW, N), (c, h, w, h * sh, w * sw, n))
    col = xp.ascontiguousarray(patches)
    return col.reshape(C * kh * kw, OH * OW * N)                    # (C, kh, kw, OH, OW, N) -> 2-D


def col2im(col, x_shape, kernel, stride, padding):
    """(C*kh*kw, OH*OW*N) matrix -> (N, C, H, W) image, adding each column back onto its patch.

    The adjoint of ``im2col``, in the same batch-innermost layout (C, H, W, N) for the same reason. Returns
    an (N, C, H, W) view of that memory, as ``_from_rows`` does.
    """
    xp = get_array_module(col)
    N, C, H, W = x_shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    OH, OW = conv_output_size(H, kh, sh, ph), conv_output_size(W, kw, sw, pw)
    col = col.reshape(C, kh, kw, OH, OW, N)                         # 2-D -> (C, kh, kw, OH, OW, N)
    img = xp.zeros((C, H + 2 * ph, W + 2 * pw, N), dtype=col.dtype)
    for i in range(kh):
        for j in range(kw):
            img[:, i:i + sh * OH:sh, j:j + sw * OW:sw, :] += col[:, i, j]
    return img[:, ph:ph + H, pw:pw + W, :].transpose(3, 0, 1, 2)   # crop; (C, H, W, N) -> (N, C, H, W) view


def _to_rows(x):
    """(N, C, H, W) -> (C, H*W*N): one row per channel, in the column order im2col uses.

    A free view when x came from a conv layer (its memory is already batch-innermost), else one copy.
    """
    N, C, H, W = x.shape
    return x.transpose(1, 2, 3, 0).reshape(C, H * W * N)            # (N, C, H, W) -> (C, H*W*N)


def _from_rows(y2d, N, H, W):
    """(C, H*W*N) -> (N, C, H, W), a view: no copy, the memory stays batch-innermost.

    NumPy and CuPy ops accept any memory layout, and elementwise ops keep their input's, so the next
    layer's ``_to_rows`` and im2col find the (C, H, W, N) order they want without a transpose copy.
    """
    C = y2d.shape[0]
    return y2d.reshape(C, H, W, N).transpose(3, 0, 1, 2)            # (C, H*W*N) -> (C, H, W, N) -> (N, C, H, W)


def _conv_core(x, W2d, kernel, stride, padding):
    """Convolution: (N, C, H, W) image, (O, C*kh*kw) weights -> (N, O, OH, OW), and im2col(x) for gW."""
    N, _, H, W = x.shape
    col = im2col(x, kernel, stride, padding)                        # (C*kh*kw, OH*OW*N)
    OH, OW = (conv_output_size(n, k, s, p) for n, k, s, p in zip((H, W), kernel, stride, padding))
    return W2d @ col, col, (N, OH, OW)                              # (O, C*kh*kw) @ col -> (O, OH*OW*N)


def _conv_transpose_core(x, W2dT, out_shape, kernel, stride, padding):
    """Transposed convolution: (N, C, H, W) input, (O*kh*kw, C) weights -> out_shape image, and x's rows."""
    x2d = _to_rows(x)                                               # (C, H*W*N)
    col = W2dT @ x2d                                                # (O*kh*kw, C) @ (C, H*W*N)
    return col2im(col, out_shape, kernel, stride, padding), x2d


# ==================================================================================================
# The ops
# ==================================================================================================
class Conv2d(Function):
    """y = W * x + b (cross-correlation);  gx = conv_transpose(gy, W),  gW = gy . im2col(x),  gb = sum(gy)"""

    def __init__(self, stride, padding):
        self.stride, self.padding = stride, padding

    def forward(self, x, W, b=None):
        self.x_shape, self.W = x.shape, W
        self.kernel = W.shape[2:]
        W2d = W.reshape(W.shape[0], -1)                             # (O, C, kh, kw) -> (O, C*kh*kw)
        y2d, self.col, (N, OH, OW) = _conv_core(x, W2d, self.kernel, self.stride, self.padding)
        if b is not None:
            y2d += b[:, None]                                       # (O,) -> (O, 1)
        return _from_rows(y2d, N, OH, OW)                           # (O, OH*OW*N) -> (N, O, OH, OW)

    def backward(self, gy):
        needs = self.needs_input_grad
        W = self.W
        gx = gW = gb = None
        if needs[0]:
            W2dT = W.reshape(W.shape[0], -1).T                      # (O, C, kh, kw) -> (C*kh*kw, O)
            gx, gy2d = _conv_transpose_core(gy, W2dT, self.x_shape, self.kernel, self.stride, self.padding)
        else:
            gy2d = _to_rows(gy)                                     # (N, O, OH, OW) -> (O, OH*OW*N)
        if needs[1]:
            gW = (gy2d @ self.col.T).reshape(W.shape)               # (O, OH*OW*N) @ (OH*OW*N, C*kh*kw)
        if len(needs) > 2 and needs[2]:
            gb = gy2d.sum(axis=1)                                   # (O, OH*OW*N) -> (O,)
        return gx, gW, gb

    def backward_graph(self, gy):
        """gx = conv_transpose2d(gy, W) with the output_padding that gives back x's exact size,
        gW = Conv2dGradWeight(x, gy), gb = gy summed over (N, OH, OW): all differentiable again."""
        needs = self.needs_input_grad
        x, W = self.inputs[:2]
        gx = gW = gb = None
        if needs[0]:
            gx = ConvTranspose2d.apply(gy, W, stride=self.stride, padding=self.padding,
                                       output_padding=_output_padding(x.shape, gy.shape, self.kernel,
                                                                      self.stride, self.padding))
        if needs[1]:
            gW = Conv2dGradWeight.apply(x, gy, kernel=self.kernel, stride=self.stride, padding=self.padding)
        if len(needs) > 2 and needs[2]:
            gb = gy.sum(dim=(0, 2, 3))                              # (N, O, OH, OW) -> (O,)
        return gx, gW, gb


class ConvTranspose2d(Function):
    """y = W^T * x + b (the adjoint of conv2d);  gx = conv2d(gy, W),  gW = x . im2col(gy),  gb = sum(gy)"""

    def __init__(self, stride, padding, output_padding):
        self.stride, self.padding, self.output_padding = stride, padding, output_padding

    def forward(self, x, W, b=None):
        self.out_shape = (x.shape[0], W.shape[1]) + tuple(
            conv_transpose_output_size(n, k, s, p, op)
            for n, k, s, p, op in zip(x.shape[2:], W.shape[2:], self.stride, self.padding, self.output_padding))
        self.W = W
        self.kernel = W.shape[2:]
        W2dT = W.reshape(W.shape[0], -1).T                          # (C, O, kh, kw) -> (O*kh*kw, C)
        y, self.x2d = _conv_transpose_core(x, W2dT, self.out_shape, self.kernel, self.stride, self.padding)
        if b is not None:
            y += b[:, None, None]                                   # (O,) -> (O, 1, 1)
        return y

    def backward(self, gy):
        needs = self.needs_input_grad
        W = self.W
        gx = gW = gb = None
        if needs[0] or needs[1]:
            W2d = W.reshape(W.shape[0], -1)                         # (C, O, kh, kw) -> (C, O*kh*kw)
            gx2d, gcol, (N, H, Wd) = _conv_core(gy, W2d, self.kernel, self.stride, self.padding)
            if needs[0]:
                gx = _from_rows(gx2d, N, H, Wd)                     # (C, H*W*N) -> (N, C, H, W)
            if needs[1]:
                gW = (self.x2d @ gcol.T).reshape(W.shape)           # (C, H*W*N) @ (H*W*N, O*kh*kw)
        if len(needs) > 2 and needs[2]:
            gb = channel_sum(gy)                                    # (N, O, OH, OW) -> (O,)
        return gx, gW, gb

    def backward_graph(self, gy):
        """gx = conv2d(gy, W), gW = Conv2dGradWeight(gy, x), gb = gy summed over (N, OH, OW).

        The roles in gW: this op is conv2d's adjoint for the conv that maps an (N, O, OH, OW) image to the
        (N, C, H, W) shape of x with weight W (C, O, kh, kw); its weight gradient patches that conv's input
        (here gy) and weighs them by that conv's output gradient (here x)."""
        needs = self.needs_input_grad
        x, W = self.inputs[:2]
        gx = gW = gb = None
        if needs[0]:
            gx = Conv2d.apply(gy, W, stride=self.stride, padding=self.padding)
        if needs[1]:
            gW = Conv2dGradWeight.apply(gy, x, kernel=self.kernel, stride=self.stride, padding=self.padding)
        if len(needs) > 2 and needs[2]:
            gb = gy.sum(dim=(0, 2, 3))                              # (N, O, OH, OW) -> (O,)
        return gx, gW, gb


class Conv2dGradWeight(Function):
    """conv2d's weight gradient as an op (for second derivatives): G = gy2d @ im2col(x)^T, reshaped to the weight
    (O, C, kh, kw). Bilinear in (x, gy):  gx = conv_transpose2d(gy, gG) (cropped or extended to x's size by
    output_padding),  ggy = conv2d(x, gG).

    x is (N, C, H, W), gy (N, O, OH, OW) with OH, OW the conv output size of x for this kernel, stride, padding.
    """

    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = tuple(kernel), stride, padding

    def forward(self, x, gy):
        self.x, self.gy = x, gy
        col = im2col(x, self.kernel, self.stride, self.padding)     # (C*kh*kw, OH*OW*N)
        gy2d = _to_rows(gy)                                         # (N, O, OH, OW) -> (O, OH*OW*N)
        G = gy2d @ col.T                                            # (O, OH*OW*N) @ (OH*OW*N, C*kh*kw)
        return G.reshape((gy.shape[1], x.shape[1]) + self.kernel)   # (O, C*kh*kw) -> (O, C, kh, kw)

    def backward(self, gG):
        needs = self.needs_input_grad
        x, gy = self.x, self.gy
        gx = ggy = None
        G2d = gG.reshape(gG.shape[0], -1)                           # (O, C, kh, kw) -> (O, C*kh*kw)
        if needs[0]:
            gx, _ = _conv_transpose_core(gy, G2d.T, x.shape, self.kernel, self.stride, self.padding)
        if needs[1]:
            ggy2d, _, (N, OH, OW) = _conv_core(x, G2d, self.kernel, self.stride, self.padding)
            ggy = _from_rows(ggy2d, N, OH, OW)                      # (O, OH*OW*N) -> (N, O, OH, OW)
        return gx, ggy

    def backward_graph(self, gG):
        needs = self.needs_input_grad
        x, gy = self.inputs
        gx = ggy = None
        if needs[0]:
            gx = ConvTranspose2d.apply(gy, gG, stride=self.stride, padding=self.padding,
                                       output_padding=_output_padding(x.shape, gy.shape, self.kernel,
                                                                      self.stride, self.padding))
        if needs[1]:
            ggy = Conv2d.apply(x, gG, stride=self.stride, padding=self.padding)
        return gx, ggy


def _output_padding(x_shape, y_shape, kernel, stride, padding):
    """The output_padding that makes conv_transpose2d of a conv's (N, O, OH, OW) output come back to x's exact
    (H, W): the rows and columns the conv's stride skipped at the end, x_size - conv_transpose_output_size(...)."""
    return tuple(n - conv_transpose_output_size(m, k, s, p, 0)
                 for n, m, k, s, p in zip(x_shape[2:], y_shape[2:], kernel, stride, padding))


# ==================================================================================================
# Argument checks, called by the wrappers in tinygan.functional: clear errors, not deep NumPy tracebacks
# ==================================================================================================
def pair(value, name, op, minimum):
    """An int or a pair of ints -> a pair of ints, each >= minimum."""
    try:
        pair = (operator.index(value),) * 2 if not hasattr(value, "__len__") else tuple(map(operator.index, value))
    except TypeError:
        pair = ()
    if len(pair) != 2:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return pair


def _check_common(op, x, W, b, in_axis, out_axis):
    if x.ndim != 4:
        raise ValueError(f"{op}: expects a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
    if W.ndim != 4:
        kind = "(C_out, C_in, kH, kW)" if op == "conv2d" else "(C_in, C_out, kH, kW)"
        raise ValueError(f"{op}: expects a 4-D weight {kind}, got shape {tuple(W.shape)}")
    check_weight_dtype(op, x, W)
    if x.shape[1] != W.shape[in_axis]:
        raise ValueError(f"{op}: input of shape {tuple(x.shape)} has {x.shape[1]} channels but weight of shape "
                         f"{tuple(W.shape)} expects {W.shape[in_axis]} input channels")
    if b is not None and tuple(b.shape) != (W.shape[out_axis],):
        raise ValueError(f"{op}: bias must have shape ({W.shape[out_axis]},) for weight of shape "
                         f"{tuple(W.shape)}, got {tuple(b.shape)}")


def check_conv(x, W, b, stride, padding):
    """Raise a clear error when conv2d cannot run on these shapes (stride, padding: checked pairs)."""
    _check_common("conv2d", x, W, b, in_axis=1, out_axis=0)
    size = tuple(conv_output_size(n, k, s, p) for n, k, s, p in zip(x.shape[2:], W.shape[2:], stride, padding))
    if min(size) <= 0:
        padded = tuple(n + 2 * p for n, p in zip(x.shape[2:], padding))
        raise ValueError(f"conv2d: padded input size {padded} (input {tuple(x.shape)}, padding {padding}) is "
                         f"smaller than the kernel {tuple(W.shape[2:])}: the output size would be {size}")


def check_conv_transpose(x, W, b, stride, padding, output_padding):
    """Raise a clear error when conv_transpose2d cannot run on these shapes."""
    _check_common("conv_transpose2d", x, W, b, in_axis=0, out_axis=1)
    check_output_padding(output_padding, stride, "conv_transpose2d")
    size = tuple(conv_transpose_output_size(n, k, s, p, op)
                 for n, k, s, p, op in zip(x.shape[2:], W.shape[2:], stride, padding, output_padding))
    if min(size) <= 0:
        raise ValueError(f"conv_transpose2d: input of shape {tuple(x.shape)} with kernel {tuple(W.shape[2:])}, "
                         f"stride {stride}, padding {padding} gives an output size {size} <= 0")


def check_output_padding(output_padding, stride, op):
    """A transposed conv's output_padding picks one of the stride sizes that conv maps to the same length."""
    if any(o >= s for o, s in zip(output_padding, stride)):
        raise ValueError(f"{op}: output_padding {output_padding} must be smaller than stride {stride}")

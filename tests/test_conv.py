"""conv2d and conv_transpose2d: forward against plain-loop references, float64 gradchecks, adjointness, errors."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygan
import tinygan.functional as F
from tinygan import backend

# the device fixture is function-scoped: safe here, since every example builds its own tensors
with_fixture = settings(suppress_health_check=list(settings.default.suppress_health_check)
                        + [HealthCheck.function_scoped_fixture])


# ==================================================================================================
# Plain references: the definitions, written with loops
# ==================================================================================================
def conv2d_reference(x, W, b, stride, padding):
    """y[n, o, i, j] = sum over c, u, v of x_padded[n, c, i*sh + u, j*sw + v] * W[o, c, u, v] + b[o]."""
    (sh, sw), (ph, pw) = stride, padding
    N, C, H, Wd = x.shape
    O, _, kh, kw = W.shape
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    OH, OW = (H + 2 * ph - kh) // sh + 1, (Wd + 2 * pw - kw) // sw + 1
    y = np.zeros((N, O, OH, OW))
    for n in range(N):
        for o in range(O):
            for i in range(OH):
                for j in range(OW):
                    patch = xpad[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    y[n, o, i, j] = (patch * W[o]).sum() + (0 if b is None else b[o])
    return y


def conv_transpose2d_reference(x, W, b, stride, padding, output_padding):
    """Every input pixel x[n, c, i, j] adds x * W[c] onto the output window at (i*sh, j*sw), then crop padding."""
    (sh, sw), (ph, pw), (oph, opw) = stride, padding, output_padding
    N, C, H, Wd = x.shape
    _, O, kh, kw = W.shape
    full = np.zeros((N, O, (H - 1) * sh + kh + oph, (Wd - 1) * sw + kw + opw))
    for n in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(Wd):
                    full[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += x[n, c, i, j] * W[c]
    OH, OW = full.shape[2] - 2 * ph, full.shape[3] - 2 * pw
    y = full[:, :, ph:ph + OH, pw:pw + OW]
    return y if b is None else y + b[None, :, None, None]


# ==================================================================================================
# Hypothesis strategies: small random conv settings
# ==================================================================================================
@st.composite
def conv_cases(draw, transposed=False):
    N = draw(st.integers(1, 4))
    C_in, C_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    output_padding = tuple(draw(st.integers(0, s - 1)) for s in stride) if transposed else (0, 0)
    size = []
    for k, s, p, op in zip(kernel, stride, padding, output_padding):
        if transposed:   # smallest input with a positive output size: (n - 1) s - 2p + k + op >= 1
            low = max(1, -(-(2 * p - k - op + 1) // s) + 1)
        else:            # the padded input must hold the kernel: n + 2p >= k
            low = max(1, k - 2 * p)
        size.append(draw(st.integers(low, low + 5)))   # non-square in general
    bias = draw(st.booleans())
    return dict(N=N, C_in=C_in, C_out=C_out, kernel=kernel, stride=stride, padding=padding,
                output_padding=output_padding, size=tuple(size), bias=bias)


def make(case, transposed, device, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((case["N"], case["C_in"]) + case["size"])
    w_shape = (case["C_in"], case["C_out"]) if transposed else (case["C_out"], case["C_in"])
    W = rng.standard_normal(w_shape + case["kernel"])
    b = rng.standard_normal(case["C_out"]) if case["bias"] else None
    tensors = [tinygan.tensor(a, device=device, requires_grad=True) if a is not None else None for a in (x, W, b)]
    return (x, W, b), tensors


# ==================================================================================================
# conv2d
# ==================================================================================================
@with_fixture
@given(case=conv_cases())
def test_conv2d_forward_matches_loop_reference(case, device):
    (x, W, b), (tx, tW, tb) = make(case, False, device)
    y = F.conv2d(tx, tW, tb, stride=case["stride"], padding=case["padding"])
    expected = conv2d_reference(x, W, b, case["stride"], case["padding"])
    assert y.shape == expected.shape
    np.testing.assert_allclose(backend.asnumpy(y.array), expected, rtol=1e-10, atol=1e-10)


@with_fixture
@given(case=conv_cases())
def test_conv2d_gradcheck(case, device):
    _, (tx, tW, tb) = make(case, False, device)
    inputs = [tx, tW] + ([tb] if tb is not None else [])

    def fn(x, W, b=None):
        return F.conv2d(x, W, b, stride=case["stride"], padding=case["padding"])
    assert tinygan.gradcheck(fn, inputs, mode="directional")


@with_fixture
@given(case=conv_cases(transposed=True))
def test_conv_transpose2d_forward_matches_scatter_reference(case, device):
    (x, W, b), (tx, tW, tb) = make(case, True, device)
    y = F.conv_transpose2d(tx, tW, tb, stride=case["stride"], padding=case["padding"],
                           output_padding=case["output_padding"])
    expected = conv_transpose2d_reference(x, W, b, case["stride"], case["padding"], case["output_padding"])
    assert y.shape == expected.shape
    np.testing.assert_allclose(backend.asnumpy(y.array), expected, rtol=1e-10, atol=1e-10)


@with_fixture
@given(case=conv_cases(transposed=True))
def test_conv_transpose2d_gradcheck(case, device):
    _, (tx, tW, tb) = make(case, True, device)
    inputs = [tx, tW] + ([tb] if tb is not None else [])

    def fn(x, W, b=None):
        return F.conv_transpose2d(x, W, b, stride=case["stride"], padding=case["padding"],
                                  output_padding=case["output_padding"])
    assert tinygan.gradcheck(fn, inputs, mode="directional")


@given(case=conv_cases())
def test_conv_transpose_is_the_adjoint_of_conv(case):
    """<conv2d(x, W), g> == <x, conv_transpose2d(g, W)>: the identity each op's backward relies on."""
    (x, W, _), (tx, tW, _) = make(case, False, "cpu")
    y = F.conv2d(tx, tW, stride=case["stride"], padding=case["padding"])
    g = np.random.default_rng(1).standard_normal(y.shape)
    # the transposed conv of g must land back on x's size: output_padding makes up the floor division
    op = tuple((n + 2 * p - k) % s for n, p, k, s in zip(x.shape[2:], case["padding"], W.shape[2:], case["stride"]))
    back = F.conv_transpose2d(tinygan.tensor(g), tW, stride=case["stride"], padding=case["padding"],
                              output_padding=op)
    assert back.shape == x.shape
    np.testing.assert_allclose((y.array * g).sum(), (x * back.array).sum(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("N", [1, 3])
def test_im2col_layout_and_col2im_adjoint(N):
    """im2col's row (c, u, v) and column (i, j, n) hold x_padded[n, c, i*sh + u, j*sw + v]; col2im is its adjoint."""
    from tinygan.ops.conv import col2im, im2col
    rng = np.random.default_rng(N)
    x = rng.standard_normal((N, 2, 5, 4))
    kernel, stride, padding = (3, 2), (2, 1), (1, 1)
    col = im2col(x, kernel, stride, padding)
    OH, OW = (5 + 2 - 3) // 2 + 1, (4 + 2 - 2) // 1 + 1
    assert col.shape == (2 * 3 * 2, OH * OW * N)
    xpad = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.array([[xpad[n, c, i * 2 + u, j + v] for i in range(OH) for j in range(OW) for n in range(N)]
                         for c in range(2) for u in range(3) for v in range(2)])
    np.testing.assert_array_equal(col, expected)
    g = rng.standard_normal(col.shape)
    back = col2im(g, x.shape, kernel, stride, padding)
    assert back.shape == x.shape and back.strides[0] == back.itemsize   # a view of batch-innermost memory
    np.testing.assert_allclose((col * g).sum(), (x * back).sum(), rtol=1e-12)


def test_conv_outputs_stay_batch_innermost_so_the_next_conv_needs_no_transpose_copy():
    """conv outputs are (N, C, H, W) views of (C, H, W, N) memory; a conv2d output's rows are a free view.

    (A transposed conv's output is a cropped view of its padded image, so its rows need one copy, which
    still reads runs of N contiguous floats.)"""
    from tinygan.ops.conv import _to_rows
    rng = np.random.default_rng(0)
    x = tinygan.tensor(rng.standard_normal((3, 2, 6, 6)), requires_grad=True)
    W1 = tinygan.tensor(rng.standard_normal((4, 2, 3, 3)), requires_grad=True)
    W2 = tinygan.tensor(rng.standard_normal((4, 5, 3, 3)), requires_grad=True)
    h = F.conv2d(x, W1, stride=2, padding=1)                      # (3, 4, 3, 3)
    y = F.conv_transpose2d(h, W2, stride=2, padding=1)            # (3, 5, 5, 5)
    for t in (h, y):
        assert t.array.strides[0] == t.array.itemsize             # batch innermost in memory
    assert np.shares_memory(_to_rows(h.array), h.array)           # the next conv reads it without copying
    np.testing.assert_allclose(h.array, conv2d_reference(x.array, W1.array, None, (2, 2), (1, 1)), rtol=1e-12)
    (y * y).sum().backward()                                    # gradients flow through the strided views
    assert x.grad.shape == x.shape and W1.grad.shape == W1.shape


@pytest.mark.parametrize("transposed", [False, True])
def test_weight_only_and_input_only_gradients_match_full_backward(transposed):
    """The backward branches that skip gx (first layer) or gW (frozen weights) give the same numbers."""
    case = dict(N=2, C_in=3, C_out=2, kernel=(3, 2), stride=(2, 1), padding=(1, 0),
                output_padding=(1, 0) if transposed else (0, 0), size=(5, 4), bias=True)
    op = F.conv_transpose2d if transposed else F.conv2d
    extra = dict(output_padding=case["output_padding"]) if transposed else {}

    def grads(flags):
        _, tensors = make(case, transposed, "cpu")
        for t, flag in zip(tensors, flags):
            t.requires_grad = flag
        op(*tensors, stride=case["stride"], padding=case["padding"], **extra).sum().backward()
        return [None if t.grad is None else t.grad.array for t in tensors]

    full = grads((True, True, True))
    only_w = grads((False, True, False))
    only_x = grads((True, False, False))
    assert only_w[0] is None and only_x[1] is None
    np.testing.assert_allclose(only_w[1], full[1])
    np.testing.assert_allclose(only_x[0], full[0])


def test_conv_float32_stays_float32():
    x = tinygan.randn(2, 3, 6, 6, requires_grad=True)
    W = tinygan.randn(4, 3, 3, 3, requires_grad=True)
    Wt = tinygan.randn(4, 2, 4, 4, requires_grad=True)
    y = F.conv2d(x, W, stride=2, padding=1)
    z = F.conv_transpose2d(y, Wt, tinygan.zeros(2), stride=2, padding=1)
    assert y.dtype == np.float32 and z.dtype == np.float32 and z.shape == (2, 2, 6, 6)
    z.sum().backward()
    assert x.grad.dtype == np.float32 and W.grad.dtype == np.float32 and Wt.grad.dtype == np.float32


def test_int_and_pair_arguments_agree():
    x, W = tinygan.randn(1, 1, 6, 6), tinygan.randn(1, 1, 3, 3)
    a = F.conv2d(x, W, stride=2, padding=1).array
    b = F.conv2d(x, W, stride=(2, 2), padding=(1, 1)).array
    np.testing.assert_array_equal(a, b)                  # exact: the same code path on the same data


# ==================================================================================================
# Errors
# ==================================================================================================
def test_conv_errors_are_clear():
    W = tinygan.randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d: expects a 4-D input \(N, C, H, W\), got shape \(3, 8, 8\)"):
        F.conv2d(tinygan.randn(3, 8, 8), W)
    with pytest.raises(ValueError, match=r"conv2d: input of shape \(1, 2, 8, 8\) has 2 channels but weight "
                                         r"of shape \(4, 3, 3, 3\) expects 3"):
        F.conv2d(tinygan.randn(1, 2, 8, 8), W)
    with pytest.raises(ValueError, match=r"conv2d: .*smaller than the kernel.*output size would be \(0, 0\)"):
        F.conv2d(tinygan.randn(1, 3, 2, 2), W)
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(4,\)"):
        F.conv2d(tinygan.randn(1, 3, 8, 8), W, tinygan.zeros(3))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        F.conv2d(tinygan.randn(1, 3, 8, 8), W, stride=0)
    with pytest.raises(TypeError, match="padding must be an int or a pair"):
        F.conv2d(tinygan.randn(1, 3, 8, 8), W, padding=(1, 1, 1))


def test_conv_transpose_errors_are_clear():
    W = tinygan.randn(3, 4, 3, 3)
    with pytest.raises(ValueError, match=r"conv_transpose2d: expects a 4-D input"):
        F.conv_transpose2d(tinygan.randn(3, 8), W)
    with pytest.raises(ValueError, match=r"input of shape \(1, 4, 2, 2\) has 4 channels but weight of shape "
                                         r"\(3, 4, 3, 3\) expects 3"):
        F.conv_transpose2d(tinygan.randn(1, 4, 2, 2), W)
    with pytest.raises(ValueError, match=r"output size \(-1, -1\) <= 0"):
        F.conv_transpose2d(tinygan.randn(1, 3, 1, 1), W, padding=2)
    with pytest.raises(ValueError, match="output_padding .* must be smaller than stride"):
        F.conv_transpose2d(tinygan.randn(1, 3, 2, 2), W, stride=2, output_padding=2)

"""max_pool2d and avg_pool2d: forward against plain-loop references, float64 gradchecks, ties, errors, the nn
layers, and agreement with PyTorch where it is installed."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygan
import tinygan.functional as F
from tinygan import backend, nn

# the device fixture is function-scoped: safe here, since every example builds its own tensors
with_fixture = settings(suppress_health_check=list(settings.default.suppress_health_check)
                        + [HealthCheck.function_scoped_fixture])

POOLS = ["max", "avg", "avg_exclude_pad"]


# ==================================================================================================
# Plain references: the definitions, written with loops over windows
# ==================================================================================================
def pool_reference(x, kind, kernel, stride, padding):
    """y[n, c, i, j] = max or mean of x_padded[n, c, i*sh : i*sh + kh, j*sw : j*sw + kw].

    Max pads with -inf; "avg" divides by kh*kw (padding counted), "avg_exclude_pad" by the real elements only.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    N, C, H, W = x.shape
    fill = -np.inf if kind == "max" else 0.0
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    real = np.pad(np.ones((H, W)), ((ph, ph), (pw, pw)))           # 1 on the image, 0 on the padding
    OH, OW = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    y = np.zeros((N, C, OH, OW))
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    window = xpad[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    if kind == "max":
                        y[n, c, i, j] = window.max()
                    elif kind == "avg":
                        y[n, c, i, j] = window.sum() / (kh * kw)
                    else:
                        y[n, c, i, j] = window.sum() / real[i * sh:i * sh + kh, j * sw:j * sw + kw].sum()
    return y


def pool(x, kind, kernel, stride, padding):
    if kind == "max":
        return F.max_pool2d(x, kernel, stride, padding)
    return F.avg_pool2d(x, kernel, stride, padding, count_include_pad=kind == "avg")


# ==================================================================================================
# Hypothesis strategies: small random pool settings, inputs without ties
# ==================================================================================================
@st.composite
def pool_cases(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)        # PyTorch's rule: pad <= kernel / 2
    size = []
    for k, p in zip(kernel, padding):
        low = max(1, k - 2 * p)                                         # the padded input must hold the kernel
        size.append(draw(st.integers(low, low + 4)))                    # non-square in general
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) + tuple(size)
    return dict(kind=draw(st.sampled_from(POOLS)), shape=shape, kernel=kernel, stride=stride, padding=padding,
                seed=draw(st.integers(0, 2**16)))


def distinct_values(shape, seed):
    """A random permutation of evenly spaced values (gap 0.1, negatives too), as MyGrad does: no two elements
    tie, so every max-pool window has one argmax that finite differences (eps 1e-6) cannot move."""
    size = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(size) - size / 2).reshape(shape) * 0.1


# ==================================================================================================
# Forward and gradients, on every device
# ==================================================================================================
@with_fixture
@given(case=pool_cases())
def test_pool_forward_matches_loop_reference(case, device):
    x = distinct_values(case["shape"], case["seed"])
    y = pool(tinygan.tensor(x, device=device), case["kind"], case["kernel"], case["stride"], case["padding"])
    expected = pool_reference(x, case["kind"], case["kernel"], case["stride"], case["padding"])
    assert y.shape == expected.shape and y.device == device
    np.testing.assert_allclose(backend.asnumpy(y.array), expected, rtol=1e-12, atol=1e-12)


@with_fixture
@given(case=pool_cases())
def test_pool_gradcheck(case, device):
    x = tinygan.tensor(distinct_values(case["shape"], case["seed"]), device=device, requires_grad=True)

    def fn(x):
        return pool(x, case["kind"], case["kernel"], case["stride"], case["padding"])
    assert tinygan.gradcheck(fn, [x], mode="directional", seed=case["seed"])


@pytest.mark.parametrize("kind", POOLS)
def test_pool_full_jacobian_with_overlapping_padded_windows(kind):
    """Every element's gradient, where windows overlap (stride < kernel) and hang over the padding."""
    x = tinygan.tensor(distinct_values((2, 2, 5, 4), 3), requires_grad=True)
    assert tinygan.gradcheck(lambda x: pool(x, kind, (3, 2), (2, 1), (1, 1)), [x], mode="full")


def test_max_pool_ties_send_the_gradient_to_the_first_maximum_in_the_window():
    """As PyTorch: windows are scanned row by row, and the first of equal maxima gets the whole gradient."""
    x = tinygan.tensor(np.array([[[[1.0, 1.0, 0.0, 2.0],
                                   [1.0, 1.0, 2.0, 2.0]]]]), requires_grad=True)
    y = F.max_pool2d(x, 2)
    np.testing.assert_array_equal(y.array, [[[[1.0, 2.0]]]])
    y.backward(tinygan.tensor(np.array([[[[5.0, 7.0]]]])))
    np.testing.assert_array_equal(x.grad.array, [[[[5.0, 0.0, 0.0, 7.0],
                                                  [0.0, 0.0, 0.0, 0.0]]]])


def test_max_pool_pads_with_minus_infinity_and_padding_gets_no_gradient():
    x = tinygan.tensor(-1.0 - np.arange(9.0).reshape(1, 1, 3, 3), requires_grad=True)   # all negative
    y = F.max_pool2d(x, 2, stride=2, padding=1)                                    # corner windows: 1 real
    np.testing.assert_array_equal(y.array, [[[[-1.0, -2.0], [-4.0, -5.0]]]])         # never the padding's 0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, [[[[1, 1, 0], [1, 1, 0], [0, 0, 0]]]])


def test_avg_pool_count_include_pad_divides_by_the_kernel_or_by_the_real_elements():
    x = tinygan.ones(1, 1, 2, 2)
    np.testing.assert_allclose(F.avg_pool2d(x, 2, padding=1).array, np.full((1, 1, 2, 2), 0.25))
    np.testing.assert_allclose(F.avg_pool2d(x, 2, padding=1, count_include_pad=False).array, np.ones((1, 1, 2, 2)))


@pytest.mark.parametrize("kind", POOLS)
def test_pool_keeps_float32_batch_innermost_and_leaves_input_and_gradient_alone(kind, device):
    x = tinygan.randn(3, 2, 6, 6, device=device, requires_grad=True)
    before = backend.asnumpy(x.array).copy()
    y = pool(x, kind, 2, 2, 1)
    assert y.dtype == np.float32 and y.shape == (3, 2, 4, 4)
    assert y.array.strides[0] == y.array.itemsize          # (N, C, OH, OW) view of (C, OH, OW, N), as conv's
    gy = tinygan.randn(*y.shape, device=device)
    gy_before = backend.asnumpy(gy.array).copy()
    y.backward(gy)
    assert x.grad.dtype == np.float32 and x.grad.shape == x.shape
    np.testing.assert_array_equal(backend.asnumpy(x.array), before)
    np.testing.assert_array_equal(backend.asnumpy(gy.array), gy_before)


def test_pool_reads_conv_outputs_and_defaults_stride_to_kernel_size():
    """A conv output (a batch-innermost view) pools like a contiguous copy; stride=None means kernel_size."""
    x = tinygan.randn(4, 1, 12, 12)
    h = F.conv2d(x, tinygan.randn(6, 1, 5, 5), padding=2)        # (4, 6, 12, 12), a strided view
    for kind in POOLS:
        a = pool(h, kind, 2, None, 0).array
        b = pool(tinygan.tensor(np.ascontiguousarray(h.array)), kind, (2, 2), (2, 2), (0, 0)).array
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)   # float32 sums in another order
        assert a.shape == (4, 6, 6, 6)


# ==================================================================================================
# Errors
# ==================================================================================================
def test_pool_errors_are_clear():
    x = tinygan.randn(1, 2, 6, 6)
    with pytest.raises(ValueError, match=r"max_pool2d: padding \(2, 2\) must be at most half of kernel_size "
                                         r"\(3, 3\)"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match=r"avg_pool2d: padding \(0, 2\) must be at most half"):
        F.avg_pool2d(x, (2, 3), padding=(0, 2))
    with pytest.raises(ValueError, match=r"max_pool2d: expects a 4-D input \(N, C, H, W\), got shape \(2, 6, 6\)"):
        F.max_pool2d(tinygan.randn(2, 6, 6), 2)
    with pytest.raises(ValueError, match=r"avg_pool2d: padded input size \(2, 8\).*output size would be \(0, 3\)"):
        F.avg_pool2d(tinygan.randn(1, 1, 2, 8), 3, stride=2)
    with pytest.raises(ValueError, match="max_pool2d: kernel_size must be >= 1"):
        F.max_pool2d(x, 0)
    with pytest.raises(ValueError, match="avg_pool2d: stride must be >= 1"):
        F.avg_pool2d(x, 2, stride=0)
    with pytest.raises(TypeError, match="max_pool2d: padding must be an int or a pair"):
        F.max_pool2d(x, 2, padding=(1, 1, 1))
    with pytest.raises(TypeError, match="max_pool2d: expects a floating point input, got int64"):
        F.max_pool2d(tinygan.tensor(np.zeros((1, 1, 2, 2), dtype=np.int64)), 2)


@pytest.mark.parametrize("call, message", [
    (lambda x: F.max_pool2d(x, 2, dilation=2), r"max_pool2d: only dilation=1 is supported, got dilation=2"),
    (lambda x: F.max_pool2d(x, 2, dilation=(1, 2)), r"dilation=\(1, 2\)"),
    (lambda x: F.max_pool2d(x, 2, ceil_mode=True), r"max_pool2d: only ceil_mode=False is supported"),
    (lambda x: F.max_pool2d(x, 2, return_indices=True), r"max_pool2d: only return_indices=False"),
    (lambda x: F.avg_pool2d(x, 2, ceil_mode=True), r"avg_pool2d: only ceil_mode=False"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=3), r"avg_pool2d: only divisor_override=None .* got "
                                                       r"divisor_override=3"),
    (lambda x: nn.MaxPool2d(2, dilation=2), r"MaxPool2d: only dilation=1"),
    (lambda x: nn.MaxPool2d(2, return_indices=True), r"MaxPool2d: only return_indices=False"),
    (lambda x: nn.AvgPool2d(2, divisor_override=1), r"AvgPool2d: only divisor_override=None"),
])
def test_unsupported_arguments_are_named(call, message):
    with pytest.raises(NotImplementedError, match=message):
        call(tinygan.randn(1, 1, 4, 4))
    F.max_pool2d(tinygan.randn(1, 1, 4, 4), 2, dilation=(1, 1))   # 1 as a pair is fine


# ==================================================================================================
# The nn layers
# ==================================================================================================
def test_pool_layers_repr_as_pytorch():
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.MaxPool2d((3, 2), 1, (1, 0))) == \
        "MaxPool2d(kernel_size=(3, 2), stride=1, padding=(1, 0), dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.AvgPool2d(3, stride=2, padding=1)) == "AvgPool2d(kernel_size=3, stride=2, padding=1)"
    assert nn.MaxPool2d(2).parameters() is not None and list(nn.AvgPool2d(2).parameters()) == []


def test_pool_layers_compute_what_the_functions_do_in_a_lenet_style_stack(device):
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2, count_include_pad=False),
                        nn.Flatten(), nn.Linear(16 * 5 * 5, 10)).to(device)
    x = tinygan.randn(3, 1, 28, 28, device=device)
    out = net(x)
    assert out.shape == (3, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    h = net[1](net[0](x))
    np.testing.assert_array_equal(backend.asnumpy(net[2](h).array), backend.asnumpy(F.max_pool2d(h, 2).array))


def test_pool_layers_check_their_input_and_name_themselves():
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=2, .*\) expected input \(N, C, H, W\), "
                                         r"got \(4, 4\)"):
        nn.MaxPool2d(2)(tinygan.randn(4, 4))
    with pytest.raises(TypeError, match=r"AvgPool2d\(kernel_size=2, stride=2, padding=0\) expected a Tensor"):
        nn.AvgPool2d(2)(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"^AvgPool2d\(kernel_size=3, stride=3, padding=0\): avg_pool2d: padded "
                                         r"input size \(2, 2\)"):
        nn.AvgPool2d(3)(tinygan.randn(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"MaxPool2d: padding \(2, 2\) must be at most half of kernel_size"):
        nn.MaxPool2d(2, padding=2)                          # checked when the layer is built


# ==================================================================================================
# Against PyTorch, where it is installed
# ==================================================================================================
TORCH_CASES = [((4, 3, 9, 8), 2, None, 0), ((2, 2, 7, 7), 3, 2, 1), ((3, 1, 6, 9), (3, 2), (1, 2), (1, 1)),
               ((2, 3, 5, 5), 3, 1, 1), ((2, 2, 8, 8), 4, 3, 2)]


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize("shape, kernel, stride, padding", TORCH_CASES)
def test_pool_agrees_with_torch(kind, shape, kernel, stride, padding):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    if kind == "max":
        x = np.round(x, 1)                                  # ties too: both pick the first maximum
        ours = lambda t: F.max_pool2d(t, kernel, stride, padding)                          # noqa: E731
        theirs = lambda t: torch.nn.functional.max_pool2d(t, kernel, stride, padding)      # noqa: E731
    else:
        include = kind == "avg"
        ours = lambda t: F.avg_pool2d(t, kernel, stride, padding, count_include_pad=include)  # noqa: E731
        theirs = lambda t: torch.nn.functional.avg_pool2d(t, kernel, stride, padding,         # noqa: E731
                                                          count_include_pad=include)
    tx, txt = tinygan.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = ours(tx), theirs(txt)
    np.testing.assert_allclose(y.array, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    gy = rng.standard_normal(y.shape)
    y.backward(tinygan.tensor(gy))
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(tx.grad.array, txt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_pool_layer_reprs_match_torch():
    torch = pytest.importorskip("torch")
    for args, kwargs in [((2,), {}), ((3,), dict(stride=2, padding=1)), (((3, 2), 1, (1, 0)), {})]:
        assert repr(nn.MaxPool2d(*args, **kwargs)) == repr(torch.nn.MaxPool2d(*args, **kwargs))
        assert repr(nn.AvgPool2d(*args, **kwargs)) == repr(torch.nn.AvgPool2d(*args, **kwargs))

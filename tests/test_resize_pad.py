"""F.interpolate / nn.Upsample and F.pad / nn.ZeroPad2d / nn.ConstantPad2d: forward against plain-loop
references, float64 gradchecks over hypothesis-drawn shapes and settings, the nearest fast path, clear
errors, and forward and backward against PyTorch where it is installed."""
import importlib.util
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygan
import tinygan.functional as F
from tinygan import nn
from tinygan.ops import resize

from conftest import strict_cupy_or_skip

# the device fixture is function-scoped: safe here, since every example builds its own tensors
with_fixture = settings(suppress_health_check=list(settings.default.suppress_health_check)
                        + [HealthCheck.function_scoped_fixture])

MODES = ["nearest", "nearest-exact", "bilinear"]
# scale factors a GAN or a port uses: integers, halves, and awkward ones whose reciprocal is inexact
SCALES = [1.0, 2.0, 3.0, 4.0, 0.5, 1.5, 2.5, 0.75, 1.7, 2.3, 0.3, 1.25]


# ==================================================================================================
# Plain references: PyTorch's source-coordinate rules (aten/src/ATen/native/UpSample.h), one pixel at a time
# ==================================================================================================
def nearest_src(dst, n, m, scale, exact):
    """The input pixel output pixel ``dst`` copies (float64 images: coordinates in double, floored as float32)."""
    if not exact and m == n:
        return dst
    if not exact and m == 2 * n:
        return dst // 2
    ratio = 1.0 / scale if scale else n / m
    real = max(ratio * (dst + 0.5) - 0.5, 0.0) + 0.5 if exact else ratio * dst
    return min(math.floor(np.float32(real)), n - 1)


def linear_src(dst, n, m, scale, align_corners):
    """(i0, i1, weight of i1) of output pixel ``dst`` along one axis; an axis whose size stays is copied."""
    if m == n:
        return dst, dst, 0.0
    if align_corners:
        real = dst * (n - 1) / (m - 1) if m > 1 else 0.0
    else:
        ratio = 1.0 / scale if scale else n / m
        real = max(ratio * (dst + 0.5) - 0.5, 0.0)
    i0 = int(real)
    return i0, i0 + (i0 < n - 1), real - i0


def interpolate_reference(x, out, scales, mode, align_corners=False):
    N, C, H, W = x.shape
    y = np.zeros((N, C) + tuple(out))
    for i in range(out[0]):
        for j in range(out[1]):
            if mode == "bilinear":
                h0, h1, lh = linear_src(i, H, out[0], scales[0], align_corners)
                w0, w1, lw = linear_src(j, W, out[1], scales[1], align_corners)
                y[:, :, i, j] = ((1 - lh) * ((1 - lw) * x[:, :, h0, w0] + lw * x[:, :, h0, w1])
                                 + lh * ((1 - lw) * x[:, :, h1, w0] + lw * x[:, :, h1, w1]))
            else:
                exact = mode == "nearest-exact"
                y[:, :, i, j] = x[:, :, nearest_src(i, H, out[0], scales[0], exact),
                                  nearest_src(j, W, out[1], scales[1], exact)]
    return y


def pad_reference(x, pads, value):
    """np.pad for the positive amounts, then slicing for the negative ones; pads = PyTorch's flat tuple."""
    pairs = [(0, 0)] * (x.ndim - len(pads) // 2) + [(pads[i], pads[i + 1]) for i in range(0, len(pads), 2)][::-1]
    y = np.pad(x, [(max(b, 0), max(a, 0)) for b, a in pairs], constant_values=value)
    return y[tuple(slice(max(-b, 0), y.shape[k] - max(-a, 0)) for k, (b, a) in enumerate(pairs))]


# ==================================================================================================
# Hypothesis strategies
# ==================================================================================================
@st.composite
def resize_cases(draw, max_side=6):
    """A small image, a mode, and either an output size or scale factors (per axis, non-integer too)."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)),
             draw(st.integers(1, max_side)), draw(st.integers(1, max_side)))
    mode = draw(st.sampled_from(MODES))
    align_corners = draw(st.booleans()) if mode == "bilinear" else None
    if draw(st.booleans()):
        size = (draw(st.integers(1, 2 * max_side)), draw(st.integers(1, 2 * max_side)))
        kwargs, out, scales = dict(size=size), size, (None, None)
    else:
        scales = (draw(st.sampled_from(SCALES)), draw(st.sampled_from(SCALES)))
        out = tuple(math.floor(n * s) for n, s in zip(shape[2:], scales))
        if min(out) < 1:
            scales = (2.0, 2.0)
            out = tuple(2 * n for n in shape[2:])
        kwargs = dict(scale_factor=scales)
    return dict(shape=shape, mode=mode, align_corners=align_corners, kwargs=kwargs, out=out, scales=scales,
                seed=draw(st.integers(0, 2**16)))


@st.composite
def pad_cases(draw):
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    pairs = draw(st.integers(1, ndim))
    pad = []
    for n in shape[::-1][:pairs]:                                  # last axis first, as PyTorch reads it
        before = draw(st.integers(-n, 3))
        after = draw(st.integers(-(n + before), 3))                # never a negative size
        pad += [before, after]
    return dict(shape=shape, pad=tuple(pad), value=draw(st.sampled_from([0, 0.0, -1.5, 2])),
                seed=draw(st.integers(0, 2**16)))


def random(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


# ==================================================================================================
# interpolate: forward, gradients, the fast path
# ==================================================================================================
@given(case=resize_cases())
@with_fixture
def test_interpolate_matches_the_reference_and_gradcheck(case, device):
    x = random(case["shape"], case["seed"])
    t = tinygan.tensor(x, dtype=np.float64, device=device, requires_grad=True)
    y = F.interpolate(t, mode=case["mode"], align_corners=case["align_corners"], **case["kwargs"])
    assert y.shape == case["shape"][:2] + tuple(case["out"]) and y.device == device
    expected = interpolate_reference(x, case["out"], case["scales"], case["mode"], case["align_corners"])
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    assert tinygan.gradcheck(
        lambda a: F.interpolate(a, mode=case["mode"], align_corners=case["align_corners"], **case["kwargs"]), [t])


@pytest.mark.parametrize("kwargs", [dict(scale_factor=2), dict(scale_factor=(3, 1)), dict(size=(14, 21)),
                                    dict(scale_factor=2.0, mode="nearest-exact"), dict(scale_factor=1)])
def test_nearest_integer_factors_take_the_fast_path_and_agree_with_the_general_one(kwargs, device, xp):
    x = tinygan.tensor(random((2, 3, 7, 7), 0), device=device, requires_grad=True)
    y = F.interpolate(x, **kwargs)
    assert type(y.grad_fn) is resize.NearestRepeat2d
    mode = kwargs.get("mode", "nearest")
    rows, row_index = resize._axis(7, y.shape[2], None, mode, False, np.dtype(np.float64), xp)
    cols, col_index = resize._axis(7, y.shape[3], None, mode, False, np.dtype(np.float64), xp)
    x2 = tinygan.tensor(x.detach().numpy(), device=device, requires_grad=True)
    y2 = resize.Resize2d.apply(x2, rows=rows, cols=cols, row_index=row_index, col_index=col_index)
    np.testing.assert_array_equal(y.detach().numpy(), y2.detach().numpy())   # exact: both copy input pixels
    gy = random(y.shape, 1)
    y.backward(gy)
    y2.backward(gy)
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-12, atol=1e-12)


def _another_standin():
    """A second copy of the strict CuPy stand-in (tests/strict_cupy.py): another array module, whose arrays and
    the first copy's refuse each other as real CuPy's and the stand-in's do."""
    first = strict_cupy_or_skip()
    spec = importlib.util.spec_from_file_location("strict_cupy_another", first.__file__)
    another = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(another)
    return first, another


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_kept_resize_matrices_belong_to_the_array_module_that_asks(mode):
    """The matrices resize keeps are keyed by array module, not by device name: a run of the `gpu` tests (real
    CuPy) and then the `gpu-standin` ones (both "gpu") must not hand one module's arrays to the other."""
    first, another = _another_standin()
    x = random((2, 3, 5, 6), 0)
    expected = F.interpolate(tinygan.tensor(x), size=(9, 4), mode=mode).numpy()
    resize._axis.cache_clear()
    for module in (first, another):
        with module.standing_in():
            y = F.interpolate(tinygan.tensor(x, device="gpu"), size=(9, 4), mode=mode)
            np.testing.assert_array_equal(y.numpy(), expected)   # exact: the same NumPy arithmetic underneath


def test_nearest_fast_path_is_a_block_copy_and_its_backward_a_block_sum():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    y = F.interpolate(tinygan.tensor(x), scale_factor=(2, 3))
    np.testing.assert_array_equal(y.detach().numpy()[0, 0], np.kron(x[0, 0], np.ones((2, 3))))
    g = resize.sum_blocks(np.ones((1, 1, 4, 9)), (2, 3))
    np.testing.assert_array_equal(g, np.full((1, 1, 2, 3), 6.0))


def test_non_integer_and_shrinking_factors_take_the_general_path():
    x = tinygan.tensor(random((1, 2, 6, 6), 0), requires_grad=True)
    assert type(F.interpolate(x, scale_factor=1.5).grad_fn) is resize.Resize2d
    assert type(F.interpolate(x, scale_factor=0.5).grad_fn) is resize.Resize2d
    assert type(F.interpolate(x, scale_factor=2, mode="bilinear").grad_fn) is resize.Resize2d


def test_nearest_keeps_infinities_where_they_are():
    """The general nearest path gathers: a matrix product would put 0 * inf = NaN into the whole row."""
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = np.inf
    y = F.interpolate(tinygan.tensor(x), size=(5, 4)).detach().numpy()
    assert not np.isnan(y).any() and np.isinf(y).sum() == np.isinf(interpolate_reference(x, (5, 4), (None, None),
                                                                                         "nearest")).sum()


def test_float32_stays_float32_and_the_input_is_left_alone(device):
    for kwargs in (dict(scale_factor=2), dict(size=(5, 3), mode="bilinear")):
        x = tinygan.randn(2, 3, 4, 4, device=device, requires_grad=True)
        before = x.detach().numpy().copy()
        y = F.interpolate(x, **kwargs)
        assert y.dtype == np.float32
        y.sum().backward()
        assert x.grad.dtype == np.float32
        np.testing.assert_array_equal(x.detach().numpy(), before)


# ==================================================================================================
# interpolate and Upsample: errors
# ==================================================================================================
@pytest.mark.parametrize("kwargs, error, words", [
    (dict(size=4, scale_factor=2), ValueError, "only one of size or scale_factor"),
    (dict(), ValueError, "either size or scale_factor"),
    (dict(scale_factor=2, mode="linearish"), ValueError, "unknown mode 'linearish'"),
    (dict(scale_factor=2, mode="bicubic"), NotImplementedError, "mode 'bicubic' is not supported"),
    (dict(scale_factor=2, align_corners=True), ValueError, "align_corners option can only be set"),
    (dict(size=(2, 2, 2)), ValueError, "size must be a number or a sequence of two"),
    (dict(scale_factor=0.1), ValueError, "output (H: 0, W: 0)"),
    (dict(size=4, recompute_scale_factor=True), ValueError, "recompute_scale_factor is not meaningful"),
    (dict(scale_factor=2, antialias=True), NotImplementedError, "antialias"),
])
def test_interpolate_errors_say_what_is_wrong(kwargs, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        F.interpolate(tinygan.zeros(1, 1, 3, 3), **kwargs)


def test_interpolate_refuses_3d_input_naming_the_shape():
    with pytest.raises(ValueError, match=r"expects a 4-D input \(N, C, H, W\), got shape \(1, 3, 8\)"):
        F.interpolate(tinygan.zeros(1, 3, 8), scale_factor=2)


def test_upsample_layers_check_early_and_name_themselves():
    with pytest.raises(ValueError, match="Upsample: unknown mode"):
        nn.Upsample(scale_factor=2, mode="nearset")
    with pytest.raises(ValueError, match=r"Upsample\(scale_factor=2.0, mode='nearest'\) expected input "
                                         r"\(N, C, H, W\), got \(2, 8\)"):
        nn.Upsample(scale_factor=2)(tinygan.zeros(2, 8))
    with pytest.raises(ValueError, match=r"Upsample\(scale_factor=2.0, mode='nearest'\): interpolate: only one"):
        layer = nn.Upsample(size=(2, 2))
        layer.scale_factor = 2.0                                    # changed after construction
        layer(tinygan.zeros(1, 1, 3, 3))


def test_upsample_layers_compute_what_interpolate_does():
    x = tinygan.randn(2, 3, 4, 5)
    # exact: each layer calls F.interpolate with these arguments: the same code path on the same data
    np.testing.assert_array_equal(nn.Upsample(scale_factor=2)(x).detach().numpy(), F.interpolate(x, scale_factor=2).detach().numpy())
    np.testing.assert_array_equal(nn.UpsamplingNearest2d(size=(6, 7))(x).detach().numpy(),
                                  F.interpolate(x, size=(6, 7)).detach().numpy())
    np.testing.assert_array_equal(nn.UpsamplingBilinear2d(scale_factor=2)(x).detach().numpy(),
                                  F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True).detach().numpy())
    assert not list(nn.Upsample(scale_factor=2).parameters())


# ==================================================================================================
# pad
# ==================================================================================================
@given(case=pad_cases())
@with_fixture
def test_pad_matches_the_reference_and_gradcheck(case, device):
    x = random(case["shape"], case["seed"])
    t = tinygan.tensor(x, dtype=np.float64, device=device, requires_grad=True)
    y = F.pad(t, case["pad"], value=case["value"])
    expected = pad_reference(x, case["pad"], case["value"])
    assert y.shape == expected.shape and y.device == device
    np.testing.assert_array_equal(y.detach().numpy(), expected)
    if y.array.size:
        assert tinygan.gradcheck(lambda a: F.pad(a, case["pad"], value=case["value"]), [t])


def test_pad_gradient_drops_the_padding_and_is_zero_where_cropped():
    x = tinygan.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    y = F.pad(x, (1, -2, -1, 2), value=7.0)                         # W: +1 left, -2 right; H: -1 top, +2 bottom
    assert y.shape == (4, 3)
    np.testing.assert_array_equal(y.detach().numpy(), [[7, 4, 5], [7, 8, 9], [7, 7, 7], [7, 7, 7]])
    y.backward(np.ones(y.shape))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]])


@pytest.mark.parametrize("pad, error, words", [
    ((1,), ValueError, "divisible by 2"),
    ((1, 1) * 5, ValueError, "padding length 10 and input of dimension 4"),
    ((-2, -2), ValueError, r"padding \(-2, -2\) on dimension 3 of size 3 .* negative size -1"),
    ((1.5, 1), TypeError, "sequence of ints"),
])
def test_pad_errors_say_what_is_wrong(pad, error, words):
    with pytest.raises(error, match=words):
        F.pad(tinygan.zeros(1, 1, 3, 3), pad)


def test_pad_modes_other_than_constant_are_refused():
    with pytest.raises(NotImplementedError, match="only mode='constant'"):
        F.pad(tinygan.zeros(1, 1, 3, 3), (1, 1), mode="reflect")


def test_pad_layers():
    x = tinygan.randn(2, 3, 4, 5)
    # exact: padding copies
    np.testing.assert_array_equal(nn.ZeroPad2d(1)(x).detach().numpy(), F.pad(x, (1, 1, 1, 1)).detach().numpy())
    np.testing.assert_array_equal(nn.ConstantPad2d((1, 0, 2, -1), 0.5)(x).detach().numpy(),
                                  F.pad(x, (1, 0, 2, -1), value=0.5).detach().numpy())
    assert nn.ZeroPad2d((1, 2, 3, 4))(x[0]).shape == (3, 11, 8)
    with pytest.raises(TypeError, match=r"ZeroPad2d: padding must be an int or a tuple \(left, right, top, bottom\)"):
        nn.ZeroPad2d((1, 2))
    with pytest.raises(ValueError, match=r"ZeroPad2d\(\(1, 1, 1, 1\)\) expected input \(N, C, H, W\) or "
                                         r"\(C, H, W\), got \(5,\)"):
        nn.ZeroPad2d(1)(tinygan.zeros(5))


# ==================================================================================================
# Second derivatives: each backward_graph applies the adjoint op, itself differentiable
# ==================================================================================================
@given(case=resize_cases(max_side=4))
@with_fixture
def test_interpolate_gradgradcheck(case, device):
    """Squared, so that the first derivative 2 R^T (R x * v) depends on x: the check differentiates R's
    backward_graph (R^T) and R again."""
    t = tinygan.tensor(random(case["shape"], case["seed"]), dtype=np.float64, device=device, requires_grad=True)
    assert tinygan.gradgradcheck(lambda a: F.interpolate(a, mode=case["mode"], align_corners=case["align_corners"],
                                                         **case["kwargs"]) ** 2, [t])


@given(case=pad_cases())
@with_fixture
def test_pad_gradgradcheck(case, device):
    t = tinygan.tensor(random(case["shape"], case["seed"]), dtype=np.float64, device=device, requires_grad=True)
    if F.pad(t, case["pad"]).array.size:
        assert tinygan.gradgradcheck(lambda a: F.pad(a, case["pad"], value=case["value"]) ** 2, [t])


@pytest.mark.parametrize("op, adjoint", [(resize.NearestRepeat2d, resize.BlockSum2d),
                                         (resize.BlockSum2d, resize.NearestRepeat2d)])
def test_the_fast_path_and_its_adjoint_have_second_derivatives(op, adjoint):
    shape = (2, 3, 2, 3) if op is resize.NearestRepeat2d else (2, 3, 4, 9)
    x = tinygan.tensor(random(shape, 0), requires_grad=True)
    y = op.apply(x, factors=(2, 3))
    (g,) = tinygan.autograd.grad((y ** 2).sum(), [x], create_graph=True)
    assert type(g.grad_fn) is adjoint or any(type(fn) is adjoint for fn in _graph_functions(g))
    assert tinygan.gradgradcheck(lambda a: op.apply(a, factors=(2, 3)) ** 2, [x])


def _graph_functions(t):
    seen, stack, out = set(), [t], []
    while stack:
        node = stack.pop()
        fn = node.grad_fn
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        out.append(fn)
        stack.extend(getattr(fn, "inputs", ()))
    return out


def test_a_gradient_penalty_through_upsample_and_pad_trains():
    """WGAN-GP's penalty: ||d critic / d x|| is differentiated again, through Upsample and ZeroPad2d."""
    critic = nn.Sequential(nn.Upsample(scale_factor=2), nn.ZeroPad2d(1), nn.Upsample(size=(7, 5), mode="bilinear"),
                           nn.Flatten(), nn.Linear(70, 4), nn.Tanh(), nn.Linear(4, 1))
    critic.double()
    x = tinygan.tensor(random((3, 2, 2, 2), 0), requires_grad=True)
    (g,) = tinygan.autograd.grad(critic(x).sum(), [x], create_graph=True)
    penalty = ((g.flatten(1) ** 2).sum(1) - 1) ** 2
    penalty.mean().backward()
    weights = [p for name, p in critic.named_parameters() if name.endswith("weight")]   # d critic / dx has no bias
    assert all(p.grad is not None and np.isfinite(p.grad.detach().numpy()).all() and p.grad.detach().numpy().any()
               for p in weights)


# ==================================================================================================
# Against PyTorch, where it is installed
# ==================================================================================================
def torch_or_skip():
    return pytest.importorskip("torch")


@given(case=resize_cases(max_side=8), dtype=st.sampled_from([np.float32, np.float64]),
       recompute=st.sampled_from([None, True]))
def test_interpolate_forward_and_backward_match_torch(case, dtype, recompute):
    torch = torch_or_skip()
    kwargs = dict(case["kwargs"])
    if "scale_factor" in kwargs:
        kwargs["recompute_scale_factor"] = recompute
    x = random(case["shape"], case["seed"]).astype(dtype)
    theirs = torch.tensor(x, requires_grad=True)
    y_t = torch.nn.functional.interpolate(theirs, mode=case["mode"], align_corners=case["align_corners"], **kwargs)
    gy = random(tuple(y_t.shape), case["seed"] + 1).astype(dtype)
    y_t.backward(torch.tensor(gy))
    ours = tinygan.tensor(x, requires_grad=True)
    y = F.interpolate(ours, mode=case["mode"], align_corners=case["align_corners"], **kwargs)
    y.backward(gy)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    assert y.shape == tuple(y_t.shape) and y.dtype == dtype
    np.testing.assert_allclose(y.detach().numpy(), y_t.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("make", [
    lambda nn: nn.Upsample(scale_factor=2), lambda nn: nn.Upsample(size=(5, 7), mode="bilinear"),
    lambda nn: nn.Upsample(scale_factor=(1.5, 2.5), mode="bilinear", align_corners=True),
    lambda nn: nn.Upsample(size=9, mode="nearest-exact"), lambda nn: nn.UpsamplingNearest2d(scale_factor=3),
    lambda nn: nn.UpsamplingBilinear2d(size=(8, 6)), lambda nn: nn.ZeroPad2d(2), lambda nn: nn.ZeroPad2d((1, 0, -1, 2)),
    lambda nn: nn.ConstantPad2d((0, 1, 2, 3), -1.0), lambda nn: nn.ConstantPad2d(1, 3.5)])
def test_layers_match_torch_repr_forward_and_backward(make):
    torch = torch_or_skip()
    theirs, ours = make(torch.nn), make(nn)
    assert repr(ours) == repr(theirs)
    x = random((2, 3, 4, 5), 0).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    y_t = theirs(xt)
    gy = random(tuple(y_t.shape), 1).astype(np.float32)
    y_t.backward(torch.tensor(gy))
    xo = tinygan.tensor(x, requires_grad=True)
    y = ours(xo)
    y.backward(gy)
    np.testing.assert_allclose(y.detach().numpy(), y_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-5)


@given(case=pad_cases())
def test_pad_forward_and_backward_match_torch(case):
    torch = torch_or_skip()
    x = random(case["shape"], case["seed"])
    theirs = torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            y_t = torch.nn.functional.pad(theirs, case["pad"], value=case["value"])
        except RuntimeError:      # PyTorch refuses crops past an axis's end that tinygan's reference allows
            return
    gy = random(tuple(y_t.shape), case["seed"] + 1)
    y_t.backward(torch.tensor(gy))
    ours = tinygan.tensor(x, requires_grad=True)
    y = F.pad(ours, case["pad"], value=case["value"])
    y.backward(gy)
    np.testing.assert_array_equal(y.detach().numpy(), y_t.detach().numpy())   # exact: pad and its backward copy
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_the_dcgan_generator_of_pytorch_gan_ports_unchanged():
    """PyTorch-GAN's dcgan generator body (Upsample(scale_factor=2) between convolutions), on our tensors."""
    torch = torch_or_skip()

    def body(lib):
        return lib.Sequential(lib.BatchNorm2d(4), lib.Upsample(scale_factor=2), lib.Conv2d(4, 4, 3, stride=1, padding=1),
                              lib.BatchNorm2d(4, 0.8), lib.LeakyReLU(0.2, inplace=True), lib.Upsample(scale_factor=2),
                              lib.Conv2d(4, 2, 3, stride=1, padding=1), lib.Tanh())
    torch.manual_seed(0)
    theirs, ours = body(torch.nn).double(), body(nn)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    ours.double()
    x = random((3, 4, 4, 4), 0)
    xt = torch.tensor(x, requires_grad=True)
    theirs(xt).sum().backward()
    xo = tinygan.tensor(x, requires_grad=True)
    ours(xo).sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)

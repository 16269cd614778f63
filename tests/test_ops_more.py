"""gather, scatter, scatter_add, index_select, repeat_interleave, logsumexp, sin/cos/tan, GELU, SiLU, normalize,
smooth_l1 / huber / kl_div losses and the legacy size_average / reduce arguments: forward against NumPy
references, float64 gradchecks (and gradgradchecks for the smooth ones), PyTorch when installed, clear errors."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygan
import tinygan.functional as F
from tinygan import backend, nn

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

few = settings(max_examples=25, deadline=None, suppress_health_check=list(settings.default.suppress_health_check)
               + [HealthCheck.function_scoped_fixture])
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def t64(a, device="cpu", grad=True):
    return tinygan.tensor(np.asarray(a, dtype=np.float64), device=device, requires_grad=grad)


def host(t):
    return backend.asnumpy(t.array)


def torch_grads(fn, arrays):
    """fn's value and the gradients of sum(value * weights) in torch, float32, for NumPy inputs."""
    ts = [torch.tensor(np.asarray(a, dtype=np.float32), requires_grad=True) for a in arrays]
    y = fn(*ts)
    y.backward(torch.ones_like(y) if y.ndim else None)
    return y.detach().numpy(), [t.grad.numpy() for t in ts]


def ours_grads(fn, arrays):
    ts = [tinygan.tensor(np.asarray(a, dtype=np.float32), requires_grad=True) for a in arrays]
    y = fn(*ts)
    y.backward(tinygan.ones(*y.shape) if y.ndim else None)
    return host(y), [host(t.grad) for t in ts]


def assert_like_torch(ours, theirs, arrays, rtol=1e-5, atol=1e-5):
    y, gs = ours_grads(ours, arrays)
    ty, tgs = torch_grads(theirs, arrays)
    np.testing.assert_allclose(y, ty, rtol=rtol, atol=atol)
    for g, tg in zip(gs, tgs):
        np.testing.assert_allclose(g, tg, rtol=rtol, atol=atol)


# ==================================================================================================
# gather, scatter, scatter_add
# ==================================================================================================
@st.composite
def gather_cases(draw, unique=False):
    """(x shape, dim, index array): index no larger than x apart from dim; unique: a permutation along dim."""
    shape = draw(shapes)
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    d = dim % len(shape)
    index_shape = [draw(st.integers(1, n)) for n in shape]
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if unique:
        index_shape[d] = draw(st.integers(1, shape[d]))
        index = np.argsort(rng.random(shape[:d] + (shape[d],) + shape[d + 1:]), axis=d)   # a permutation per row
        index = index[tuple(slice(0, n) for n in index_shape)]
    else:
        index_shape[d] = draw(st.integers(1, 4))
        index = rng.integers(0, shape[d], index_shape)
    return shape, dim, index.astype(np.int64)


def gather_reference(x, dim, index):
    d = dim % x.ndim
    corner = tuple(slice(0, n) if a != d else slice(None) for a, n in enumerate(index.shape))
    return np.take_along_axis(x[corner], index, axis=d)


def scatter_reference(x, dim, index, src, add):
    out = x.copy()
    for k in np.ndindex(*index.shape):
        at = list(k)
        at[dim % x.ndim] = index[k]
        if add:
            out[tuple(at)] += src[k]
        else:
            out[tuple(at)] = src[k]
    return out


@few
@given(case=gather_cases(), seed=st.integers(0, 2**16))
def test_gather_forward_gradcheck_and_gradgradcheck(case, seed, device):
    shape, dim, index = case
    x = np.random.default_rng(seed).standard_normal(shape)
    tx = t64(x, device)
    ti = tinygan.tensor(index, device=device)
    np.testing.assert_array_equal(host(tx.gather(dim, ti)), gather_reference(x, dim, index))
    assert tinygan.gradcheck(lambda a: tinygan.gather(a, dim, ti), [tx])
    assert tinygan.gradgradcheck(lambda a: (tinygan.gather(a, dim, ti) ** 2), [tx])


@few
@given(case=gather_cases(), add=st.booleans(), bigger_src=st.booleans(), seed=st.integers(0, 2**16))
def test_scatter_add_and_scatter_forward_and_gradcheck(case, add, bigger_src, seed, device):
    shape, dim, index = case
    if not add:                                    # a written place with two candidates has no derivative
        d = dim % len(shape)
        assume(all(len(set(index[k[:d] + (slice(None),) + k[d:]].tolist())) == index.shape[d]
                   for k in np.ndindex(*(index.shape[:d] + index.shape[d + 1:]))))
    rng = np.random.default_rng(seed)
    src_shape = tuple(n + int(bigger_src) for n in index.shape)
    x, src = rng.standard_normal(shape), rng.standard_normal(src_shape)
    tx, ts = t64(x, device), t64(src, device)
    ti = tinygan.tensor(index, device=device)
    op = (lambda a, s: a.scatter_add(dim, ti, s)) if add else (lambda a, s: a.scatter(dim, ti, s))
    expected = scatter_reference(x, dim, index, src[tuple(slice(0, n) for n in index.shape)], add)
    np.testing.assert_allclose(host(op(tx, ts)), expected, rtol=1e-12)
    assert tinygan.gradcheck(op, [tx, ts])
    assert tinygan.gradgradcheck(lambda a, s: op(a, s) ** 2, [tx, ts])


def test_scatter_with_a_value_and_in_place_forms():
    x = tinygan.zeros(2, 3, requires_grad=True)
    index = tinygan.tensor([[2], [0]])
    y = x.scatter(1, index, 5.0)
    np.testing.assert_array_equal(host(y), [[0, 0, 5], [5, 0, 0]])
    y.sum().backward()
    np.testing.assert_array_equal(host(x.grad), [[1, 1, 0], [0, 1, 1]])    # the written places get none
    np.testing.assert_array_equal(host(tinygan.zeros(2, 3).scatter(1, index, value=2.0)), [[0, 0, 2], [2, 0, 0]])
    z = tinygan.zeros(2, 3)
    assert z.scatter_add_(1, tinygan.tensor([[1, 1]] * 2), tinygan.ones(2, 2)) is z
    np.testing.assert_array_equal(host(z), [[0, 2, 0], [0, 2, 0]])
    with pytest.raises(NotImplementedError, match="scatter_add_"):
        tinygan.zeros(2, 3).scatter_add_(1, index, tinygan.ones(2, 1, requires_grad=True))


def test_gather_and_scatter_on_the_gpu_stand_in(standin):
    x = tinygan.tensor([[1.0, 2.0], [3.0, 4.0]], device="gpu", requires_grad=True)
    index = tinygan.tensor([[1, 1], [0, 1]], device="gpu")
    y = x.gather(1, index) + tinygan.zeros(2, 2, device="gpu").scatter_add(0, index, x)
    y.sum().backward()
    np.testing.assert_array_equal(host(y), [[2 + 3, 2 + 0], [3 + 1, 4 + 2 + 4]])
    np.testing.assert_array_equal(host(x.grad), [[1, 3], [2, 2]])


def test_indexing_errors_name_the_op_the_dim_and_the_bad_index():
    x = tinygan.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"gather: index 3 is out of bounds for dimension 1 with size 3"):
        x.gather(1, tinygan.tensor([[3], [0]]))
    with pytest.raises(RuntimeError, match=r"gather: index 3 is out of bounds for dimension 1 with size 3"):
        x.gather(-1, tinygan.tensor([[3], [0]]))
    with pytest.raises(RuntimeError, match=r"gather: index -1 is out of bounds"):
        x.gather(1, tinygan.tensor([[-1], [0]]))
    with pytest.raises(RuntimeError, match=r"gather: index needs as many dimensions as the input \(2\)"):
        x.gather(1, tinygan.tensor([0, 1]))
    with pytest.raises(RuntimeError, match=r"gather: index of shape \(3, 1\) is larger than the input .* dimension 0"):
        x.gather(1, tinygan.tensor([[0], [0], [0]]))
    with pytest.raises(RuntimeError, match=r"gather: expected an integer \(int64\) index, got dtype float32"):
        x.gather(1, tinygan.zeros(2, 1))
    with pytest.raises(IndexError, match=r"scatter_add: dimension 2 is out of range for a tensor with 2 dimensions"):
        x.scatter_add(2, tinygan.tensor([[0]]), tinygan.ones(1, 1))
    with pytest.raises(RuntimeError, match=r"scatter: index of shape \(1, 2\) must be no larger than src of shape"):
        x.scatter(1, tinygan.tensor([[0, 1]]), tinygan.ones(1, 1))
    with pytest.raises(RuntimeError, match=r"scatter_add: expected src of the input's dtype float32, got float64"):
        x.scatter_add(1, tinygan.tensor([[0]]), tinygan.ones(1, 1, dtype=tinygan.float64))
    with pytest.raises(RuntimeError, match=r"index_select: index 7 is out of bounds for dimension 0 with size 2"):
        x.index_select(0, tinygan.tensor([0, 7]))
    with pytest.raises(RuntimeError, match=r"index_select: index must be 1-D"):
        x.index_select(0, tinygan.tensor([[0]]))
    with pytest.raises(RuntimeError, match=r"repeat_interleave: repeats must be a number or have shape \(3,\)"):
        x.repeat_interleave(tinygan.tensor([1, 2]), dim=1)
    with pytest.raises(RuntimeError, match=r"repeat_interleave: repeats must be non-negative"):
        x.repeat_interleave(-1)


@needs_torch
@few
@given(case=gather_cases(unique=True), seed=st.integers(0, 2**16))
def test_gather_scatter_scatter_add_like_torch(case, seed):
    shape, dim, index = case
    rng = np.random.default_rng(seed)
    x, src = rng.standard_normal(shape), rng.standard_normal(index.shape)
    ti, tti = tinygan.tensor(index), torch.tensor(index)
    assert_like_torch(lambda a: a.gather(dim, ti) * 2, lambda a: a.gather(dim, tti) * 2, [x])
    for name in ("scatter", "scatter_add"):
        assert_like_torch(lambda a, s: getattr(tinygan, name)(a, dim, ti, s) ** 2,
                          lambda a, s: getattr(torch, name)(a, dim, tti, s) ** 2, [x, src])


# ==================================================================================================
# index_select, repeat_interleave
# ==================================================================================================
@few
@given(shape=shapes, data=st.data())
def test_index_select_and_repeat_interleave(shape, data, device):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[dim]
    index = np.asarray(data.draw(st.lists(st.integers(0, n - 1), min_size=0, max_size=5)), dtype=np.int64)
    repeats = data.draw(st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    x = np.random.default_rng(data.draw(st.integers(0, 99))).standard_normal(shape)
    tx = t64(x, device)
    ti = tinygan.tensor(index, device=device)
    tr = repeats if isinstance(repeats, int) else tinygan.tensor(repeats, device=device)
    np.testing.assert_array_equal(host(tx.index_select(dim, ti)), np.take(x, index, axis=dim))
    np.testing.assert_array_equal(host(tinygan.repeat_interleave(tx, tr, dim)), np.repeat(x, repeats, axis=dim))
    np.testing.assert_array_equal(host(tx.repeat_interleave(tr if isinstance(repeats, int) else 2)),
                                  np.repeat(x.reshape(-1), repeats if isinstance(repeats, int) else 2))
    assume(index.size and np.sum(repeats) > 0)
    assert tinygan.gradcheck(lambda a: tinygan.index_select(a, dim, ti), [tx])
    assert tinygan.gradgradcheck(lambda a: a.repeat_interleave(tr, dim) ** 2, [tx])


@needs_torch
def test_index_select_and_repeat_interleave_like_torch():
    x = np.random.default_rng(0).standard_normal((3, 4))
    i, r = [2, 0, 2, 3], [1, 0, 3]
    assert_like_torch(lambda a: a.index_select(1, tinygan.tensor(i)) ** 2,
                      lambda a: a.index_select(1, torch.tensor(i)) ** 2, [x])
    assert_like_torch(lambda a: a.repeat_interleave(tinygan.tensor(r), dim=0) ** 2,
                      lambda a: a.repeat_interleave(torch.tensor(r), dim=0) ** 2, [x])
    assert_like_torch(lambda a: tinygan.repeat_interleave(a, 2) ** 2, lambda a: torch.repeat_interleave(a, 2) ** 2, [x])
    np.testing.assert_array_equal(host(tinygan.repeat_interleave(tinygan.tensor(r))),
                                  torch.repeat_interleave(torch.tensor(r)).numpy())


# ==================================================================================================
# logsumexp, sin, cos, tan
# ==================================================================================================
@few
@given(shape=shapes, data=st.data())
def test_logsumexp_forward_gradcheck_and_gradgradcheck(shape, data, device):
    axes = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1, max_size=len(shape), unique=True))
    axes = [a for i, a in enumerate(axes) if a % len(shape) not in [b % len(shape) for b in axes[:i]]]
    dim = axes[0] if len(axes) == 1 else tuple(axes)
    keepdim = data.draw(st.booleans())
    x = np.random.default_rng(data.draw(st.integers(0, 99))).standard_normal(shape) * 3
    tx = t64(x, device)
    expected = np.log(np.exp(x).sum(axis=tuple(a % len(shape) for a in axes), keepdims=keepdim))
    np.testing.assert_allclose(host(tinygan.logsumexp(tx, dim, keepdim)), expected, rtol=1e-12)
    assert tinygan.gradcheck(lambda a: a.logsumexp(dim, keepdim), [tx])
    assert tinygan.gradgradcheck(lambda a: a.logsumexp(dim, keepdim), [tx])


def test_logsumexp_is_stable():
    x = t64([[1000.0, 1000.0], [-1000.0, -1000.0], [-math.inf, -math.inf]])
    y = x.logsumexp(1)
    np.testing.assert_allclose(host(y), [1000 + math.log(2), -1000 + math.log(2), -math.inf])
    y[:2].sum().backward()                       # an all -inf row: exp(-inf - -inf) is nan, as in PyTorch
    np.testing.assert_allclose(host(x.grad), [[0.5, 0.5], [0.5, 0.5], [np.nan, np.nan]])


@few
@given(x=hnp.arrays(np.float64, shapes, elements=st.floats(-1.4, 1.4)), name=st.sampled_from(["sin", "cos", "tan"]))
def test_sin_cos_tan(x, name):
    tx = t64(x)
    np.testing.assert_allclose(host(getattr(tinygan, name)(tx)), getattr(np, name)(x), rtol=1e-12, atol=1e-15)
    assert tinygan.gradcheck(lambda a: getattr(a, name)(), [tx])
    assert tinygan.gradgradcheck(lambda a: getattr(a, name)(), [tx])


@needs_torch
@pytest.mark.parametrize("name", ["sin", "cos", "tan"])
def test_sin_cos_tan_and_logsumexp_like_torch(name):
    x = np.random.default_rng(1).uniform(-1.4, 1.4, (3, 4))
    assert_like_torch(lambda a: getattr(a, name)(), lambda a: getattr(a, name)(), [x])
    assert_like_torch(lambda a: a.logsumexp((0, 1), True), lambda a: a.logsumexp((0, 1), True), [x * 50])


# ==================================================================================================
# GELU, SiLU, normalize
# ==================================================================================================
def gelu_reference(x, approximate):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


@few
@given(x=hnp.arrays(np.float64, shapes, elements=st.floats(-6, 6)), approximate=st.sampled_from(["none", "tanh"]))
def test_gelu_and_silu(x, approximate):
    tx = t64(x)
    np.testing.assert_allclose(host(F.gelu(tx, approximate)), gelu_reference(x, approximate), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(host(F.silu(tx)), x / (1 + np.exp(-x)), rtol=1e-13)
    for fn in (lambda a: F.gelu(a, approximate=approximate), F.silu):
        assert tinygan.gradcheck(fn, [tx])
        assert tinygan.gradgradcheck(fn, [tx])


def test_gelu_keeps_float32_and_its_tails():
    x = tinygan.tensor([-40.0, -8.0, 0.0, 8.0, 40.0])
    y = F.gelu(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(host(y), [0, -8 * 0.5 * math.erfc(8 / math.sqrt(2)), 0, 8, 40], rtol=1e-6)
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh', got 'fast'"):
        F.gelu(x, approximate="fast")


@few
@given(shape=hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=4), p=st.sampled_from([1, 2, 3.0]),
       data=st.data())
def test_normalize(shape, p, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = np.random.default_rng(data.draw(st.integers(0, 99))).standard_normal(shape)
    tx = t64(x)
    norm = (np.abs(x) ** p).sum(axis=dim, keepdims=True) ** (1 / p)
    np.testing.assert_allclose(host(F.normalize(tx, p, dim)), x / np.maximum(norm, 1e-12), rtol=1e-12)
    assert tinygan.gradcheck(lambda a: F.normalize(a, p, dim), [tx])
    assert tinygan.gradgradcheck(lambda a: F.normalize(a, p, dim), [tx])


def test_normalize_of_zeros_is_zeros_with_a_finite_gradient():
    x = tinygan.zeros(2, 3, requires_grad=True)
    F.normalize(x).sum().backward()
    assert not host(F.normalize(x)).any() and np.isfinite(host(x.grad)).all()


@needs_torch
def test_gelu_silu_normalize_and_layers_like_torch():
    x = np.random.default_rng(2).standard_normal((4, 5)) * 3
    for approximate in ("none", "tanh"):
        assert_like_torch(lambda a: F.gelu(a, approximate=approximate),
                          lambda a: torch.nn.functional.gelu(a, approximate=approximate), [x])
        assert repr(nn.GELU(approximate)) == repr(torch.nn.GELU(approximate))
    assert_like_torch(F.silu, torch.nn.functional.silu, [x])
    assert repr(nn.SiLU()) == repr(torch.nn.SiLU()) and repr(nn.SiLU(True)) == repr(torch.nn.SiLU(True))
    for p, dim in ((2, 1), (1, 0), (3.0, -1)):
        assert_like_torch(lambda a: F.normalize(a, p, dim) ** 2,
                          lambda a: torch.nn.functional.normalize(a, p, dim) ** 2, [x])


# ==================================================================================================
# smooth_l1_loss, huber_loss, kl_div
# ==================================================================================================
def huber_reference(d, delta):
    return np.where(np.abs(d) < delta, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))


def reduce(loss, reduction, n=None):
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss,
            "batchmean": loss.sum() / (n or 1)}[reduction]


@few
@given(shape=shapes, reduction=st.sampled_from(["mean", "sum", "none"]), beta=st.sampled_from([0.0, 0.5, 1.0, 2.0]),
       seed=st.integers(0, 2**16))
def test_smooth_l1_and_huber(shape, reduction, beta, seed, device):
    rng = np.random.default_rng(seed)
    x, t = rng.standard_normal(shape) * 2, rng.standard_normal(shape)
    d = x - t
    assume(np.abs(np.abs(d) - beta).min() > 1e-3 and np.abs(d).min() > 1e-3)      # away from the kinks
    tx, tt = t64(x, device), t64(t, device)
    smooth = huber_reference(d, beta) / beta if beta else np.abs(d)
    np.testing.assert_allclose(host(F.smooth_l1_loss(tx, tt, reduction=reduction, beta=beta)),
                               reduce(smooth, reduction), rtol=1e-12)
    assert tinygan.gradcheck(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta), [tx, tt])
    if beta:
        np.testing.assert_allclose(host(F.huber_loss(tx, tt, reduction=reduction, delta=beta)),
                                   reduce(huber_reference(d, beta), reduction), rtol=1e-12)
        assert tinygan.gradcheck(lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=beta), [tx, tt])
        assert tinygan.gradgradcheck(lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=beta), [tx, tt])


@few
@given(shape=shapes, reduction=st.sampled_from(["batchmean", "sum", "none", "mean"]), log_target=st.booleans(),
       seed=st.integers(0, 2**16))
def test_kl_div(shape, reduction, log_target, seed, device):
    rng = np.random.default_rng(seed)
    x = np.log(rng.dirichlet(np.ones(shape[-1]), shape[:-1]))           # log-probabilities
    q = rng.dirichlet(np.ones(shape[-1]), shape[:-1])
    t = np.log(q) if log_target else q
    tx, tt = t64(x, device), t64(t, device)
    expected = reduce(q * (np.log(q) - x), reduction, shape[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = F.kl_div(tx, tt, reduction=reduction, log_target=log_target)
    assert [str(w.message)[:35] for w in caught] == (["reduction: 'mean' divides the total"] if reduction == "mean"
                                                     else [])
    np.testing.assert_allclose(host(y), expected, rtol=1e-10, atol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert tinygan.gradcheck(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target), [tx, tt])
        assert tinygan.gradgradcheck(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
                                     [tx, tt])


def test_kl_div_takes_zero_targets_as_zero_loss_and_checks_reduction():
    x = tinygan.tensor([[-1.0, -2.0]], requires_grad=True)
    assert F.kl_div(x, tinygan.tensor([[0.0, 1.0]]), reduction="sum").item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none'"):
        F.kl_div(x, x, reduction="avg")
    with pytest.raises(ValueError, match="KLDivLoss: reduction must be one of"):
        nn.KLDivLoss(reduction="avg")


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
def test_losses_like_torch(reduction):
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((4, 5)) * 2, rng.standard_normal((4, 5))
    tF = torch.nn.functional
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if reduction != "batchmean":
            for beta in (0.0, 0.5, 1.5):
                assert_like_torch(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
                                  lambda a, b: tF.smooth_l1_loss(a, b, reduction=reduction, beta=beta), [x, t])
                assert_like_torch(lambda a, b: nn.HuberLoss(reduction, beta + 0.5)(a, b),
                                  lambda a, b: torch.nn.HuberLoss(reduction, beta + 0.5)(a, b), [x, t])
            assert_like_torch(lambda a, b: nn.SmoothL1Loss(reduction=reduction, beta=0.7)(a, b),
                              lambda a, b: torch.nn.SmoothL1Loss(reduction=reduction, beta=0.7)(a, b), [x, t])
        logp, q = np.log(rng.dirichlet(np.ones(5), 4)), rng.dirichlet(np.ones(5), 4)
        for log_target, target in ((False, q), (True, np.log(q))):
            assert_like_torch(lambda a, b: nn.KLDivLoss(reduction=reduction, log_target=log_target)(a, b),
                              lambda a, b: torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)(a, b),
                              [logp, target])
        if reduction != "batchmean":
            labels = rng.integers(0, 5, 4)
            assert_like_torch(lambda a: nn.NLLLoss(reduction=reduction)(a, tinygan.tensor(labels)),
                              lambda a: torch.nn.NLLLoss(reduction=reduction)(a, torch.tensor(labels)), [logp])


# ==================================================================================================
# Legacy size_average / reduce: PyTorch's mapping and warning, on every loss function and module
# ==================================================================================================
LEGACY = [(s, r) for s in (None, True, False) for r in (None, True, False)]


def legacy_calls(lib, F_, x, t, labels):
    """(name, call(size_average, reduce)) for every loss function and module with the legacy arguments."""
    p = x.sigmoid()
    return [
        ("binary_cross_entropy", lambda s, r: F_.binary_cross_entropy(p, t, size_average=s, reduce=r)),
        ("binary_cross_entropy_with_logits", lambda s, r: F_.binary_cross_entropy_with_logits(x, t, None, s, r)),
        ("mse_loss", lambda s, r: F_.mse_loss(x, t, s, r)),
        ("l1_loss", lambda s, r: F_.l1_loss(x, t, size_average=s, reduce=r)),
        ("smooth_l1_loss", lambda s, r: F_.smooth_l1_loss(x, t, s, r)),
        ("kl_div", lambda s, r: F_.kl_div(x, p, size_average=s, reduce=r)),
        ("nll_loss", lambda s, r: F_.nll_loss(x, labels, None, s, -100, r)),
        ("cross_entropy", lambda s, r: F_.cross_entropy(x, labels, size_average=s, reduce=r)),
        ("BCELoss", lambda s, r: lib.nn.BCELoss(None, s, r)(p, t)),
        ("BCEWithLogitsLoss", lambda s, r: lib.nn.BCEWithLogitsLoss(size_average=s, reduce=r)(x, t)),
        ("MSELoss", lambda s, r: lib.nn.MSELoss(s, r)(x, t)),
        ("L1Loss", lambda s, r: lib.nn.L1Loss(size_average=s, reduce=r)(x, t)),
        ("SmoothL1Loss", lambda s, r: lib.nn.SmoothL1Loss(s, r)(x, t)),
        ("KLDivLoss", lambda s, r: lib.nn.KLDivLoss(s, r)(x, p)),
        ("NLLLoss", lambda s, r: lib.nn.NLLLoss(None, s, -100, r)(x, labels)),
        ("CrossEntropyLoss", lambda s, r: lib.nn.CrossEntropyLoss(size_average=s, reduce=r)(x, labels)),
    ]


def run_legacy(call, s, r):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = call(s, r)
    return value, [str(w.message) for w in caught if "size_average" in str(w.message)]


@pytest.mark.parametrize("size_average, reduce", LEGACY)
def test_legacy_size_average_and_reduce_give_pytorchs_reduction_and_warning(size_average, reduce):
    rng = np.random.default_rng(4)
    x, t = tinygan.tensor(rng.standard_normal((3, 4))), tinygan.tensor(rng.uniform(0, 1, (3, 4)))
    labels = tinygan.tensor([0, 3, 1])
    legacy = "none" if reduce is False else "sum" if size_average is False else "mean"
    for name, call in legacy_calls(tinygan, F, x, t, labels):
        value, said = run_legacy(call, size_average, reduce)
        if size_average is None and reduce is None:
            assert not said, name
            continue
        expected, _ = run_legacy(call, None, None) if legacy == "mean" else (None, None)
        assert said == [f"size_average and reduce args will be deprecated, please use reduction='{legacy}' instead."]
        per_sample = name in ("nll_loss", "cross_entropy", "NLLLoss", "CrossEntropyLoss")
        assert value.shape == (() if legacy != "none" else (3,) if per_sample else (3, 4)), name
        if expected is not None:
            np.testing.assert_allclose(host(value), host(expected), err_msg=name)


def test_the_legacy_warning_points_at_the_callers_line():
    x = tinygan.tensor([0.5])
    with pytest.warns(UserWarning, match="reduction='sum'") as caught:
        F.binary_cross_entropy(x, x, size_average=False)
    assert caught[0].filename == __file__


@needs_torch
@pytest.mark.parametrize("size_average, reduce", [c for c in LEGACY if c != (None, None)])
def test_legacy_arguments_like_torch(size_average, reduce):
    rng = np.random.default_rng(5)
    x, t = rng.standard_normal((3, 4)).astype(np.float32), rng.uniform(0, 1, (3, 4)).astype(np.float32)
    labels = np.array([0, 3, 1])
    ours = legacy_calls(tinygan, F, tinygan.tensor(x), tinygan.tensor(t), tinygan.tensor(labels))
    theirs = legacy_calls(torch, torch.nn.functional, torch.tensor(x), torch.tensor(t), torch.tensor(labels))
    for (name, call), (_, torch_call) in zip(ours, theirs):
        value, said = run_legacy(call, size_average, reduce)
        torch_value, torch_said = run_legacy(torch_call, size_average, reduce)
        np.testing.assert_allclose(host(value), torch_value.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
        assert said == torch_said[:1], name


@needs_torch
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_pointwise_losses_take_pytorchs_weight(name):
    rng = np.random.default_rng(6)
    x, t, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.uniform(0.5, 2, (3, 4))
    for reduction in ("mean", "sum", "none"):
        assert_like_torch(lambda a, b, c: getattr(F, name)(a, b, weight=c, reduction=reduction),
                          lambda a, b, c: getattr(torch.nn.functional, name)(a, b, weight=c, reduction=reduction),
                          [x, t, w])
    assert tinygan.gradcheck(lambda a, b, c: getattr(F, name)(a, b, weight=c), [t64(x), t64(t), t64(w)])

"""Losses: forward against NumPy references for every reduction, float64 gradchecks, stability, errors."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygan
import tinygan.functional as F
from tinygan import backend

with_fixture = settings(suppress_health_check=list(settings.default.suppress_health_check)
                        + [HealthCheck.function_scoped_fixture])
REDUCTIONS = ["mean", "sum", "none"]


def reduce(loss, reduction):
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def t64(a, device="cpu", grad=True):
    return tinygan.tensor(np.asarray(a, dtype=np.float64), device=device, requires_grad=grad)


# NumPy references, written from the definitions (sigmoid then log, in float64 where that is still exact)
def bce_logits_reference(x, t, weight=None, pos_weight=None):
    log_sig = -np.logaddexp(0, -x)                                # log sigmoid(x)
    log_one_minus = -np.logaddexp(0, x)                           # log (1 - sigmoid(x))
    pw = 1 if pos_weight is None else pos_weight
    loss = -(pw * t * log_sig + (1 - t) * log_one_minus)
    return loss if weight is None else loss * weight


def bce_reference(p, t, weight=None):
    loss = -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log(1 - p), -100))
    return loss if weight is None else loss * weight


shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


# ==================================================================================================
# binary_cross_entropy_with_logits
# ==================================================================================================
@with_fixture
@given(shape=shapes, reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(), pos=st.booleans(),
       seed=st.integers(0, 2**16))
def test_bce_with_logits_forward_and_gradcheck(shape, reduction, weighted, pos, seed, device):
    rng = np.random.default_rng(seed)
    x, t = rng.standard_normal(shape) * 3, rng.uniform(0, 1, shape)
    w = rng.uniform(0.5, 2, shape[-1:]) if weighted else None          # broadcasts over leading axes
    pw = rng.uniform(0.5, 3, shape[-1:]) if pos else None
    tx, tt = t64(x, device), t64(t, device)
    tw = t64(w, device) if weighted else None
    y = F.binary_cross_entropy_with_logits(tx, tt, tw, reduction=reduction, pos_weight=pw)
    expected = reduce(bce_logits_reference(x, t, w, pw), reduction)
    np.testing.assert_allclose(backend.asnumpy(y.array), expected, rtol=1e-10, atol=1e-12)
    inputs = [tx, tt] + ([tw] if weighted else [])
    assert tinygan.gradcheck(lambda *a: F.binary_cross_entropy_with_logits(*a, reduction=reduction,
                                                                           pos_weight=pw), inputs)


def test_bce_with_logits_gradient_is_sigmoid_minus_target():
    x, t = t64([[-2.0, 0.0, 3.0]]), np.array([[1.0, 0.5, 0.0]])
    F.binary_cross_entropy_with_logits(x, t, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 / (1 + np.exp(-x.numpy())) - t, rtol=1e-12)


def test_bce_with_logits_is_finite_and_exact_at_extreme_logits_in_float32():
    x = tinygan.tensor(np.array([100.0, -100.0, 100.0, -100.0, 30.0, -30.0], dtype=np.float32),
                       requires_grad=True)
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 1.0], dtype=np.float32)
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    assert loss.dtype == np.float32
    # exact values: log1p(exp(-100)) = 3.7e-44 (a float32 subnormal), 100 + that, 30 + 9.4e-14 = 30
    expected = np.array([np.exp(-100.0), np.exp(-100.0), 100.0, 100.0, np.exp(-30.0), 30.0], dtype=np.float32)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-6, atol=1e-45)
    loss.sum().backward()
    g = x.grad.numpy()
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g, [0.0, 0.0, 1.0, -1.0, 0.0, -1.0], atol=1e-7)
    mean = F.binary_cross_entropy_with_logits(x, t)
    np.testing.assert_allclose(mean.item(), expected.mean(), rtol=1e-6)


# ==================================================================================================
# binary_cross_entropy (probabilities)
# ==================================================================================================
@with_fixture
@given(shape=shapes, reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(), seed=st.integers(0, 2**16))
def test_bce_forward_and_gradcheck(shape, reduction, weighted, seed, device):
    rng = np.random.default_rng(seed)
    p, t = rng.uniform(0.05, 0.95, shape), rng.uniform(0, 1, shape)
    w = rng.uniform(0.5, 2, shape) if weighted else None
    tp, tt = t64(p, device), t64(t, device)
    tw = t64(w, device) if weighted else None
    y = F.binary_cross_entropy(tp, tt, tw, reduction=reduction)
    np.testing.assert_allclose(backend.asnumpy(y.array), reduce(bce_reference(p, t, w), reduction), rtol=1e-10)
    inputs = [tp, tt] + ([tw] if weighted else [])
    assert tinygan.gradcheck(lambda *a: F.binary_cross_entropy(*a, reduction=reduction), inputs)


def test_bce_clamps_log_at_minus_100_like_pytorch():
    p = tinygan.tensor(np.array([0.0, 1.0, 0.0, 1.0], dtype=np.float32), requires_grad=True)
    t = np.array([1.0, 0.0, 0.0, 1.0], dtype=np.float32)
    loss = F.binary_cross_entropy(p, t, reduction="none")
    np.testing.assert_array_equal(loss.numpy(), [100.0, 100.0, 0.0, 0.0])
    loss.sum().backward()
    assert np.isfinite(p.grad.numpy()).all()
    with pytest.raises(ValueError, match="binary_cross_entropy: all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(tinygan.tensor([1.5]), tinygan.tensor([1.0]))


# ==================================================================================================
# mse_loss
# ==================================================================================================
@with_fixture
@given(shape=shapes, reduction=st.sampled_from(REDUCTIONS), seed=st.integers(0, 2**16))
def test_mse_forward_and_gradcheck(shape, reduction, seed, device):
    rng = np.random.default_rng(seed)
    x, t = rng.standard_normal(shape), rng.standard_normal(shape)
    tx, tt = t64(x, device), t64(t, device)
    y = F.mse_loss(tx, tt, reduction=reduction)
    np.testing.assert_allclose(backend.asnumpy(y.array), reduce((x - t) ** 2, reduction), rtol=1e-12)
    assert tinygan.gradcheck(lambda x, t: F.mse_loss(x, t, reduction=reduction), [tx, tt])


# ==================================================================================================
# cross_entropy / nll_loss
# ==================================================================================================
def cross_entropy_reference(x, target, weight=None, ignore_index=-100):
    logp = x - x.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    w = np.ones(x.shape[1]) if weight is None else weight
    losses, weights = [], []
    for i, c in enumerate(target):
        if c == ignore_index:
            losses.append(0.0)
            weights.append(0.0)
        else:
            losses.append(-w[c] * logp[i, c])
            weights.append(w[c])
    losses = np.array(losses)
    return losses, np.sum(weights)


@with_fixture
@given(N=st.integers(1, 5), C=st.integers(1, 5), reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(),
       ignore=st.booleans(), seed=st.integers(0, 2**16))
def test_cross_entropy_forward_and_gradcheck(N, C, reduction, weighted, ignore, seed, device):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C)) * 2
    target = rng.integers(0, C, N)
    if ignore:
        target[0] = -100                                               # ignore_index
    w = rng.uniform(0.5, 2, C) if weighted else None
    tx = t64(x, device)
    y = F.cross_entropy(tx, tinygan.tensor(target, device=device), weight=w, reduction=reduction)
    losses, total = cross_entropy_reference(x, target, w)
    expected = {"mean": losses.sum() / total if total else np.nan, "sum": losses.sum(), "none": losses}[reduction]
    np.testing.assert_allclose(backend.asnumpy(y.array), expected, rtol=1e-10, atol=1e-12)
    if not (reduction == "mean" and total == 0):
        assert tinygan.gradcheck(lambda x: F.cross_entropy(x, target, weight=w, reduction=reduction), [tx])


def test_cross_entropy_matches_log_softmax_then_nll_and_stays_finite():
    x = tinygan.tensor(np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]], dtype=np.float32), requires_grad=True)
    loss = F.cross_entropy(x, np.array([0, 2]))
    np.testing.assert_allclose(loss.item(), np.log(3) / 2, rtol=1e-6)
    assert loss.item() == pytest.approx(F.nll_loss(F.log_softmax(x, 1), [0, 2]).item())
    loss.backward()
    assert np.isfinite(x.grad.numpy()).all()


# ==================================================================================================
# Common behaviour: dtypes, target types, errors
# ==================================================================================================
@pytest.mark.parametrize("loss", [F.binary_cross_entropy_with_logits, F.binary_cross_entropy, F.mse_loss])
def test_float32_stays_float32_and_targets_may_be_arrays(loss):
    x = tinygan.rand(4, 3, requires_grad=True)
    t64_target = np.random.default_rng(0).uniform(0, 1, (4, 3))      # float64 array target: no upcast
    out = loss(x, t64_target)
    assert out.dtype == np.float32 and out.shape == ()
    out.backward()
    assert x.grad.dtype == np.float32
    same = loss(x, tinygan.tensor(t64_target, dtype=np.float32))
    np.testing.assert_allclose(out.item(), same.item(), rtol=1e-6)


@pytest.mark.parametrize("loss, name", [(F.binary_cross_entropy_with_logits, "binary_cross_entropy_with_logits"),
                                        (F.binary_cross_entropy, "binary_cross_entropy"),
                                        (F.mse_loss, "mse_loss")])
def test_shape_mismatch_and_bad_reduction_are_clear(loss, name):
    x = tinygan.rand(4, 1)
    with pytest.raises(ValueError, match=rf"{name}: target shape \(4,\) must match input shape \(4, 1\)"):
        loss(x, tinygan.rand(4))
    with pytest.raises(ValueError, match=rf"{name}: reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        loss(x, tinygan.rand(4, 1), reduction="avg")


def test_cross_entropy_errors():
    x = tinygan.randn(3, 4)
    with pytest.raises(ValueError, match=r"nll_loss: target must have shape \(3,\) for input of shape \(3, 4\), "
                                         r"got \(2,\)"):
        F.cross_entropy(x, np.array([0, 1]))
    with pytest.raises(IndexError, match="nll_loss: target 4 is out of bounds for 4 classes"):
        F.cross_entropy(x, np.array([0, 1, 4]))
    with pytest.raises(TypeError, match="expects integer ids/targets"):
        F.cross_entropy(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"cross_entropy: expects input \(N, C\)"):
        F.cross_entropy(tinygan.randn(4), np.array([0]))
    with pytest.raises(ValueError, match="weight of shape"):
        F.binary_cross_entropy_with_logits(x, tinygan.rand(3, 4), weight=np.ones(3))

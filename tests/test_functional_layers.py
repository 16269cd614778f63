"""F.linear, F.batch_norm, F.dropout, F.embedding, F.one_hot: forward against NumPy, float64 gradchecks."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygan
import tinygan.functional as F
from tinygan import backend

with_fixture = settings(suppress_health_check=list(settings.default.suppress_health_check)
                        + [HealthCheck.function_scoped_fixture])


def t64(a, device="cpu", grad=True):
    return tinygan.tensor(np.asarray(a, dtype=np.float64), device=device, requires_grad=grad)


# ==================================================================================================
# linear
# ==================================================================================================
@with_fixture
@given(lead=st.lists(st.integers(1, 4), min_size=0, max_size=2), n_in=st.integers(1, 5),
       n_out=st.integers(1, 5), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_linear_forward_and_gradcheck(lead, n_in, n_out, bias, seed, device):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(tuple(lead) + (n_in,))              # 1-D, 2-D or 3-D input
    W, b = rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)
    inputs = [t64(x, device), t64(W, device)] + ([t64(b, device)] if bias else [])
    y = F.linear(*inputs)
    expected = np.einsum("...i,oi->...o", x, W) + (b if bias else 0)
    assert y.shape == expected.shape
    np.testing.assert_allclose(backend.asnumpy(y.array), expected, rtol=1e-12, atol=1e-12)
    assert tinygan.gradcheck(F.linear, inputs, mode="directional")


def test_linear_full_jacobian_and_skipped_input_grad():
    x, W, b = t64([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]), t64(np.arange(6.0).reshape(2, 3) / 7), t64([0.1, -0.2])
    assert tinygan.gradcheck(F.linear, [x, W, b], mode="full")
    x.requires_grad, W.grad, b.grad = False, None, None
    y = F.linear(x, W, b)
    assert y._ctx.needs_input_grad == (False, True, True)
    assert y._ctx.backward(np.ones((2, 2)))[0] is None             # gx skipped for an input without grad
    y.sum().backward()
    np.testing.assert_allclose(W.grad.array, np.ones((2, 1)) * x.array.sum(0))   # gW = gy^T x
    np.testing.assert_allclose(b.grad.array, [2.0, 2.0])


def test_linear_float32_and_errors():
    y = F.linear(tinygan.randn(4, 3), tinygan.randn(2, 3), tinygan.zeros(2))
    assert y.dtype == np.float32 and y.shape == (4, 2)
    with pytest.raises(ValueError, match=r"linear: input of shape \(4, 5\) has 5 features but weight of "
                                         r"shape \(2, 3\) expects in_features=3"):
        F.linear(tinygan.randn(4, 5), tinygan.randn(2, 3))
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(2,\)"):
        F.linear(tinygan.randn(4, 3), tinygan.randn(2, 3), tinygan.zeros(3))
    with pytest.raises(ValueError, match="linear: weight must be 2-D"):
        F.linear(tinygan.randn(4, 3), tinygan.randn(3))


# ==================================================================================================
# batch_norm
# ==================================================================================================
def batch_norm_reference(x, rm, rv, w, b, training, momentum, eps):
    """Plain NumPy batch norm; returns y and the new running statistics (unbiased variance for running_var)."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        n = x.size // x.shape[1]
        rm = (1 - momentum) * rm + momentum * mean
        rv = (1 - momentum) * rv + momentum * var * n / (n - 1)
    else:
        mean, var = rm, rv
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if w is not None:
        y = y * w.reshape(shape)
    if b is not None:
        y = y + b.reshape(shape)
    return y, rm, rv


@st.composite
def bn_cases(draw):
    C = draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 4)), C) + tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    return dict(shape=shape, training=draw(st.booleans()), weight=draw(st.booleans()), bias=draw(st.booleans()),
                momentum=draw(st.sampled_from([0.1, 0.5, 1.0])), eps=draw(st.sampled_from([1e-5, 1e-3])),
                layout=draw(st.sampled_from(LAYOUTS)), seed=draw(st.integers(0, 2**16)))


LAYOUTS = ("row-major", "batch-innermost", "cropped")


def in_layout(a, layout):
    """The same values as a, in memory laid out as conv outputs are: batch innermost, and cropped from a
    padded buffer (as col2im returns them); the ops must give the same numbers whatever the layout."""
    if layout == "row-major":
        return a
    moved = np.moveaxis(a, 0, -1)                                  # (N, C, ...) -> (C, ..., N) view
    if layout == "batch-innermost":
        return np.moveaxis(np.ascontiguousarray(moved), -1, 0)     # (C, ..., N) memory -> (N, C, ...) view
    padded = np.zeros(tuple(n + 2 for n in moved.shape))
    inner = tuple(slice(1, n + 1) for n in moved.shape)
    padded[inner] = moved
    return np.moveaxis(padded[inner], -1, 0)                       # cropped (C, ..., N) -> (N, C, ...) view


@settings(deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=5), layout=st.sampled_from(LAYOUTS),
       seed=st.integers(0, 2**16))
def test_channel_sum_and_dot_match_numpy_on_every_layout(shape, layout, seed):
    from tinygan.ops.reduction import channel_dot, channel_sum
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    others = (0,) + tuple(range(2, len(shape)))
    la, lb = in_layout(a, layout), in_layout(b, layout)
    np.testing.assert_allclose(channel_sum(la), a.sum(axis=others), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(channel_dot(la, lb), (a * b).sum(axis=others), rtol=1e-12, atol=1e-12)


@with_fixture
@given(case=bn_cases())
def test_batch_norm_forward_running_stats_and_gradcheck(case, device):
    shape, training = case["shape"], case["training"]
    if training and np.prod(shape) // shape[1] == 1:
        shape = (2,) + shape[1:]                                   # training needs > 1 value per channel
    rng = np.random.default_rng(case["seed"])
    C = shape[1]
    x = rng.standard_normal(shape) * 2 + 1
    x_in_layout = in_layout(x, case["layout"])
    w = rng.standard_normal(C) if case["weight"] else None
    b = rng.standard_normal(C) if case["bias"] else None
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2.0, C)
    xp = backend.xp_for(device)
    run_m, run_v = xp.asarray(rm.copy()), xp.asarray(rv.copy())
    tw = t64(w, device) if w is not None else None
    tb = t64(b, device) if b is not None else None
    tx = tinygan.Tensor.from_array(backend.to_device(x_in_layout, device), requires_grad=True)
    y = F.batch_norm(tx, run_m, run_v, tw, tb, training=training, momentum=case["momentum"], eps=case["eps"])
    ey, erm, erv = batch_norm_reference(x, rm, rv, w, b, training, case["momentum"], case["eps"])
    np.testing.assert_allclose(backend.asnumpy(y.array), ey, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(backend.asnumpy(run_m), erm, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(backend.asnumpy(run_v), erv, rtol=1e-12, atol=1e-12)

    params = [p for p in (tw, tb) if p is not None]

    def fn(x, *affine):
        it = iter(affine)
        weight = next(it) if tw is not None else None
        bias = next(it) if tb is not None else None
        return F.batch_norm(x, run_m, run_v, weight, bias, training=training, momentum=case["momentum"],
                            eps=case["eps"])
    assert tinygan.gradcheck(fn, [tx] + params, mode="directional", atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 2, 3)])
def test_batch_norm_training_backward_full_jacobian(shape):
    """Every element of the hard backward (batch statistics) against finite differences."""
    rng = np.random.default_rng(0)
    C = shape[1]
    x, w, b = t64(rng.standard_normal(shape)), t64(rng.standard_normal(C)), t64(rng.standard_normal(C))
    rm, rv = np.zeros(C), np.ones(C)
    assert tinygan.gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=True), [x, w, b],
                             mode="full", atol=1e-6, rtol=1e-4)


def test_batch_norm_accepts_tensor_running_stats_and_updates_them_in_place():
    x = tinygan.randn(8, 3, 4, 4) * 3 + 2
    rm, rv = tinygan.zeros(3), tinygan.ones(3)
    before = rm.array
    y = F.batch_norm(x, rm, rv, training=True)
    assert rm.array is before                                        # same buffer (module state stays shared)
    xn = x.numpy()
    np.testing.assert_allclose(rm.numpy(), 0.1 * xn.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(rv.numpy(), 0.9 + 0.1 * xn.var(axis=(0, 2, 3), ddof=1), rtol=1e-5)
    assert y.dtype == np.float32 and rm.dtype == np.float32
    np.testing.assert_allclose(y.numpy().mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.numpy().var(axis=(0, 2, 3)), 1, atol=1e-3)
    F.batch_norm(x, None, None, training=True)                    # no running statistics tracked: allowed


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, True), (False, False)])
def test_batch_norm_leaves_input_and_upstream_gradient_alone(training, affine):
    """The in-place forward and backward work only on their own buffers: x and gy are never written."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3, 2, 5)).astype(np.float32)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    x0, gy0 = x.copy(), gy.copy()
    tx = tinygan.tensor(x, requires_grad=True)
    tw = tinygan.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True) if affine[0] else None
    tb = tinygan.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True) if affine[1] else None
    y = F.batch_norm(tx, np.zeros(3, np.float32), np.ones(3, np.float32), tw, tb, training=training)
    y.backward(gy)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(gy, gy0)
    assert not np.shares_memory(tx.grad.array, gy) and not np.shares_memory(y.array, x)
    if training:                                     # each channel's gradient sums to zero (mean removed)
        np.testing.assert_allclose(tx.grad.array.sum(axis=(0, 2, 3)), 0, atol=1e-4)


@pytest.mark.parametrize("lead", [(), (5,), (2, 3)])
def test_linear_single_output_backward(lead):
    """out_features == 1 (each discriminator's last layer): gx, gW and gb against the general formulas."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal(lead + (7,)).astype(np.float32)
    W, b = rng.standard_normal((1, 7)).astype(np.float32), rng.standard_normal(1).astype(np.float32)
    gy = rng.standard_normal(lead + (1,)).astype(np.float32)
    gy0 = gy.copy()
    tx, tW, tb = (tinygan.tensor(a, requires_grad=True) for a in (x, W, b))
    F.linear(tx, tW, tb).backward(gy)
    np.testing.assert_array_equal(gy, gy0)
    g2, x2 = gy.reshape(-1, 1), x.reshape(-1, 7)
    np.testing.assert_allclose(tx.grad.array, (g2 @ W).reshape(x.shape), rtol=1e-6)
    np.testing.assert_allclose(tW.grad.array, g2.T @ x2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tb.grad.array, g2.sum(axis=0), rtol=1e-6)
    assert tx.grad.dtype == np.float32


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel when training, "
                                         r"got input of shape \(1, 3\)"):
        F.batch_norm(tinygan.randn(1, 3), np.zeros(3), np.ones(3), training=True)
    with pytest.raises(ValueError, match="expected more than 1 value per channel"):
        F.batch_norm(tinygan.randn(1, 3, 1, 1), np.zeros(3), np.ones(3), training=True)
    F.batch_norm(tinygan.randn(1, 3), np.zeros(3), np.ones(3), training=False)   # fine in eval
    with pytest.raises(ValueError, match=r"batch_norm: running_mean must have shape \(3,\) for input of shape "
                                         r"\(4, 3\) with 3 channels, got \(2,\)"):
        F.batch_norm(tinygan.randn(4, 3), np.zeros(2), np.ones(3), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: weight must have shape \(3,\)"):
        F.batch_norm(tinygan.randn(4, 3), np.zeros(3), np.ones(3), weight=tinygan.ones(4))
    with pytest.raises(ValueError, match="running_mean and running_var must be given in evaluation mode"):
        F.batch_norm(tinygan.randn(4, 3), None, None, training=False)
    with pytest.raises(ValueError, match="batch_norm: expects input"):
        F.batch_norm(tinygan.randn(4), None, None, training=True)


# ==================================================================================================
# dropout
# ==================================================================================================
def test_dropout_uses_the_seeded_generator_and_the_same_mask_in_backward():
    p = 0.3
    x = tinygan.tensor(np.arange(1.0, 201.0), dtype=np.float32, requires_grad=True)
    tinygan.manual_seed(123)
    y = F.dropout(x, p=p, training=True)
    tinygan.manual_seed(123)
    keep = np.random.default_rng(123).random(200, dtype=np.float32) >= p   # the generator's own draw
    expected = np.where(keep, x.numpy() / (1 - p), 0)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)
    assert y.dtype == np.float32
    assert 0 < keep.sum() < 200
    gy = np.random.default_rng(0).standard_normal(200).astype(np.float32)
    y.backward(gy)
    np.testing.assert_allclose(x.grad.numpy(), np.where(keep, gy / (1 - p), 0), rtol=1e-6)


def test_dropout_gradcheck_with_a_fixed_mask():
    x = t64(np.random.default_rng(0).standard_normal((3, 4)))

    def fn(x):
        tinygan.manual_seed(7)                                     # the same mask on every evaluation
        return F.dropout(x, p=0.5)
    assert tinygan.gradcheck(fn, [x], mode="full")


def test_dropout_edge_cases():
    x = tinygan.randn(5, 6, requires_grad=True)
    assert F.dropout(x, p=0.5, training=False) is x                # eval: identity
    np.testing.assert_array_equal(F.dropout(x, p=0.0).numpy(), x.numpy())
    y = F.dropout(x, p=1.0)
    np.testing.assert_array_equal(y.numpy(), np.zeros((5, 6)))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((5, 6)))
    assert np.isfinite(x.grad.numpy()).all()
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, p=1.5)


def test_dropout_keeps_about_one_minus_p_and_preserves_the_mean():
    y = F.dropout(tinygan.ones(100_000), p=0.25).numpy()
    assert abs((y > 0).mean() - 0.75) < 0.01
    assert abs(y.mean() - 1.0) < 0.02


# ==================================================================================================
# embedding and one_hot
# ==================================================================================================
def test_embedding_forward_and_repeated_ids_accumulate():
    W = t64(np.arange(15.0).reshape(5, 3))
    ids = np.array([[1, 1], [4, 1]])
    y = F.embedding(ids, W)
    np.testing.assert_array_equal(y.numpy(), W.numpy()[ids])
    gy = np.arange(12.0).reshape(2, 2, 3)
    y.backward(gy)
    expected = np.zeros((5, 3))
    expected[1] = gy[0, 0] + gy[0, 1] + gy[1, 1]                   # id 1 used three times
    expected[4] = gy[1, 0]
    np.testing.assert_array_equal(W.grad.numpy(), expected)


@given(n=st.integers(1, 5), dim=st.integers(1, 4), ids=st.lists(st.integers(0, 4), min_size=1, max_size=8))
def test_embedding_gradcheck(n, dim, ids):
    W = t64(np.random.default_rng(0).standard_normal((5, dim)))
    assert tinygan.gradcheck(lambda W: F.embedding(tinygan.tensor(ids), W), [W], mode="directional")


def test_embedding_padding_idx_and_errors():
    W = t64(np.ones((4, 2)))
    F.embedding([0, 2, 2], W, padding_idx=2).sum().backward()
    np.testing.assert_array_equal(W.grad.numpy(), [[1, 1], [0, 0], [0, 0], [0, 0]])
    with pytest.raises(IndexError, match=r"embedding: ids must be in \[0, 4\)"):
        F.embedding([0, 4], W)
    with pytest.raises(TypeError, match="embedding: expects integer ids"):
        F.embedding(np.array([0.0, 1.0]), W)


def test_one_hot():
    y = F.one_hot(tinygan.tensor([0, 2, 1, 2]), num_classes=4)
    np.testing.assert_array_equal(y.numpy(), np.eye(4, dtype=np.int64)[[0, 2, 1, 2]])
    assert y.dtype == np.int64 and not y.requires_grad
    assert F.one_hot(np.array([[1], [0]])).shape == (2, 1, 2)          # num_classes=-1: max + 1
    with pytest.raises(ValueError, match=r"one_hot: labels must be in \[0, 3\)"):
        F.one_hot(np.array([3]), 3)

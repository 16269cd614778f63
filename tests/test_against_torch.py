"""Optional cross-check of forward and backward against PyTorch (skipped where torch is not installed).

The NumPy references in test_conv.py, test_functional_layers.py and test_losses.py are the real tests;
this module only confirms that tinygan and PyTorch agree on conventions (weight layouts, padding,
output_padding, biased/unbiased variances, reductions). torch is imported here only, never in tinygan/.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygan
import tinygan.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def pair(*arrays):
    """The same float64 values as tinygan tensors and torch tensors, both requiring grad."""
    ours = [tinygan.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def compare(ours, theirs, out, ref, rtol=1e-10, atol=1e-10):
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=rtol, atol=atol)
    g = np.random.default_rng(1).standard_normal(tuple(ref.shape))
    out.backward(g)
    ref.backward(torch.tensor(g))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)


@given(N=st.integers(1, 3), C_in=st.integers(1, 3), C_out=st.integers(1, 3), k=st.integers(1, 4),
       s=st.integers(1, 3), p=st.integers(0, 2), H=st.integers(4, 7), W=st.integers(4, 7),
       transposed=st.booleans(), data=st.data())
def test_conv_and_conv_transpose_match_torch(N, C_in, C_out, k, s, p, H, W, transposed, data):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C_in, H, W))
    if transposed:
        op = data.draw(st.integers(0, s - 1))
        w = rng.standard_normal((C_in, C_out, k, k + 1))
        if min((n - 1) * s - 2 * p + kk + op for n, kk in zip((H, W), (k, k + 1))) <= 0:
            return
        args = dict(stride=s, padding=p, output_padding=op)
        ours_fn, theirs_fn = F.conv_transpose2d, TF.conv_transpose2d
    else:
        w = rng.standard_normal((C_out, C_in, k, k + 1))
        if H + 2 * p < k or W + 2 * p < k + 1:
            return
        args = dict(stride=(s, 1), padding=(p, 1))
        ours_fn, theirs_fn = F.conv2d, TF.conv2d
    b = rng.standard_normal(C_out)
    ours, theirs = pair(x, w, b)
    compare(ours, theirs, ours_fn(*ours, **args), theirs_fn(*theirs, **args))


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_torch(shape, training):
    rng = np.random.default_rng(0)
    C = shape[1]
    x, w, b = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(C), rng.standard_normal(C)
    ours, theirs = pair(x, w, b)
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    our_rm, our_rv = rm.copy(), rv.copy()
    their_rm, their_rv = torch.tensor(rm), torch.tensor(rv)
    out = F.batch_norm(ours[0], our_rm, our_rv, ours[1], ours[2], training=training, momentum=0.3)
    ref = TF.batch_norm(theirs[0], their_rm, their_rv, theirs[1], theirs[2], training=training, momentum=0.3)
    compare(ours, theirs, out, ref)
    np.testing.assert_allclose(our_rm, their_rm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(our_rv, their_rv.numpy(), rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match_torch(reduction):
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 3)) * 5, rng.uniform(0, 1, (4, 3))
    w, pw = rng.uniform(0.5, 2, 3), rng.uniform(0.5, 3, 3)
    ours, theirs = pair(x, t)
    compare(ours, theirs,
            F.binary_cross_entropy_with_logits(*ours, weight=w, reduction=reduction, pos_weight=pw),
            TF.binary_cross_entropy_with_logits(*theirs, weight=torch.tensor(w), reduction=reduction,
                                                pos_weight=torch.tensor(pw)))
    p = rng.uniform(0.01, 0.99, (4, 3))
    ours, theirs = pair(p, t)
    compare(ours, theirs, F.binary_cross_entropy(*ours, reduction=reduction),
            TF.binary_cross_entropy(*theirs, reduction=reduction))
    ours, theirs = pair(x, t)
    compare(ours, theirs, F.mse_loss(*ours, reduction=reduction), TF.mse_loss(*theirs, reduction=reduction))
    target = np.array([0, 2, 1, -100])
    ours, theirs = pair(x)
    compare(ours, theirs, F.cross_entropy(ours[0], target, weight=w, reduction=reduction),
            TF.cross_entropy(theirs[0], torch.tensor(target), weight=torch.tensor(w), reduction=reduction))


def test_bce_with_logits_extremes_match_torch_in_float32():
    x = np.array([100.0, -100.0, 100.0, -100.0], dtype=np.float32)
    t = np.array([1.0, 0.0, 0.0, 1.0], dtype=np.float32)
    ours = F.binary_cross_entropy_with_logits(tinygan.tensor(x), t, reduction="none").numpy()
    ref = TF.binary_cross_entropy_with_logits(torch.tensor(x), torch.tensor(t), reduction="none").numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-40)   # torch rounds exp(-100) to 0


def test_linear_and_embedding_match_torch():
    rng = np.random.default_rng(0)
    ours, theirs = pair(rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5))
    compare(ours, theirs, F.linear(*ours), TF.linear(*theirs))
    ids = np.array([[1, 1], [3, 1]])
    ours, theirs = pair(rng.standard_normal((4, 3)))
    compare(ours, theirs, F.embedding(ids, ours[0], padding_idx=3),
            TF.embedding(torch.tensor(ids), theirs[0], padding_idx=3))

"""nn.utils.clip_grad_norm_ and clip_grad_value_: against the definition, against torch (skipped without it), in
place on the optimizer's flat gradient buffers."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygan
from tinygan import nn, optim
from tinygan.nn.utils import clip_grad_norm_, clip_grad_value_, get_total_norm

SHAPES = [(3, 4), (4,), (2, 2, 2)]


def params_with_grads(grads, dtype=np.float64):
    params = [tinygan.tensor(np.zeros(g.shape), requires_grad=True, dtype=dtype) for g in grads]
    for p, g in zip(params, grads):
        p.grad = tinygan.tensor(g.astype(dtype))
    return params


def draw_grads(seed, scale=1.0):
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(s) for s in SHAPES]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_against_the_definition(norm_type, max_norm):
    grads = draw_grads(0)
    params = params_with_grads(grads)
    flat = np.concatenate([g.ravel() for g in grads])
    expected = np.abs(flat).max() if norm_type == math.inf else (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    total = clip_grad_norm_(params, max_norm, norm_type)
    assert isinstance(total, tinygan.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), expected, rtol=1e-12)
    coef = min(1.0, max_norm / (expected + 1e-6))
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.numpy(), g * coef, rtol=1e-12)
    if max_norm < expected:      # clipped: the new norm is max_norm (up to the 1e-6 guard)
        assert math.isclose(get_total_norm([p.grad for p in params], norm_type).item(), max_norm, rel_tol=1e-5)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2 ** 16), scale=st.sampled_from([1e-3, 1.0, 50.0]),
       norm_type=st.sampled_from([2.0, 1.0, 0.5, 3.0, math.inf]), max_norm=st.floats(0.01, 20.0),
       dtype=st.sampled_from([np.float32, np.float64]), missing=st.booleans())
def test_against_torch(seed, scale, norm_type, max_norm, dtype, missing):
    torch = pytest.importorskip("torch")
    grads = [g.astype(dtype) for g in draw_grads(seed, scale)]
    ours = params_with_grads(grads, dtype)
    theirs = [torch.zeros(g.shape, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True) for g in grads]
    for t, g in zip(theirs, grads):
        t.grad = torch.tensor(g)
    if missing:                                       # a parameter without a gradient is skipped
        ours[1].grad = theirs[1].grad = None
    total = clip_grad_norm_(iter(ours), max_norm, norm_type)       # a generator, as model.parameters()
    expected = torch.nn.utils.clip_grad_norm_(iter(theirs), max_norm, norm_type)
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    assert total.dtype == dtype
    np.testing.assert_allclose(total.item(), expected.item(), rtol=rtol)
    for p, t in zip(ours, theirs):
        if t.grad is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=1e-30)


def test_clip_grad_value_against_torch():
    torch = pytest.importorskip("torch")
    grads = draw_grads(1, scale=2.0)
    ours = params_with_grads(grads)
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(theirs, grads):
        t.grad = torch.tensor(g)
    assert clip_grad_value_(ours, 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())
    assert max(np.abs(p.grad.numpy()).max() for p in ours) == 0.7


def test_clipping_reaches_the_optimizers_flat_buffer():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    opt = optim.SGD(model.parameters(), lr=1.0)
    (model(tinygan.randn(5, 3)) * 100).sum().backward()
    before = [p.detach().numpy().copy() for p in model.parameters()]
    clip_grad_norm_(model.parameters(), 0.1)
    assert get_total_norm([p.grad for p in model.parameters()]).item() <= 0.1 + 1e-6
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    opt.step()                                     # reads the clipped gradients from its flat buffer
    for p, b, g in zip(model.parameters(), before, grads):
        np.testing.assert_allclose(p.detach().numpy(), b - g, rtol=1e-6, atol=1e-7)


def test_edge_cases_and_errors():
    p = tinygan.tensor(np.zeros(3), requires_grad=True)
    total = clip_grad_norm_(p, 1.0)                # no gradient anywhere: norm 0, nothing changes
    assert total.item() == 0.0 and p.grad is None
    p.grad = tinygan.tensor(np.array([3.0, 4.0, 0.0]))
    assert clip_grad_norm_(p, 10.0).item() == 5.0 and p.grad.numpy().tolist() == [3.0, 4.0, 0.0]
    p.grad = tinygan.tensor(np.array([np.inf, 1.0, 0.0]))
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    assert math.isinf(clip_grad_norm_(p, 1.0).item())
    with pytest.raises(TypeError, match="parameter 0 is a ndarray"):
        clip_grad_value_([np.zeros(2)], 1.0)
    assert nn.utils.clip_grad_norm_ is clip_grad_norm_ and tinygan.nn.utils.clip_grad_value_ is clip_grad_value_

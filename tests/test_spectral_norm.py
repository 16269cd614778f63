"""nn.utils.spectral_norm: PyTorch's parameter and buffer names, the power iteration and W / sigma against NumPy
(and sigma against the SVD), float64 gradchecks of W / sigma over hypothesis-drawn shapes, training through an
optimizer's flat buffers, remove_spectral_norm, clear errors, and forward, buffers and gradients against
PyTorch where it is installed."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygan
import tinygan.functional as F
from tinygan import nn, optim
from tinygan.gradcheck import gradcheck, gradgradcheck
from tinygan.nn.utils.spectral_norm import SpectralNorm


def layer(kind):
    """(a float64 layer, an input for it) of each kind spectral_norm is used on."""
    rng = np.random.default_rng(1)
    if kind == "linear":
        return nn.Linear(5, 3).double(), rng.standard_normal((4, 5))
    if kind == "conv":
        return nn.Conv2d(2, 3, 3, padding=1).double(), rng.standard_normal((2, 2, 5, 5))
    return nn.ConvTranspose2d(2, 3, 4, 2, 1).double(), rng.standard_normal((2, 2, 3, 3))


def normalize(x, eps=1e-12):
    return x / max(np.linalg.norm(x), eps)


def reference_step(W, u, dim):
    """One power iteration and sigma, in NumPy: (u', v', sigma) for the weight W (dim moved to the front)."""
    W = np.moveaxis(W, dim, 0).reshape(W.shape[dim], -1)
    v = normalize(W.T @ u)
    u = normalize(W @ v)
    return u, v, u @ W @ v


@pytest.mark.parametrize("kind", ["linear", "conv", "transposed"])
def test_names_shapes_and_one_training_forward_against_numpy(kind):
    tinygan.manual_seed(0)
    m, x = layer(kind)
    W = m.weight.numpy().copy()
    nn.utils.spectral_norm(m)
    dim = 1 if kind == "transposed" else 0
    assert list(m.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert [name for name, _ in m.named_parameters()] == ["bias", "weight_orig"]
    assert m.weight_u.shape == (W.shape[dim],) and m.weight_v.shape == (W.size // W.shape[dim],)
    assert np.isclose(np.linalg.norm(m.weight_u.numpy()), 1) and np.isclose(np.linalg.norm(m.weight_v.numpy()), 1)
    u0 = m.weight_u.numpy().copy()
    y = m(tinygan.tensor(x))
    u, v, sigma = reference_step(W, u0, dim)
    np.testing.assert_allclose(m.weight_u.numpy(), u, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(m.weight_v.numpy(), v, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(m.weight.numpy(), W / sigma, rtol=1e-12)
    plain = {"linear": lambda w: F.linear(tinygan.tensor(x), tinygan.tensor(w), m.bias),
             "conv": lambda w: F.conv2d(tinygan.tensor(x), tinygan.tensor(w), m.bias, 1, 1),
             "transposed": lambda w: F.conv_transpose2d(tinygan.tensor(x), tinygan.tensor(w), m.bias, 2, 1)}[kind]
    np.testing.assert_allclose(y.detach().numpy(), plain(W / sigma).detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(m.weight_orig.numpy(), W)            # the parameter itself is not changed


def test_sigma_converges_to_the_largest_singular_value():
    tinygan.manual_seed(0)
    m = nn.utils.spectral_norm(nn.Linear(20, 10).double(), n_power_iterations=50)
    m(tinygan.randn(2, 20, dtype=np.float64))
    s = np.linalg.svd(m.weight_orig.numpy(), compute_uv=False)
    assert np.isclose(np.linalg.svd(m.weight.numpy(), compute_uv=False)[0], 1.0, rtol=1e-8)
    assert np.isclose(np.linalg.norm(m.weight_orig.numpy() @ m.weight_v.numpy()), s[0], rtol=1e-8)


def test_eval_mode_keeps_u_and_v_and_repeats_the_weight():
    tinygan.manual_seed(0)
    m = nn.utils.spectral_norm(nn.Linear(4, 3).double())
    x = tinygan.randn(2, 4, dtype=np.float64)
    m(x)                                                              # one training forward
    m.eval()
    u, v = m.weight_u.numpy().copy(), m.weight_v.numpy().copy()
    a, b = m(x).detach().numpy(), m(x).detach().numpy()
    np.testing.assert_array_equal(a, b)                               # exact: the same call twice
    np.testing.assert_array_equal(m.weight_u.numpy(), u)
    np.testing.assert_array_equal(m.weight_v.numpy(), v)
    m.train()
    m(x)
    assert not np.array_equal(m.weight_u.numpy(), u)                  # training mode iterates again


@given(h=st.integers(1, 5), w=st.integers(1, 6), k=st.sampled_from([None, (2, 2)]), dim=st.sampled_from([0, 1]),
       seed=st.integers(0, 2 ** 16))
def test_gradcheck_of_weight_over_sigma(h, w, k, dim, seed):
    """d(W / (u^T W v))/dW with u, v fixed: the gradient spectral norm's backward computes."""
    rng = np.random.default_rng(seed)
    shape = (h, w) + (k or ())
    W = tinygan.tensor(rng.standard_normal(shape) + 0.5, requires_grad=True)
    fn = SpectralNorm(dim=dim)
    rows, cols = shape[dim], int(np.prod(shape)) // shape[dim]
    u, v = normalize(rng.standard_normal(rows)), normalize(rng.standard_normal(cols))
    W_mat = np.moveaxis(W.numpy(), dim, 0).reshape(rows, cols)
    if abs(u @ W_mat @ v) < 1e-2:                                     # far from sigma = 0
        return
    assert gradcheck(lambda W: fn.divide(W, u, v), [W])


@pytest.mark.parametrize("kind", ["linear", "conv", "transposed"])
def test_gradcheck_of_the_layer_in_eval_mode_input_and_weight(kind):
    tinygan.manual_seed(0)
    m, x = layer(kind)
    nn.utils.spectral_norm(m)
    m(tinygan.tensor(x))                                              # u, v after one iteration
    m.eval()
    W = tinygan.tensor(m.weight_orig.numpy(), requires_grad=True)

    def fn(x, W):
        m._parameters["weight_orig"] = W                              # the layer's W / sigma, as a function of W
        return m(x)

    assert gradcheck(fn, [tinygan.tensor(x, requires_grad=True), W])


def test_second_derivative_through_the_normalised_weight():
    """A gradient penalty differentiates dD/dx again, through W / sigma (--spectral-norm with --r1)."""
    tinygan.manual_seed(0)
    m = nn.utils.spectral_norm(nn.Linear(3, 2).double())
    m(tinygan.randn(1, 3, dtype=np.float64))
    m.eval()
    x = tinygan.randn(2, 3, dtype=np.float64, requires_grad=True)
    assert gradgradcheck(lambda x: tinygan.tanh(m(x)), [x])


def test_an_optimizer_trains_weight_orig_through_its_flat_buffer():
    tinygan.manual_seed(0)
    m = nn.utils.spectral_norm(nn.Linear(4, 3))
    opt = optim.Adam(m.parameters(), lr=0.1)
    x = tinygan.randn(8, 4)
    before = m.weight_orig.numpy().copy()
    for _ in range(3):
        opt.zero_grad()
        loss = (m(x) ** 2).mean()
        loss.backward()
        assert m.weight_orig.grad is not None and np.abs(m.weight_orig.grad.numpy()).sum() > 0
        opt.step()
    assert not np.array_equal(m.weight_orig.numpy(), before)
    m.eval()
    u, v = m.weight_u.numpy(), m.weight_v.numpy()
    np.testing.assert_allclose(m(x).detach().numpy(), x.numpy() @ (m.weight_orig.numpy() / (u @ m.weight_orig.numpy()
                                                                                            @ v)).T
                               + m.bias.numpy(), rtol=1e-5, atol=1e-6)


def test_remove_spectral_norm_leaves_a_parameter_holding_w_over_sigma():
    tinygan.manual_seed(0)
    m = nn.utils.spectral_norm(nn.Linear(4, 3).double())
    x = tinygan.randn(2, 4, dtype=np.float64)
    m(x)
    m.eval()
    y = m(x).detach().numpy()
    nn.utils.remove_spectral_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"] and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(m(x).detach().numpy(), y, rtol=1e-12)
    assert "forward" not in m.__dict__


def test_state_dict_round_trip_into_a_fresh_normalised_layer():
    tinygan.manual_seed(0)
    a = nn.utils.spectral_norm(nn.Linear(4, 3))
    a(tinygan.randn(2, 4))
    tinygan.manual_seed(5)
    b = nn.utils.spectral_norm(nn.Linear(4, 3))
    b.load_state_dict(a.state_dict())
    a.eval()
    b.eval()
    x = tinygan.randn(2, 4)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())   # exact: same state, same path


def test_clear_errors():
    with pytest.raises(ValueError, match="n_power_iterations"):
        nn.utils.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
    with pytest.raises(ValueError, match="no parameter 'kernel'"):
        nn.utils.spectral_norm(nn.Linear(2, 2), name="kernel")
    m = nn.utils.spectral_norm(nn.Linear(2, 2))
    with pytest.raises((RuntimeError, ValueError), match="weight"):
        nn.utils.spectral_norm(m)
    with pytest.raises(ValueError, match="not found"):
        nn.utils.remove_spectral_norm(nn.Linear(2, 2))


@pytest.mark.parametrize("kind", ["linear", "conv", "transposed"])
def test_against_torch_three_training_steps_then_eval(kind):
    torch = pytest.importorskip("torch")
    tinygan.manual_seed(0)
    m, x = layer(kind)
    nn.utils.spectral_norm(m)
    t = {"linear": lambda: torch.nn.Linear(5, 3), "conv": lambda: torch.nn.Conv2d(2, 3, 3, padding=1),
         "transposed": lambda: torch.nn.ConvTranspose2d(2, 3, 4, 2, 1)}[kind]().double()
    t = torch.nn.utils.spectral_norm(t)
    assert list(t.state_dict()) == list(m.state_dict())
    t.load_state_dict({k: torch.tensor(v) for k, v in m.state_dict().items()})
    gy = np.random.default_rng(2).standard_normal(m(tinygan.tensor(x)).shape)
    t(torch.tensor(x))                                                  # both have iterated once now
    for _ in range(3):
        X, XT = tinygan.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        m.zero_grad()
        t.zero_grad()
        y, yt = m(X), t(XT)
        (y * tinygan.tensor(gy)).sum().backward()
        (yt * torch.tensor(gy)).sum().backward()
        np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        for name in ("weight_u", "weight_v"):
            np.testing.assert_allclose(getattr(m, name).numpy(), getattr(t, name).numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(m.weight_orig.grad.numpy(), t.weight_orig.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(m.bias.grad.numpy(), t.bias.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(X.grad.numpy(), XT.grad.numpy(), rtol=1e-9, atol=1e-12)
    m.eval()
    t.eval()
    np.testing.assert_allclose(m(tinygan.tensor(x)).detach().numpy(), t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)

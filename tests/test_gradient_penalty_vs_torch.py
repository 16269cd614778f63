"""Gradient penalties against PyTorch itself: WGAN-GP (Gulrajani et al. 2017) and R1 (Mescheder et al. 2018).

The same critic weights are loaded into a tinygan and a torch model (float64); the penalty, which differentiates
the critic's input gradient, and its gradients with respect to every critic parameter must agree. A parameter
that the penalty does not reach has no .grad in tinygan, and None or zeros in torch: both count as zeros.
Also LayerNorm itself against torch: names, repr, outputs and gradients, errors.
"""
import numpy as np
import pytest

import tinygan
from tinygan import nn

torch = pytest.importorskip("torch")

LAMBDA = 10.0                                                   # WGAN-GP's penalty weight
GAMMA = 10.0                                                    # R1's


def mlp_critic(lib):
    return lib.Sequential(lib.Flatten(), lib.Linear(12, 16), lib.LeakyReLU(0.2), lib.Linear(16, 16),
                          lib.LeakyReLU(0.2), lib.Linear(16, 1))


def conv_critic(lib):
    # 7x7 input: the stride-2 convs skip the last row and column, so the input gradient needs output_padding
    return lib.Sequential(lib.Conv2d(2, 4, 3, stride=2, padding=1), lib.LeakyReLU(0.2),
                          lib.Conv2d(4, 6, 3, stride=2, padding=1), lib.LayerNorm([6, 2, 2]), lib.LeakyReLU(0.2),
                          lib.Flatten(), lib.Linear(24, 1))


CRITICS = {"mlp": (mlp_critic, (5, 3, 4)), "conv": (conv_critic, (5, 2, 7, 7))}


def critic_pair(name):
    """The tinygan and torch critics, float64, with torch's initial weights copied into tinygan."""
    build, _ = CRITICS[name]
    torch.manual_seed(0)
    theirs = build(torch.nn).double()
    ours = build(nn).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def batch(name, seed=1):
    rng = np.random.default_rng(seed)
    shape = CRITICS[name][1]
    return rng.normal(size=shape), rng.normal(size=shape) * 0.5 + 0.3, rng.uniform(size=(shape[0],) +
                                                                                   (1,) * (len(shape) - 1))


def wgan_gp(lib, critic, real, fake, alpha):
    """lambda * mean((||dD/dx_hat||_2 - 1)^2), x_hat = alpha real + (1 - alpha) fake, one alpha per sample."""
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    d = critic(x_hat)
    g, = lib.autograd.grad(d, x_hat, grad_outputs=lib.ones_like(d), create_graph=True)
    return LAMBDA * ((g.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def r1(lib, critic, real):
    """gamma / 2 * mean(||dD/dx||_2^2) at the real samples."""
    real = real.requires_grad_(True)
    g, = lib.autograd.grad(critic(real).sum(), real, create_graph=True)
    return GAMMA / 2 * (g * g).flatten(1).sum(dim=1).mean()


def grads(model):
    return {n: np.zeros(tuple(p.shape)) if p.grad is None else
            (p.grad.detach().numpy() if hasattr(p.grad, "detach") else p.grad.array)
            for n, p in model.named_parameters()}


@pytest.mark.parametrize("name", sorted(CRITICS))
@pytest.mark.parametrize("penalty", ["wgan_gp", "r1"])
def test_penalty_and_its_parameter_gradients_match_torch(name, penalty):
    ours, theirs = critic_pair(name)
    real, fake, alpha = batch(name)
    if penalty == "wgan_gp":
        p_ours = wgan_gp(tinygan, ours, tinygan.tensor(real), tinygan.tensor(fake), tinygan.tensor(alpha))
        p_theirs = wgan_gp(torch, theirs, torch.tensor(real), torch.tensor(fake), torch.tensor(alpha))
    else:
        p_ours = r1(tinygan, ours, tinygan.tensor(real))
        p_theirs = r1(torch, theirs, torch.tensor(real))
    np.testing.assert_allclose(p_ours.item(), p_theirs.item(), rtol=1e-6)
    assert p_ours.item() > 1e-3                                      # a penalty worth comparing
    p_ours.backward()
    p_theirs.backward()
    g_ours, g_theirs = grads(ours), grads(theirs)
    assert list(g_ours) == list(g_theirs)
    for n in g_ours:
        scale = max(np.abs(g_theirs[n]).max(), 1e-12)
        np.testing.assert_allclose(g_ours[n], g_theirs[n], rtol=1e-6, atol=1e-9 * scale, err_msg=n)
    assert sum(np.abs(g).sum() > 0 for g in g_ours.values()) >= 3     # the penalty reached the weights


@pytest.mark.parametrize("name", sorted(CRITICS))
def test_a_penalty_on_the_parameter_gradients_matches_torch(name):
    """sum ||dD/dtheta||^2 differentiated in theta and x: the conv weight gradient's own derivatives (the
    Conv2dGradWeight op), which input-gradient penalties never reach."""
    ours, theirs = critic_pair(name)
    real, _, _ = batch(name)
    results = []
    for lib, critic in ((tinygan, ours), (torch, theirs)):
        x = lib.tensor(real).requires_grad_(True)
        params = list(critic.parameters())
        gs = lib.autograd.grad(critic(x).sum(), params, create_graph=True)
        penalty = sum((g * g).sum() for g in gs)
        penalty.backward()
        results.append((penalty.item(), x.grad.detach().numpy(), grads(critic)))
    (p_ours, gx_ours, g_ours), (p_theirs, gx_theirs, g_theirs) = results
    np.testing.assert_allclose(p_ours, p_theirs, rtol=1e-6)
    np.testing.assert_allclose(gx_ours, gx_theirs, rtol=1e-6, atol=1e-9 * np.abs(gx_theirs).max())
    for n in g_ours:
        scale = max(np.abs(g_theirs[n]).max(), 1e-12)
        np.testing.assert_allclose(g_ours[n], g_theirs[n], rtol=1e-6, atol=1e-9 * scale, err_msg=n)


def test_a_critic_step_with_the_penalty_matches_torch():
    """The WGAN-GP critic loss D(fake) - D(real) + penalty, one Adam step, then the penalty again."""
    ours, theirs = critic_pair("conv")
    real, fake, alpha = batch("conv", seed=2)
    opt_ours = tinygan.optim.Adam(ours.parameters(), lr=1e-3, betas=(0.5, 0.9))
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=1e-3, betas=(0.5, 0.9))
    values = []
    for lib, critic, opt in ((tinygan, ours, opt_ours), (torch, theirs, opt_theirs)):
        r, f, a = lib.tensor(real), lib.tensor(fake), lib.tensor(alpha)
        for _ in range(2):
            opt.zero_grad()
            loss = critic(f).mean() - critic(r).mean() + wgan_gp(lib, critic, r, f, a)
            loss.backward()
            opt.step()
        values.append(wgan_gp(lib, critic, r, f, a).item())
    np.testing.assert_allclose(values[0], values[1], rtol=1e-6)


# ==================================================================================================
# LayerNorm itself
# ==================================================================================================
@pytest.mark.parametrize("kwargs", [{}, {"elementwise_affine": False}, {"bias": False}, {"eps": 1e-3}])
@pytest.mark.parametrize("normalized_shape", [5, (3, 5), [2, 3, 5]])
def test_layer_norm_matches_torch(normalized_shape, kwargs):
    torch.manual_seed(0)
    theirs = torch.nn.LayerNorm(normalized_shape, **kwargs).double()
    ours = nn.LayerNorm(normalized_shape, **kwargs).double()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(3)
    for p in theirs.parameters():                                  # not ones and zeros: test the affine part
        p.data = torch.tensor(rng.normal(size=tuple(p.shape)))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = rng.normal(size=(4, 2, 3, 5)) * 3 + 1
    xo, xt = tinygan.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    gy = rng.normal(size=x.shape)
    yo.backward(gy)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    g_ours, g_theirs = grads(ours), grads(theirs)
    for n in g_theirs:
        np.testing.assert_allclose(g_ours[n], g_theirs[n], rtol=1e-9, atol=1e-11, err_msg=n)


def test_layer_norm_float32_stays_float32_and_close_to_torch():
    x = (np.random.default_rng(4).normal(size=(8, 64)) * 5 + 100).astype(np.float32)
    ours, theirs = nn.LayerNorm(64), torch.nn.LayerNorm(64)
    yo = ours(tinygan.tensor(x))
    assert yo.dtype == np.float32 and ours.weight.dtype == np.float32
    np.testing.assert_allclose(yo.detach().numpy(), theirs(torch.tensor(x)).detach().numpy(), atol=2e-4)


def test_layer_norm_errors_name_the_layer_and_both_shapes():
    layer = nn.LayerNorm((4, 5))
    with pytest.raises(ValueError, match=r"LayerNorm\(\(4, 5\).*expected input \(\*, 4, 5\), got \(2, 5, 4\)"):
        layer(tinygan.zeros(2, 5, 4))
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(3,\) needs input of shape \(\*, 3\), got "
                                         r"input of shape \(2, 4\)"):
        tinygan.functional.layer_norm(tinygan.zeros(2, 4), 3)
    with pytest.raises(ValueError, match=r"weight must have shape normalized_shape \(4,\), got \(5,\)"):
        tinygan.functional.layer_norm(tinygan.zeros(2, 4), 4, weight=tinygan.ones(5))
    with pytest.raises(TypeError, match="float64.*float32|float32.*float64"):
        tinygan.functional.layer_norm(tinygan.zeros(2, 4, dtype=tinygan.float64), 4, weight=tinygan.ones(4))

"""tinygan.nn against PyTorch itself, where torch is installed (it is not a dependency; CI skips this file).

A torch model's state_dict, as NumPy arrays, is loaded into the matching tinygan model; names, shapes, reprs,
outputs, running statistics and gradients must agree. The other nn tests are the real proof; this one
checks that "like PyTorch" is literally true.
"""
import math

import numpy as np
import pytest

import tinygan
from tinygan import nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def build(lib):
    """A DCGAN-like generator and discriminator and an MLP, written once for either library."""
    g = lib.Sequential(
        lib.Unflatten(1, (8, 1, 1)),
        lib.ConvTranspose2d(8, 6, 7, 1, 0, bias=False), lib.BatchNorm2d(6), lib.ReLU(True),
        lib.ConvTranspose2d(6, 3, 4, 2, 1, bias=False), lib.BatchNorm2d(3), lib.ReLU(True),
        lib.ConvTranspose2d(3, 1, 4, 2, 1), lib.Tanh())
    d = lib.Sequential(
        lib.Conv2d(1, 4, 4, 2, 1, bias=False), lib.LeakyReLU(0.2, inplace=True),
        lib.Conv2d(4, 8, (4, 3), (2, 1), (1, 2)), lib.BatchNorm2d(8), lib.LeakyReLU(0.2, inplace=True),
        lib.Flatten(), lib.Linear(8 * 7 * 16, 16), lib.BatchNorm1d(16, bias=False), lib.Sigmoid(), lib.Linear(16, 1))
    mlp = lib.Sequential(lib.Linear(10, 12), lib.LeakyReLU(0.2), lib.Linear(12, 12), lib.ReLU(),
                         lib.Linear(12, 3, bias=False))
    return {"G": g, "D": d, "mlp": mlp}


INPUT_SHAPES = {"G": (5, 8), "D": (5, 1, 28, 28), "mlp": (7, 10)}


@pytest.fixture
def pairs():
    torch.manual_seed(0)
    theirs = build(tnn)
    ours = build(nn)
    for name in ours:
        theirs[name].double()
        ours[name].double()
        state = {k: v.detach().numpy() for k, v in theirs[name].state_dict().items()}
        ours[name].load_state_dict(state)
    return {name: (ours[name], theirs[name]) for name in ours}


@pytest.mark.parametrize("name", ["G", "D", "mlp"])
def test_names_shapes_keys_and_repr_match(name):
    torch.manual_seed(0)
    theirs, ours = build(tnn)[name], build(nn)[name]
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("name", ["G", "D", "mlp"])
@pytest.mark.parametrize("training", [True, False])
def test_outputs_gradients_and_running_stats_match(pairs, name, training):
    ours, theirs = pairs[name]
    ours.train(training), theirs.train(training)
    x = np.random.default_rng(1).normal(size=INPUT_SHAPES[name])
    gy_seed = np.random.default_rng(2)
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    xo = tinygan.tensor(x, dtype=np.float64, requires_grad=True)
    yo = ours(xo)
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    gy = gy_seed.normal(size=tuple(yt.shape))
    yt.backward(torch.tensor(gy))
    yo.backward(gy)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    their_params = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), their_params[n].grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=n)
    their_state = theirs.state_dict()
    for k, v in ours.state_dict().items():
        np.testing.assert_allclose(v, their_state[k].numpy(), rtol=1e-12, atol=1e-14, err_msg=k)


@pytest.mark.parametrize("make, fan_in", [(lambda lib: lib.Linear(256, 512), 256),
                                          (lambda lib: lib.Conv2d(32, 64, 4), 32 * 16),
                                          (lambda lib: lib.ConvTranspose2d(64, 16, 4), 16 * 16)])
def test_default_init_range_matches(make, fan_in):
    """Same distribution (not the same numbers: the generators differ): U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1 / math.sqrt(fan_in)
    for layer in (make(tnn), make(nn)):
        w = layer.weight.detach().numpy() if isinstance(layer, tnn.Module) else layer.weight.array
        b = layer.bias.detach().numpy() if isinstance(layer, tnn.Module) else layer.bias.array
        assert bound * 0.98 < np.abs(w).max() <= bound and np.abs(b).max() <= bound
        assert abs(w.std() - bound / math.sqrt(3)) < 0.03 * bound


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match(reduction):
    rng = np.random.default_rng(0)
    x, t, w = rng.normal(size=(6, 3)) * 3, (rng.random((6, 3)) > 0.5) * 1.0, rng.random((6, 3)) + 0.5
    pairs = [(nn.BCEWithLogitsLoss(weight=w, reduction=reduction),
              tnn.BCEWithLogitsLoss(weight=torch.tensor(w), reduction=reduction), x),
             (nn.BCELoss(reduction=reduction), tnn.BCELoss(reduction=reduction), 1 / (1 + np.exp(-x))),
             (nn.MSELoss(reduction=reduction), tnn.MSELoss(reduction=reduction), x)]
    for ours, theirs, inp in pairs:
        ours.double()
        xo = tinygan.tensor(inp, dtype=np.float64, requires_grad=True)
        xt = torch.tensor(inp, requires_grad=True)
        lo, lt = ours(xo, tinygan.tensor(t, dtype=np.float64)), theirs(xt, torch.tensor(t))
        np.testing.assert_allclose(lo.numpy(), lt.detach().numpy(), rtol=1e-10)
        lo.sum().backward()
        lt.sum().backward()
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    labels = np.array([0, 2, 1, 1, 0, 2])
    ce, tce = nn.CrossEntropyLoss(reduction=reduction), tnn.CrossEntropyLoss(reduction=reduction)
    np.testing.assert_allclose(ce(tinygan.tensor(x, dtype=np.float64), tinygan.tensor(labels)).numpy(),
                               tce(torch.tensor(x), torch.tensor(labels)).numpy(), rtol=1e-10)


def test_embedding_and_dropout_eval_match():
    torch.manual_seed(0)
    theirs = tnn.Embedding(7, 4).double()
    ours = nn.Embedding(7, 4).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ids = np.array([[0, 6, 2], [2, 2, 1]])
    np.testing.assert_array_equal(ours(tinygan.tensor(ids)).numpy(), theirs(torch.tensor(ids)).detach().numpy())
    x = np.random.default_rng(0).normal(size=(3, 4))
    np.testing.assert_array_equal(nn.Dropout(0.4).eval()(tinygan.tensor(x)).numpy(),
                                  tnn.Dropout(0.4).eval()(torch.tensor(x)).numpy())

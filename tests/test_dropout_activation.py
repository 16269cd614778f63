"""Dropout2d / F.dropout2d (whole channels), Dropout's inplace and second derivative, and the activation layers
ELU, Softplus, Softmax, LogSoftmax: statistics with a seed, float64 gradchecks, errors, and PyTorch where it is
installed."""
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygan
import tinygan.functional as F
from tinygan import nn
from tinygan.ops import dropout

with_fixture = settings(suppress_health_check=list(settings.default.suppress_health_check)
                        + [HealthCheck.function_scoped_fixture])


def random(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def seeded(fn, seed=3):
    """fn with tinygan's generator reseeded before each call: every call draws the same dropout mask."""
    def call(*args):
        tinygan.manual_seed(seed)
        return fn(*args)
    return call


# ==================================================================================================
# Dropout2d: whole channels, scale 1 / (1 - p), identity in eval
# ==================================================================================================
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 4), st.integers(1, 4)),
       p=st.sampled_from([0.1, 0.5, 0.8]), seed=st.integers(0, 2**16))
@with_fixture
def test_dropout2d_zeroes_whole_channels_and_scales_the_rest(shape, p, seed, device):
    tinygan.manual_seed(seed)
    x = tinygan.tensor(random(shape, seed), dtype=np.float64, device=device, requires_grad=True)
    y = F.dropout2d(x, p)
    mask = y.detach().numpy() / x.detach().numpy()                 # (N, C, H, W): 0 or 1 / (1 - p)
    per_channel = mask.reshape(shape[0], shape[1], -1)
    assert np.allclose(per_channel, per_channel[..., :1])          # one value per (n, c) channel
    assert np.all(np.isclose(per_channel, 0) | np.isclose(per_channel, 1 / (1 - p)))
    gy = random(shape, seed + 1)
    y.backward(gy)
    np.testing.assert_allclose(x.grad.detach().numpy(), gy * mask, rtol=1e-12)   # the same mask


def test_dropout2d_drops_a_fraction_p_of_the_channels_and_keeps_the_mean():
    tinygan.manual_seed(0)
    x = tinygan.ones(64, 32, 3, 3)
    y = F.dropout2d(x, 0.3).detach().numpy()
    dropped = (y[:, :, 0, 0] == 0).mean()
    assert abs(dropped - 0.3) < 0.04                               # 2048 channels: 4 standard deviations
    assert abs(y.mean() - 1) < 0.06
    tinygan.manual_seed(0)
    np.testing.assert_array_equal(F.dropout2d(x, 0.3).detach().numpy(), y)   # the seed decides the mask


def test_dropout2d_extremes_and_eval_mode():
    x = tinygan.randn(2, 3, 4, 4)
    assert F.dropout2d(x, 0.5, training=False) is x
    assert F.dropout2d(x, 0.0) is x
    assert not F.dropout2d(x, 1.0).detach().numpy().any()
    layer = nn.Dropout2d(0.5)
    layer.eval()
    assert layer(x) is x
    layer.train()
    assert layer(x).shape == x.shape


def test_dropout2d_on_3d_input_drops_rows_with_pytorchs_warning():
    tinygan.manual_seed(1)
    x = tinygan.ones(4, 6, 5)
    with pytest.warns(UserWarning, match="interpreted as shape \\(N, C, L\\)"):
        y = F.dropout2d(x, 0.5).detach().numpy()
    assert np.all((y == y[:, :, :1]))                              # whole (n, c) rows: mask (N, C, 1)


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.dropout2d(tinygan.ones(4, 6), 0.5), ValueError, r"expects a 4-D input .* got shape \(4, 6\)"),
    (lambda: F.dropout2d(tinygan.ones(1, 2, 3, 3), 1.5), ValueError, "between 0 and 1, but got 1.5"),
    (lambda: nn.Dropout2d(-0.1), ValueError, "Dropout2d: probability has to be between 0 and 1"),
    (lambda: nn.Dropout(2), ValueError, "Dropout: probability has to be between 0 and 1"),
])
def test_dropout_errors(call, error, words):
    with pytest.raises(error, match=words):
        call()


@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
       p=st.sampled_from([0.2, 0.5]), channels=st.booleans())
def test_dropout_gradcheck_and_gradgradcheck(shape, p, channels):
    """The mask is fixed by reseeding before each call; squared, so the first derivative depends on x."""
    fn = seeded(lambda a: (F.dropout2d if channels else F.dropout)(a, p))
    x = tinygan.tensor(random(shape, 0), dtype=np.float64, requires_grad=True)
    assert tinygan.gradcheck(fn, [x])
    assert tinygan.gradgradcheck(lambda a: fn(a) ** 2, [x])


def test_dropout_backward_graph_reuses_the_mask():
    tinygan.manual_seed(5)
    x = tinygan.tensor(random((3, 4, 2, 2), 0), requires_grad=True)
    y = F.dropout2d(x, 0.5)
    mask = y.grad_fn.mask
    (g,) = tinygan.autograd.grad((y * y).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 2 * x.detach().numpy() * mask ** 2, rtol=1e-6)
    assert g.requires_grad                                         # recorded: a penalty on g can train


def test_mask_multiply_is_its_own_adjoint():
    from tinygan.ops.arithmetic import Mul
    mask = np.array([[0.0], [2.0]])
    x = tinygan.tensor(random((2, 3), 0), requires_grad=True)
    y = dropout.MaskMultiply.apply(x, mask=mask)
    gy = tinygan.ones(2, 3, requires_grad=True)
    assert type(y.grad_fn.backward_graph(gy).grad_fn) is Mul        # gy * mask, recorded: the same map again
    assert tinygan.gradgradcheck(lambda a: dropout.MaskMultiply.apply(a, mask=mask) ** 2, [x])


# ==================================================================================================
# Activation layers
# ==================================================================================================
@given(x=st.lists(st.floats(-5, 5).filter(lambda v: abs(v) > 1e-3), min_size=1, max_size=8),
       alpha=st.sampled_from([1.0, 0.5, 2.0]))
def test_elu_matches_its_definition_and_gradchecks(x, alpha):
    x = np.array(x)
    t = tinygan.tensor(x, dtype=np.float64, requires_grad=True)
    np.testing.assert_allclose(nn.ELU(alpha)(t).detach().numpy(), np.where(x > 0, x, alpha * np.expm1(x)),
                               rtol=1e-12, atol=1e-15)
    assert tinygan.gradcheck(lambda a: F.elu(a, alpha), [t])


def test_elu_is_finite_for_large_inputs():
    x = tinygan.tensor([1000.0, -1000.0], requires_grad=True)
    y = F.elu(x)
    y.sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), [1000.0, -1.0])
    np.testing.assert_array_equal(x.grad.detach().numpy(), [1.0, 0.0])


@given(x=st.lists(st.floats(-30, 30), min_size=1, max_size=8), beta=st.sampled_from([1.0, 0.5, 2.0]))
def test_softplus_with_beta_matches_its_definition_and_gradchecks(x, beta):
    x = np.array(x)
    t = tinygan.tensor(x, dtype=np.float64, requires_grad=True)
    np.testing.assert_allclose(nn.Softplus(beta)(t).detach().numpy(), np.logaddexp(0, beta * x) / beta,
                               rtol=1e-12, atol=1e-12)
    assert tinygan.gradcheck(nn.Softplus(beta), [t])


@pytest.mark.parametrize("layer, fn", [(nn.Softmax, F.softmax), (nn.LogSoftmax, F.log_softmax)])
def test_softmax_layers_use_their_dim(layer, fn):
    x = tinygan.randn(2, 3, 4)
    for dim in (0, 1, -1):
        # exact: the layer calls the same function on the same data
        np.testing.assert_array_equal(layer(dim)(x).detach().numpy(), fn(x, dim).detach().numpy())


@pytest.mark.parametrize("ndim, dim", [(1, 0), (2, 1), (3, 0), (4, 1)])
def test_softmax_without_dim_warns_and_picks_pytorchs_dim(ndim, dim):
    x = tinygan.randn(*(2, 3, 4, 5)[:ndim])
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = nn.Softmax()(x)
    np.testing.assert_array_equal(y.detach().numpy(), F.softmax(x, dim).detach().numpy())   # exact: same path
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.LogSoftmax(dim=-1)(x)                                   # an explicit dim: no warning


# ==================================================================================================
# Against PyTorch, where it is installed
# ==================================================================================================
@pytest.mark.parametrize("make", [
    lambda nn: nn.Dropout2d(), lambda nn: nn.Dropout2d(0.3, True), lambda nn: nn.Dropout(0.2, inplace=True),
    lambda nn: nn.ELU(), lambda nn: nn.ELU(0.5, True), lambda nn: nn.Softplus(), lambda nn: nn.Softplus(2, 10),
    lambda nn: nn.Softmax(), lambda nn: nn.Softmax(dim=1), lambda nn: nn.LogSoftmax(dim=-1)])
def test_reprs_match_torch(make):
    torch = pytest.importorskip("torch")
    assert repr(make(nn)) == repr(make(torch.nn))


@pytest.mark.parametrize("make, shape", [
    (lambda nn: nn.ELU(), (3, 5)), (lambda nn: nn.ELU(0.3), (2, 3, 4)), (lambda nn: nn.Softplus(), (3, 5)),
    (lambda nn: nn.Softplus(beta=2.0), (4, 6)), (lambda nn: nn.Softmax(dim=1), (3, 5)),
    (lambda nn: nn.LogSoftmax(dim=0), (3, 5)), (lambda nn: nn.Softmax(), (2, 3, 4)),
    (lambda nn: nn.LogSoftmax(), (2, 3, 4, 2))])
def test_activation_layers_match_torch_forward_and_backward(make, shape):
    torch = pytest.importorskip("torch")
    x = random(shape, 0) * 3
    gy = random(shape, 1)
    xt = torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                            # both warn for an implicit softmax dim
        y_t = make(torch.nn)(xt)
        xo = tinygan.tensor(x, requires_grad=True)
        y = make(nn)(xo)
    y_t.backward(torch.tensor(gy))
    y.backward(gy)
    np.testing.assert_allclose(y.detach().numpy(), y_t.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(xo.grad.detach().numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-6)

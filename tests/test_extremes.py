"""Float32 at the extremes: every elementwise op and loss keeps PyTorch's range where PyTorch is stable.

The values at large |x| are where a formula that is exact in real arithmetic loses everything in float32:
(1 + tanh(x/2)) / 2 is exactly 0 below x = -19, where 1 / (1 + exp(-x)) stays accurate to x = -88. Each op
is compared with a float64 NumPy reference rounded to float32 (relative error, or exact 0 / inf where the
reference is), forward and gradient, and with PyTorch when it is installed.
"""
import numpy as np
import pytest

import tinygan
from tinygan import functional as F

X = np.array([-1e4, -200.0, -100.0, -88.0, -50.0, -30.0, -19.5, -5.0, -1e-30, 0.0, 1e-30, 5.0, 19.5, 30.0,
              50.0, 88.0, 100.0, 200.0, 1e4], dtype=np.float32)


def _sigmoid64(x):
    x = x.astype(np.float64)
    return np.exp(np.minimum(x, 0)) / (1 + np.exp(-np.abs(x)))


def _softplus64(x):
    return np.logaddexp(0, x.astype(np.float64))


# name: (tinygan op, float64 reference of the value, float64 reference of the derivative)
OPS = {
    "sigmoid": (lambda t: t.sigmoid(), _sigmoid64, lambda x: _sigmoid64(x) * _sigmoid64(-x)),
    "tanh": (lambda t: t.tanh(), lambda x: np.tanh(x.astype(np.float64)),
             lambda x: 1 / np.cosh(np.clip(x.astype(np.float64), -300, 300)) ** 2),
    "softplus": (lambda t: t.softplus(), _softplus64, _sigmoid64),
    "leaky_relu": (lambda t: t.leaky_relu(0.2), lambda x: np.where(x > 0, x, 0.2 * x.astype(np.float64)),
                   lambda x: np.where(x > 0, 1.0, 0.2)),
    "bce_with_logits": (lambda t: F.binary_cross_entropy_with_logits(t, tinygan.zeros(*t.shape), reduction="none"),
                        _softplus64, _sigmoid64),
    "log_sigmoid": (lambda t: -F.binary_cross_entropy_with_logits(t, tinygan.ones(*t.shape), reduction="none"),
                    lambda x: -_softplus64(-x), lambda x: _sigmoid64(-x)),
}


def _close32(actual, reference, rtol):
    """actual (float32) equals the float64 reference rounded to float32, to rtol; 0 and inf exactly."""
    expected = reference.astype(np.float32)
    exact = (expected == 0) | ~np.isfinite(expected)
    np.testing.assert_array_equal(actual[exact], expected[exact])
    np.testing.assert_allclose(actual[~exact], expected[~exact], rtol=rtol, atol=0)


MODERATE = np.abs(X) <= 5          # where a float32 derivative formula (1 - y^2, y (1 - y)) has not cancelled yet


@pytest.mark.parametrize("name", sorted(OPS))
def test_value_and_gradient_keep_float32_range(name):
    op, value, derivative = OPS[name]
    x = tinygan.tensor(X, requires_grad=True)
    y = op(x)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    _close32(y.detach().numpy(), value(X), rtol=2e-6)           # the values: over the whole range
    grad, reference = x.grad.numpy(), derivative(X)
    np.testing.assert_allclose(grad[MODERATE], reference[MODERATE], rtol=5e-4, atol=1e-30)
    assert np.isfinite(grad).all()
    # far out, the gradient is the reference's or 0 where PyTorch's formula is 0 too (1 - y^2 with y = +-1)
    far = ~MODERATE
    assert ((np.abs(grad[far] - reference[far]) <= 2e-6 * np.abs(reference[far]) + 1e-37) | (grad[far] == 0)).all()


def test_sigmoid_is_not_zero_where_pytorch_is_not():
    x = tinygan.tensor([-19.5, -50.0, -88.0], requires_grad=True)
    y = x.sigmoid()
    y.sum().backward()
    assert (y.detach().numpy() > 0).all() and (x.grad.numpy() > 0).all()
    _close32(y.detach().numpy(), _sigmoid64(x.detach().numpy()), rtol=2e-6)


def test_bce_loss_of_a_sigmoid_keeps_the_generator_gradient_alive():
    # pytorch/examples' dcgan: nn.Sigmoid then nn.BCELoss. At logit -30 the generator's loss is 30, and its
    # gradient (p - 1) / max(p (1 - p), 1e-12) * p (1 - p) = -0.0936 (PyTorch's clamp); with sigmoid rounded to
    # 0 the loss was 100 and the gradient exactly 0, so G stopped learning.
    logit = tinygan.tensor([[-30.0]], requires_grad=True)
    loss = F.binary_cross_entropy(logit.sigmoid(), tinygan.ones(1, 1))
    loss.backward()
    p = _sigmoid64(np.array([-30.0]))[0]
    assert loss.item() == pytest.approx(30.0, rel=1e-5)
    assert logit.grad.item() == pytest.approx((p - 1) / 1e-12 * p * (1 - p), rel=1e-4)


@pytest.mark.parametrize("name", sorted(OPS))
def test_extremes_match_torch(name):
    torch = pytest.importorskip("torch")
    torch_ops = {
        "sigmoid": torch.sigmoid, "tanh": torch.tanh, "softplus": torch.nn.functional.softplus,
        "leaky_relu": lambda t: torch.nn.functional.leaky_relu(t, 0.2),
        "bce_with_logits": lambda t: torch.nn.functional.binary_cross_entropy_with_logits(
            t, torch.zeros_like(t), reduction="none"),
        "log_sigmoid": lambda t: -torch.nn.functional.binary_cross_entropy_with_logits(
            t, torch.ones_like(t), reduction="none"),             # the same op as tinygan's, not logsigmoid
    }
    xt = torch.tensor(X, requires_grad=True)
    yt = torch_ops[name](xt)
    yt.sum().backward()
    x = tinygan.tensor(X, requires_grad=True)
    y = OPS[name][0](x)
    y.sum().backward()
    # atol 1e-37: below float32's normal range PyTorch sometimes rounds to 0 where tinygan keeps a denormal;
    # rtol 1e-3 on gradients: 1 - y^2 cancels (tanh'(5) = 1.8e-4 has ~3 correct digits in any float32 formula)
    # Where the two differ, tinygan must be the one nearer the float64 reference (PyTorch's BCE with logits
    # returns log(1 + exp(-19.5)) as 0, tinygan's log1p keeps 3.4e-9).
    _, value, derivative = OPS[name]
    for ours, theirs, reference, rtol in ((y.detach().numpy(), yt.detach().numpy(), value(X), 1e-5),
                                          (x.grad.numpy(), xt.grad.numpy(), derivative(X), 1e-3)):
        agree = np.isclose(ours, theirs, rtol=rtol, atol=1e-37)
        nearer = np.abs(ours - reference) <= np.abs(theirs - reference)
        assert (agree | nearer).all(), (X[~(agree | nearer)], ours[~(agree | nearer)], theirs[~(agree | nearer)])

"""Gaps found by running L1aoXingyu/pytorch-beginner's scripts (not in the corpus: the repository has no license)
on tinygan: f-string formatting of 0-d tensors, in-place ops on tensors with gradients recorded (the VAE's
``logvar.mul(0.5).exp_()``, ``eps.mul(std).add_(mu)``, ``mu.pow(2).add_(logvar.exp()).mul_(-1)``), and the
corpus rewrite of ``MNIST('./data', transform=...)`` / ``FashionMNIST(...)``."""
import pathlib
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygan

try:
    import torch
except ImportError:
    torch = None

few = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

# name: (in-place method call, the same out of place on NumPy, a safe input domain (low, high))
IN_PLACE = {
    "add_": (lambda x, o: x.add_(o, alpha=2), lambda a, o: a + 2 * o, (-2, 2)),
    "sub_": (lambda x, o: x.sub_(o), lambda a, o: a - o, (-2, 2)),
    "mul_": (lambda x, o: x.mul_(o), lambda a, o: a * o, (-2, 2)),
    "div_": (lambda x, o: x.div_(o), lambda a, o: a / o, (0.5, 2)),
    "pow_": (lambda x, o: x.pow_(o), lambda a, o: a ** o, (0.5, 2)),
    "clamp_": (lambda x, o: x.clamp_(-0.5, 0.7), lambda a, o: np.clip(a, -0.5, 0.7), (-2, 2)),
    "exp_": (lambda x, o: x.exp_(), lambda a, o: np.exp(a), (-2, 2)),
    "log_": (lambda x, o: x.log_(), lambda a, o: np.log(a), (0.5, 2)),
    "sqrt_": (lambda x, o: x.sqrt_(), lambda a, o: np.sqrt(a), (0.5, 2)),
    "abs_": (lambda x, o: x.abs_(), lambda a, o: np.abs(a), (0.1, 2)),
    "neg_": (lambda x, o: x.neg_(), lambda a, o: -a, (-2, 2)),
    "tanh_": (lambda x, o: x.tanh_(), lambda a, o: np.tanh(a), (-2, 2)),
    "sigmoid_": (lambda x, o: x.sigmoid_(), lambda a, o: 1 / (1 + np.exp(-a)), (-2, 2)),
}


def _case(draw_shape, name, seed):
    low, high = IN_PLACE[name][2]
    rs = np.random.RandomState(seed)
    a = rs.uniform(low, high, draw_shape)
    a = np.where(np.abs(np.abs(a) - 0.6) < 0.05, 0.3, a)          # away from clamp_'s kinks (-0.5, 0.7)
    return a, rs.uniform(low, high, draw_shape)


# ==================================================================================================
# f"{loss:.4f}" of a 0-d tensor (pytorch-beginner's f"Loss: {running_loss/i:.6f}, Acc: {running_acc/i:.6f}")
# ==================================================================================================
@pytest.mark.parametrize("spec", ["", ".6f", ".3e", "10.2f", "g"])
def test_a_0d_tensor_formats_as_its_number(spec):
    t = tinygan.tensor(0.123456, requires_grad=True) * 2
    assert format(t, spec) == format(t.item(), spec)
    assert f"{tinygan.tensor(3):d}" == "3"
    if torch is not None:
        assert format(t, spec) == format(torch.tensor(0.123456, requires_grad=True) * 2, spec)


def test_other_tensors_accept_only_an_empty_format_spec():
    t = tinygan.tensor([1.0, 2.0])
    assert f"{t}" == str(t)
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{t:.3f}"


# ==================================================================================================
# In-place ops where gradients are recorded: PyTorch's rebase
# ==================================================================================================
@few
@given(shape=hnp.array_shapes(max_dims=3, max_side=4), name=st.sampled_from(sorted(IN_PLACE)),
       seed=st.integers(0, 2 ** 16))
def test_in_place_op_on_a_recorded_tensor_forward_and_gradcheck(shape, name, seed):
    call, reference, _ = IN_PLACE[name]
    a, o = _case(shape, name, seed)
    x = tinygan.tensor(a, dtype=np.float64, requires_grad=True)
    other = tinygan.tensor(o, dtype=np.float64, requires_grad=True)
    h = x * 1.0
    assert call(h, other) is h and not h.is_leaf and h.grad_fn is not None
    np.testing.assert_allclose(h.detach().numpy(), reference(a, o), rtol=1e-12)

    def through_in_place(xv, ov):
        y = xv * 1.5
        return call(y, ov) * 3.0
    assert tinygan.gradcheck(through_in_place, [x, other])


@needs_torch
@few
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), name=st.sampled_from(sorted(IN_PLACE)),
       seed=st.integers(0, 2 ** 16))
def test_in_place_op_on_a_recorded_tensor_matches_torch(shape, name, seed):
    call, _, _ = IN_PLACE[name]
    a, o = _case(shape, name, seed)
    results = []
    for lib in (tinygan, torch):
        x = lib.tensor(a.astype(np.float32), requires_grad=True)
        other = lib.tensor(o.astype(np.float32), requires_grad=True)
        y = call(x * 1.5, other)
        (y * lib.tensor(np.linspace(-1, 1, y.numel()).reshape(shape).astype(np.float32))).sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy(),
                        None if other.grad is None else other.grad.numpy()))
    (yt, gxt, got), (yr, gxr, gor) = results
    np.testing.assert_allclose(yt, yr, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gxt, gxr, rtol=1e-4, atol=1e-6)
    assert (got is None) == (gor is None) or np.allclose(got if got is not None else 0, 0)
    if gor is not None and got is not None:
        np.testing.assert_allclose(got, gor, rtol=1e-4, atol=1e-6)


def _vae_terms(lib, mu_values, logvar_values, eps_values):
    """The in-place lines of pytorch-beginner's Variational_autoencoder.py (reparametrize and the KL term)."""
    mu = lib.tensor(mu_values, requires_grad=True)
    logvar = lib.tensor(logvar_values, requires_grad=True)
    std = logvar.mul(0.5).exp_()
    z = lib.tensor(eps_values).mul(std).add_(mu)
    kld_element = mu.pow(2).add_(logvar.exp()).mul_(-1).add_(1).add_(logvar)
    kld = lib.sum(kld_element).mul_(-0.5)
    loss = kld + (z ** 2).sum()
    loss.backward()
    return loss.item(), mu.grad.numpy(), logvar.grad.numpy()


def test_the_vae_in_place_lines_give_numpy_reference_gradients():
    rs = np.random.RandomState(0)
    mu, logvar, eps = (rs.randn(4, 3).astype(np.float64) for _ in range(3))
    loss, gmu, glogvar = _vae_terms(tinygan, mu, logvar, eps)
    z = eps * np.exp(0.5 * logvar) + mu
    assert loss == pytest.approx(-0.5 * np.sum(1 + logvar - mu ** 2 - np.exp(logvar)) + np.sum(z ** 2), rel=1e-12)
    np.testing.assert_allclose(gmu, mu + 2 * z, rtol=1e-12)
    np.testing.assert_allclose(glogvar, -0.5 * (1 - np.exp(logvar)) + 2 * z * eps * 0.5 * np.exp(0.5 * logvar),
                               rtol=1e-12)
    if torch is not None:
        t = _vae_terms(torch, *(v.astype(np.float32) for v in (mu, logvar, eps)))
        g = _vae_terms(tinygan, *(v.astype(np.float32) for v in (mu, logvar, eps)))
        assert g[0] == pytest.approx(t[0], rel=1e-5)
        np.testing.assert_allclose(g[1], t[1], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(g[2], t[2], rtol=1e-5, atol=1e-6)


def test_the_tensor_keeps_its_identity_takes_the_new_values_and_bumps_its_version():
    x = tinygan.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    alias, version = h, h._version
    old_memory = h.array
    h.add_(1)
    assert h is alias and h._version == version + 1 and type(h.grad_fn).__name__ == "AddScalar"
    np.testing.assert_array_equal(h.array, [4.0, 7.0])
    np.testing.assert_array_equal(old_memory, [3.0, 6.0])   # the values before, kept by the earlier tensor


def test_an_earlier_reader_gets_the_gradient_of_the_old_version():
    results = []
    for lib in [tinygan] + ([torch] if torch is not None else []):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x * 3
        before = h.sum() * 5                  # reads h before the change; sum saves no values
        h.mul_(2)
        (before + (h * h).sum()).backward()
        results.append(x.grad.numpy())
    np.testing.assert_allclose(results[0], [5 * 3 + 2 * 36 * 1, 5 * 3 + 2 * 36 * 2])
    if len(results) == 2:
        np.testing.assert_allclose(results[0], results[1])


def test_an_earlier_op_that_saved_the_values_refuses_as_pytorch():
    x = tinygan.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    e = h.exp()                               # saves h's values
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (e.sum() + h.sum()).backward()


def test_a_tensor_without_grad_takes_a_graph_from_its_operand():
    x = tinygan.tensor([1.0, -2.0], requires_grad=True)
    n = tinygan.zeros(2)
    n.add_(x * x)
    assert n.requires_grad and not n.is_leaf
    n.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0])


def test_in_place_on_a_recorded_view_is_refused_naming_the_op():
    x = tinygan.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"add_: in-place add_ on a view \(GetItem\)"):
        (x * 1)[0:2].add_(1)


def test_a_view_taken_before_keeps_the_old_values_and_their_gradient():
    """tinygan's documented difference (no view tracking): the view keeps what it saw, and its gradient agrees."""
    x = tinygan.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 1
    v = h.view(3, 1)
    h.mul_(2)
    np.testing.assert_array_equal(v.numpy().ravel(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(h.numpy(), [2.0, 4.0, 6.0])
    (v.sum() + h.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0, 3.0])    # 1 through v, 2 through h


def test_a_leaf_that_requires_grad_still_refuses():
    x = tinygan.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x.exp_()


def test_in_place_ops_without_a_graph_still_write_in_place():
    x = tinygan.tensor([0.0, 1.0])
    memory = x.array
    assert x.exp_() is x and x.array is memory
    np.testing.assert_allclose(memory, [1.0, np.e], rtol=1e-6)


# ==================================================================================================
# The corpus rewrite (run.py): MNIST('./data', transform=t) and FashionMNIST(...)
# ==================================================================================================
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "pytorch_corpus"))


@pytest.mark.parametrize("call, expected", [
    ("MNIST('./data', transform=t)", "MNIST('/D', train=False, transform=t)"),
    ("datasets.FashionMNIST(root='x', train=True, download=True)", "datasets.MNIST(root='/D', train=False, "
                                                                    "download=True)"),
    ("FashionMNIST('../d', transform=T.ToTensor())", "MNIST('/D', train=False, transform=T.ToTensor())"),
    ("MNIST(root='r', transform=t)", "MNIST(train=False, root='/D', transform=t)"),
])
def test_the_rewrite_of_mnist_calls_is_valid_python(call, expected):
    import run
    assert run.rewrite_data(call, "/D", None) == expected
    assert run.rewrite_data(call, "/D", 64) == f"torch.utils.data.Subset({expected}, range(64))"

"""The gaps aladdinpersson/Machine-Learning-Collection's scripts found (benchmarks/pytorch_corpus, aladdin_*):
f"{tensor:.2f}" on a 0-d tensor, zeros/ones/empty/rand/randn(size=...), and the tensor basics tutorial's
diag, dot, matrix_power, remainder (%), sort, unique, & | ^ ~, eq/ne/..., any/all, true_divide.
Forward against NumPy, float64 gradchecks (and gradgradchecks) for the differentiable ones, PyTorch when installed,
clear errors for bad input."""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygan
from tinygan import backend

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

few = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
values = st.floats(-3, 3, allow_nan=False, width=64)


def t64(a, grad=True):
    return tinygan.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def host(t):
    return backend.asnumpy(t.array)


def both_grads(fn_ours, fn_torch, arrays):
    """Values and gradients of sum(fn(...)) in tinygan and torch, float32."""
    ours = [tinygan.tensor(np.asarray(a, np.float32), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(np.asarray(a, np.float32), requires_grad=True) for a in arrays]
    y, ty = fn_ours(*ours), fn_torch(*theirs)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(host(y), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(host(a.grad), b.grad.numpy(), rtol=1e-5, atol=1e-5)


# ==================================================================================================
# f"{t:.2f}" and size=
# ==================================================================================================
def test_a_0d_tensor_formats_as_its_number():
    assert f"{tinygan.tensor(0.123456) * 100:.2f}" == "12.35"
    assert f"{tinygan.tensor(7):d}" == "7" and f"{tinygan.tensor(2.5)}" == "2.5"
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{tinygan.ones(2):.2f}"


@needs_torch
def test_format_like_torch():
    for v in (0.5, 3, True, -1.25):
        for spec in ("", ".3f", "8.2e"):
            if spec and isinstance(v, bool):
                continue
            assert format(tinygan.tensor(v), spec) == format(torch.tensor(v), spec)


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_size_keyword(name):
    make = getattr(tinygan, name)
    assert make(size=(2, 3)).shape == (2, 3) and make(size=[4]).shape == (4,)
    assert make(size=(2, 3)).dtype == np.float32
    with pytest.raises(TypeError, match=f"{name}: give the size once"):
        make(2, size=(3,))
    with pytest.raises(TypeError, match=f"{name}\\(\\): argument 'size' must be a tuple"):
        make(size=3)


# ==================================================================================================
# remainder
# ==================================================================================================
pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


@few
@given(pairs, st.data())
def test_remainder_matches_numpy_and_its_gradients_check(shapes, data):
    a = data.draw(hnp.arrays(np.float64, shapes.input_shapes[0], elements=values))
    b = data.draw(hnp.arrays(np.float64, shapes.input_shapes[1], elements=st.floats(0.3, 2, width=64)))
    b = b * data.draw(st.sampled_from([1, -1]))
    quotient = np.broadcast_to(a, shapes.result_shape) / b
    assume(np.all(np.abs(quotient - np.round(quotient)) > 1e-3))   # away from the jumps
    np.testing.assert_allclose(host(tinygan.remainder(t64(a), t64(b))), np.remainder(a, b), atol=1e-12)
    tinygan.gradcheck(tinygan.remainder, [t64(a), t64(b)])
    tinygan.gradgradcheck(lambda x, y: x % y * x, [t64(a), t64(b)])


def test_remainder_of_integers_and_numbers():
    x = tinygan.arange(10)
    assert host(x.remainder(2)).tolist() == [0, 1] * 5 and x.remainder(2).dtype == np.int64
    assert host(tinygan.tensor([-7, 7]) % 3).tolist() == [2, 1]
    assert x.remainder(2.5).dtype == np.float32
    with pytest.raises(TypeError, match="remainder: expected a tensor or a number"):
        x.remainder("2")


@needs_torch
def test_remainder_like_torch():
    rng = np.random.RandomState(0)
    a, b = rng.uniform(-5, 5, (3, 4)), rng.uniform(0.5, 2, (4,)) * np.array([1, -1, 1, -1])
    both_grads(lambda x, y: x % y, lambda x, y: x % y, [a, b])
    x = torch.arange(-5, 5)
    assert host(tinygan.arange(-5, 5).remainder(3)).tolist() == x.remainder(3).tolist()


# ==================================================================================================
# diag, dot, matrix_power
# ==================================================================================================
@few
@given(st.integers(1, 4), st.integers(1, 4), st.integers(-3, 3), st.data())
def test_diag_matches_numpy_and_its_gradients_check(rows, cols, k, data):
    m = data.draw(hnp.arrays(np.float64, (rows, cols), elements=values))
    v = data.draw(hnp.arrays(np.float64, (cols,), elements=values))
    np.testing.assert_array_equal(host(tinygan.diag(t64(m), k)), np.diag(m, k))
    np.testing.assert_array_equal(host(tinygan.diag(t64(v), k)), np.diag(v, k))
    if np.diag(m, k).size:
        tinygan.gradcheck(lambda x: tinygan.diag(x, k), [t64(m)])
    tinygan.gradcheck(lambda x: tinygan.diag(x, k), [t64(v)])
    tinygan.gradgradcheck(lambda x: tinygan.diag(x * x, k), [t64(v)])


@few
@given(st.integers(1, 5), st.data())
def test_dot_matches_numpy_and_its_gradients_check(n, data):
    a, b = (data.draw(hnp.arrays(np.float64, (n,), elements=values)) for _ in range(2))
    np.testing.assert_allclose(host(tinygan.dot(t64(a), t64(b))), np.dot(a, b), atol=1e-12)
    tinygan.gradcheck(tinygan.dot, [t64(a), t64(b)])
    tinygan.gradgradcheck(tinygan.dot, [t64(a), t64(b)])


def test_dot_errors_and_integers():
    assert tinygan.dot(tinygan.tensor([1, 2, 3]), tinygan.tensor([9, 8, 7])).item() == 46
    with pytest.raises(RuntimeError, match="dot: 1D tensors expected, but got 2D and 1D"):
        tinygan.dot(tinygan.ones(2, 2), tinygan.ones(2))
    with pytest.raises(RuntimeError, match="dot: expected both vectors to have same dtype"):
        tinygan.dot(tinygan.ones(2), tinygan.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="dot: inconsistent tensor size"):
        tinygan.dot(tinygan.ones(2), tinygan.ones(3))
    with pytest.raises(RuntimeError, match="diag: expected a 1D or 2D tensor, got 3D"):
        tinygan.diag(tinygan.ones(2, 2, 2))


@few
@given(st.integers(1, 3), st.integers(0, 4), st.booleans(), st.data())
def test_matrix_power_matches_numpy_and_its_gradients_check(n, power, batched, data):
    shape = (2, n, n) if batched else (n, n)
    m = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-1, 1, width=64)))
    np.testing.assert_allclose(host(t64(m).matrix_power(power)), np.linalg.matrix_power(m, power), atol=1e-12)
    if power:
        tinygan.gradcheck(lambda x: x.matrix_power(power), [t64(m)])
        tinygan.gradgradcheck(lambda x: tinygan.matrix_power(x, power), [t64(m)])


def test_matrix_power_errors():
    with pytest.raises(RuntimeError, match="matrix_power: expected a square matrix"):
        tinygan.ones(2, 3).matrix_power(2)
    with pytest.raises(NotImplementedError, match="matrix_power: negative powers"):
        tinygan.ones(2, 2).matrix_power(-1)


@needs_torch
def test_diag_dot_matrix_power_like_torch():
    rng = np.random.RandomState(1)
    m, v, w = rng.randn(3, 4), rng.randn(4), rng.randn(4)
    for k in (-2, 0, 1):
        both_grads(lambda x: tinygan.diag(x, k), lambda x: torch.diag(x, k), [m])
        both_grads(lambda x: tinygan.diag(x, k), lambda x: torch.diag(x, k), [v])
    both_grads(tinygan.dot, torch.dot, [v, w])
    both_grads(lambda x: x.matrix_power(3), lambda x: x.matrix_power(3), [rng.randn(2, 3, 3)])
    assert tinygan.diag(tinygan.ones(3)).dtype == np.float32


# ==================================================================================================
# sort, unique
# ==================================================================================================
@few
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                  elements=st.sampled_from([-1.0, 0.0, 0.5, 2.0, 3.0])), st.booleans(), st.data())
def test_sort_matches_a_stable_numpy_sort_and_its_values_gradients_check(a, descending, data):
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    values, indices = tinygan.sort(t64(a), dim=dim, descending=descending, stable=True)
    order = np.argsort(-a if descending else a, axis=dim, kind="stable")
    np.testing.assert_array_equal(host(indices), order)
    np.testing.assert_array_equal(host(values), np.take_along_axis(a, order, axis=dim))
    assert indices.dtype == np.int64
    distinct = np.random.RandomState(0).permutation(a.size).reshape(a.shape) * 0.1   # no ties: differentiable
    weights = t64(np.arange(a.size).reshape(a.shape), grad=False)
    tinygan.gradcheck(lambda x: tinygan.sort(x, dim, descending)[0] * weights, [t64(distinct)])


def test_unique_matches_numpy():
    a = np.array([[3, 1, 1], [2, 3, 0]])
    values, inverse, counts = tinygan.tensor(a).unique(return_inverse=True, return_counts=True)
    nv, ni, nc = np.unique(a, return_inverse=True, return_counts=True)
    assert host(values).tolist() == nv.tolist() and host(counts).tolist() == nc.tolist()
    assert host(inverse).tolist() == ni.reshape(a.shape).tolist()
    assert host(tinygan.unique(tinygan.tensor(a), dim=0)).tolist() == [[2, 3, 0], [3, 1, 1]]


@needs_torch
def test_sort_and_unique_like_torch():
    a = np.random.RandomState(2).randn(3, 5)
    for descending in (False, True):
        both_grads(lambda x: tinygan.sort(x, 1, descending)[0] * tinygan.arange(5),
                   lambda x: torch.sort(x, 1, descending)[0] * torch.arange(5), [a])
    x = [0, 0, 1, 2, 2, 3, 4, 1]
    ours = tinygan.tensor(x).unique(return_inverse=True, return_counts=True)
    theirs = torch.tensor(x).unique(return_inverse=True, return_counts=True)
    for o, t in zip(ours, theirs):
        assert host(o).tolist() == t.tolist()


# ==================================================================================================
# & | ^ ~, comparisons by name, any/all, true_divide
# ==================================================================================================
@needs_torch
@pytest.mark.parametrize("op", ["__and__", "__or__", "__xor__", "__rand__"])
def test_bitwise_like_torch(op):
    for a, b in (([True, False, True], [True, True, False]), ([5, 3, -2], [1, 6, 7])):
        ours = getattr(tinygan.tensor(a), op)(tinygan.tensor(b))
        theirs = getattr(torch.tensor(a), op)(torch.tensor(b))
        assert host(ours).tolist() == theirs.tolist()
        assert (~tinygan.tensor(a)).tolist() == (~torch.tensor(a)).tolist()
    x = tinygan.arange(10)
    assert host(x[(x < 2) | (x > 8)]).tolist() == [0, 1, 9]


def test_bitwise_refuses_floats():
    with pytest.raises(TypeError, match=r"\| \(bitwise_or\): only bool and integer tensors"):
        tinygan.ones(2) | tinygan.ones(2)
    with pytest.raises(TypeError, match="bitwise_not"):
        ~tinygan.ones(2)


@needs_torch
def test_comparisons_any_all_true_divide_like_torch():
    x, y = [1, 2, 3], [9, 2, 7]
    for name in ("eq", "ne", "gt", "lt", "ge", "le", "true_divide"):
        ours = getattr(tinygan, name)(tinygan.tensor(x), tinygan.tensor(y))
        theirs = getattr(torch, name)(torch.tensor(x), torch.tensor(y))
        np.testing.assert_allclose(host(ours), theirs.numpy(), rtol=1e-6)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    b = [[True, False], [True, True]]
    for name in ("any", "all"):
        assert host(getattr(tinygan, name)(tinygan.tensor(b))).tolist() == getattr(torch, name)(torch.tensor(b)).tolist()
        assert host(getattr(tinygan, name)(tinygan.tensor(b), dim=1)).tolist() == \
            getattr(torch, name)(torch.tensor(b), dim=1).tolist()


# ==================================================================================================
# ReduceLROnPlateau (aladdin_lr_ratescheduler; that script itself fails on torch 2.13, which dropped verbose=)
# ==================================================================================================
def plateau_lrs(lib, metrics, groups=2, **options):
    params = [lib.zeros(1, requires_grad=True) for _ in range(groups)]
    opt = lib.optim.SGD([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(params)], lr=0.1)
    sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **options)
    out = []
    for m in metrics:
        sched.step(m)
        out.append(sched.get_last_lr() + [sched.num_bad_epochs, sched.cooldown_counter])
    return out


options = st.fixed_dictionaries({
    "mode": st.sampled_from(["min", "max"]), "factor": st.sampled_from([0.1, 0.5]), "patience": st.integers(0, 3),
    "threshold": st.sampled_from([1e-4, 0.1]), "threshold_mode": st.sampled_from(["rel", "abs"]),
    "cooldown": st.integers(0, 2), "min_lr": st.sampled_from([0, 0.01, [0.02, 0.0]])})


@needs_torch
@few
@given(st.lists(st.sampled_from([0.5, 0.9, 0.95, 1.0, 1.5]), min_size=1, max_size=20), options)
def test_reduce_lr_on_plateau_like_torch(metrics, kwargs):
    ours = plateau_lrs(tinygan, metrics, **kwargs)
    theirs = plateau_lrs(torch, metrics, **kwargs)
    np.testing.assert_allclose(np.array(ours, dtype=float), np.array(theirs, dtype=float), rtol=1e-12)


def test_reduce_lr_on_plateau_lowers_after_patience_and_checks_its_arguments():
    lrs = plateau_lrs(tinygan, [1.0, 1.0, 1.0, 1.0], groups=1, patience=2)
    assert [round(row[0], 12) for row in lrs] == [0.1, 0.1, 0.1, 0.01]
    opt = tinygan.optim.SGD([tinygan.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="factor should be < 1.0"):
        tinygan.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(TypeError, match="verbose"):
        tinygan.optim.lr_scheduler.ReduceLROnPlateau(opt, verbose=True)      # gone in torch 2.13 too
    with pytest.raises(ValueError, match="expected 1 min_lrs, got 2"):
        tinygan.optim.lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0, 0])

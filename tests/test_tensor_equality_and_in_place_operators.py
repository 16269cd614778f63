"""``==``/``!=`` compare elementwise and tensors hash by identity; ``+=``, ``-=``, ``*=``, ``/=`` write in place
with PyTorch's leaf rules; small API gaps (tinygan.accelerator, t(), argmax/argmin keepdim, MNIST's legacy names)."""
import numpy as np
import pytest

import tinygan

try:
    import torch
except ImportError:                                           # the comparisons with torch are skipped
    torch = None


# ---- == and != -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("other", [np.array([1, 0, 3]), 2, 2.0, "tensor", np.int64(3)])
def test_eq_and_ne_are_elementwise_as_numpy(other):
    a = np.array([1, 2, 3])
    operand = tinygan.tensor([1, 0, 3]) if isinstance(other, str) else other
    expected = a == (np.array([1, 0, 3]) if isinstance(other, str) else other)
    for result, want in [(tinygan.tensor(a) == operand, expected), (tinygan.tensor(a) != operand, ~expected)]:
        assert isinstance(result, tinygan.Tensor) and result.dtype == bool and result._ctx is None
        np.testing.assert_array_equal(result.array, want)
    np.testing.assert_array_equal((operand == tinygan.tensor(a)).array if isinstance(operand, tinygan.Tensor)
                                  else (tinygan.tensor(a) == operand).array, expected)


def test_eq_masks_index_and_count():
    a = tinygan.tensor([1, 2, 3, 2])
    rows = tinygan.arange(8).reshape(4, 2)
    np.testing.assert_array_equal(rows[a == 2].array, [[2, 3], [6, 7]])
    pred, y = tinygan.tensor([0, 1, 2, 1]), tinygan.tensor([0, 1, 1, 1])
    assert (pred == y).sum().item() == 3 and pred.eq(y).sum().item() == 3 and (pred != y).sum().item() == 1
    assert (a == None) is False and (a != None) is True       # noqa: E711  (as PyTorch)


def test_tensors_hash_by_identity_in_sets_and_dicts():
    a, b = tinygan.tensor([1.0, 2.0]), tinygan.tensor([1.0, 2.0])
    assert hash(a) == id(a) and len({a, b, a}) == 2
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b"
    model = tinygan.nn.Linear(3, 2)
    params = list(model.parameters())
    assert model.weight in params and model.weight in set(params)     # the first entry: found by identity
    assert any(p is model.bias for p in params) and model.bias in set(params)


def test_bool_of_one_element_and_of_many():
    assert bool(tinygan.tensor([2]) == 2) and not bool(tinygan.tensor(0.0))
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        bool(tinygan.tensor([1, 2]) == 1)
    if torch is not None:
        with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
            bool(torch.tensor([1, 2]) == 1)


def test_optimizer_and_module_registration_keep_working_with_elementwise_eq():
    tinygan.manual_seed(0)
    model = tinygan.nn.Sequential(tinygan.nn.Linear(2, 2), tinygan.nn.Linear(2, 1))
    opt = tinygan.optim.SGD([{"params": model[0].parameters()}, {"params": model[1].parameters(), "lr": 0.5}],
                            lr=0.1)
    with pytest.raises(ValueError):
        opt.add_param_group({"params": [model[0].weight]})           # found again by identity
    loss = model(tinygan.ones(4, 2)).sum()
    loss.backward()
    weight = model[1].weight
    opt.step()
    assert model[1].weight is weight and len(list(model.parameters())) == 4


# ---- +=, -=, *=, /= --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/="])
def test_in_place_operators_write_the_same_tensor(op):
    x = tinygan.tensor([1.0, 2.0, 4.0])
    same, memory, version = x, x.array, x._version
    other = tinygan.tensor([2.0, 4.0, 8.0])
    exec(f"x {op} other", {}, {"x": x, "other": other})
    loc = {"x": x, "other": other}
    exec(f"x {op} 2", {}, loc)
    x = loc["x"]
    expected = eval(f"(np.array([1.0, 2.0, 4.0]) {op[0]} np.array([2.0, 4.0, 8.0])) {op[0]} 2")
    assert x is same and x.array is memory and x._version == version + 2
    np.testing.assert_allclose(x.array, expected)


def test_leaf_that_requires_grad_refuses_then_no_grad_allows():
    w = tinygan.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place "
                                           "operation"):
        w += 1
    if torch is not None:
        tw = torch.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place "
                                               "operation"):
            tw += 1


def test_the_classic_sgd_loop_keeps_the_parameter():
    x, y = tinygan.tensor([[1.0, 2.0], [3.0, 4.0]]), tinygan.tensor([[1.0], [2.0]])
    w = tinygan.tensor([[0.1], [0.2]], requires_grad=True)
    first = w
    losses = []
    for _ in range(3):
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        losses.append(loss.item())
        with tinygan.no_grad():
            w -= 0.01 * w.grad
            w.grad.zero_()
        assert w is first and w.requires_grad and w.is_leaf and w.grad is not None
    assert losses[2] < losses[0]
    if torch is not None:                                     # the same three steps in torch
        tx, ty = torch.tensor(x.array), torch.tensor(y.array)
        tw = torch.tensor([[0.1], [0.2]], requires_grad=True)
        for want in losses:
            loss = ((tx @ tw - ty) ** 2).mean()
            loss.backward()
            assert abs(loss.item() - want) < 1e-6
            with torch.no_grad():
                tw -= 0.01 * tw.grad
                tw.grad.zero_()


def test_in_place_change_of_a_saved_tensor_fails_at_backward():
    w = tinygan.tensor([1.0, 2.0], requires_grad=True)
    h = tinygan.tensor([3.0, 4.0])
    loss = (w * h).sum()                                      # Mul saves h
    h *= 2
    with pytest.raises(RuntimeError, match="version"):
        loss.backward()


def test_recorded_tensors_change_in_place_and_gradients_flow_as_in_pytorch():
    results = []
    for lib in [tinygan] + ([torch] if torch is not None else []):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([0.5, 0.5], requires_grad=True)
        h = w * 3
        alias, before = h, (h * 2).sum()                      # an alias, and a reader of h's old values
        h += b                                                # recorded in place: the alias sees it too
        h *= 2
        assert h is alias
        (h.sum() + before).backward()
        results.append([np.asarray(alias.detach().numpy()), w.grad.numpy(), b.grad.numpy()])
    np.testing.assert_allclose(results[0][0], [7.0, 13.0])
    np.testing.assert_allclose(results[0][1], [12.0, 12.0])      # d/dw of 2(3w + b) + 2 * 3w
    np.testing.assert_allclose(results[0][2], [2.0, 2.0])
    for got, want in zip(results[0], results[-1]):
        np.testing.assert_allclose(got, want)


def test_in_place_operator_on_a_recorded_view_rebinds_the_name():
    x = tinygan.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    h = (x * 1).view(2, 2)
    v = h
    h += 1                                                    # a view: h becomes the new tensor h + 1
    assert h is not v and h.sum().item() == 14.0
    h.sum().backward()
    np.testing.assert_allclose(x.grad.array, [1.0, 1.0, 1.0, 1.0])


# ---- small API gaps ---------------------------------------------------------------------------------------------
def test_accelerator():
    import tinygan.accelerator
    assert tinygan.accelerator.is_available() == tinygan.cuda.is_available()
    current = tinygan.accelerator.current_accelerator()
    assert (current is None) == (not tinygan.cuda.is_available())
    if current is not None:
        assert current.type == "cuda"
    if torch is not None and not torch.cuda.is_available() and hasattr(torch, "accelerator"):
        assert torch.accelerator.current_accelerator() is None or not tinygan.cuda.is_available()


def test_t_transposes_matrices_with_gradient():
    x = tinygan.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    np.testing.assert_array_equal(x.t().array, np.arange(6.0).reshape(2, 3).T)
    assert x.t().shape == (3, 2) and tinygan.tensor([1.0, 2.0]).t().shape == (2,)
    g = tinygan.tensor(np.arange(6.0).reshape(3, 2))
    (x.t() * g).sum().backward()
    np.testing.assert_array_equal(x.grad.array, g.array.T)
    with pytest.raises(RuntimeError, match="<= 2"):
        tinygan.zeros(2, 2, 2).t()
    assert tinygan.gradcheck(lambda a: a.t(), (tinygan.tensor(np.random.rand(2, 3), dtype=np.float64,
                                                              requires_grad=True),))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (0, False), (1, True), (-1, False)])
def test_argmax_argmin_dim_keepdim(name, dim, keepdim):
    a = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    for out in (getattr(tinygan.tensor(a), name)(dim, keepdim=keepdim),
                getattr(tinygan, name)(tinygan.tensor(a), dim=dim, keepdim=keepdim)):
        assert out.dtype == np.int64
        if torch is not None:
            np.testing.assert_array_equal(out.array, getattr(torch.tensor(a), name)(dim, keepdim=keepdim).numpy())
        else:
            want = getattr(a, name)(axis=dim)
            np.testing.assert_array_equal(out.array.squeeze() if keepdim else out.array, want)


def test_mnist_legacy_names(tmp_path):
    from tinygan.vision import datasets
    ds = datasets.MNIST.__new__(datasets.MNIST)
    ds.data, ds.targets = tinygan.zeros(2, 28, 28), tinygan.tensor([3, 4])
    assert ds.train_data is ds.data and ds.test_data is ds.data
    assert ds.train_labels is ds.targets and ds.test_labels is ds.targets

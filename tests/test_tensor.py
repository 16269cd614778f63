"""The graph machinery and the Tensor API: accumulation, no_grad, freeing the graph, retain_graph, deep graphs,
detect_anomaly, clear errors, and the everyday Tensor methods and operators."""
import gc
import weakref

import numpy as np
import pytest

import tinygan
from tinygan import AnomalyError, Tensor


def leaf(values, dtype=np.float64):
    return tinygan.tensor(values, dtype=dtype, requires_grad=True)


@pytest.fixture
def gc_disabled():
    """Collection off: what must be freed here is freed by reference counting, so the graph has no cycles."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()


# ==================================================================================================
# Accumulation
# ==================================================================================================
def test_tensor_used_twice_gets_both_gradients():
    x = leaf([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [2.0, -4.0, 6.0])
    y = leaf([1.0, -2.0, 3.0])
    (y + y).sum().backward()
    np.testing.assert_array_equal(y.grad.array, [2.0, 2.0, 2.0])


def test_diamond_graph_sums_both_paths():
    x = leaf([0.5, 2.0])
    h = x.exp()
    (h * 3.0 + h.log()).sum().backward()                # d/dx (3 e^x + x) = 3 e^x + 1
    np.testing.assert_allclose(x.grad.array, 3 * np.exp([0.5, 2.0]) + 1)


def test_grads_accumulate_across_backward_calls_in_place():
    x = leaf([1.0, 2.0])
    (x * 3.0).sum().backward()
    grad_array = x.grad.array
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [3.0 + 2.0, 3.0 + 4.0])
    assert x.grad.array is grad_array                      # accumulated into the same array


def test_grad_accumulates_into_a_view_of_a_flat_buffer():
    """Optimizers keep grads as views into one flat buffer: backward must add into it, not replace it."""
    flat = np.zeros(5)
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0, 5.0])
    x.grad, w.grad = Tensor.from_array(flat[:2]), Tensor.from_array(flat[2:])
    (x.sum() * w.sum()).backward()
    np.testing.assert_array_equal(flat, [12.0, 12.0, 3.0, 3.0, 3.0])


def test_first_grad_is_a_copy_of_the_given_gradient():
    x = leaf([1.0, 2.0])
    g = np.array([5.0, 6.0])
    x.backward(g)
    assert not np.shares_memory(x.grad.array, g)
    x.grad.array += 1
    np.testing.assert_array_equal(g, [5.0, 6.0])


def test_sum_gradient_is_writable_and_accumulates():
    """Sum's backward broadcasts (a read-only view); the leaf grad made from it must still be a real array."""
    x = leaf(np.ones((2, 3)))
    x.sum().backward()
    x.sum().backward()
    np.testing.assert_array_equal(x.grad.array, np.full((2, 3), 2.0))
    assert x.grad.array.flags.writeable


def test_only_inputs_requiring_grad_get_one():
    x, c = leaf([1.0, 2.0]), tinygan.tensor([3.0, 4.0], dtype=np.float64)
    (x * c).sum().backward()
    assert c.grad is None and not c.requires_grad
    np.testing.assert_array_equal(x.grad.array, [3.0, 4.0])


# ==================================================================================================
# no_grad / enable_grad
# ==================================================================================================
def test_no_grad_builds_no_graph():
    x = leaf([1.0, 2.0])
    with tinygan.no_grad():
        assert not tinygan.is_grad_enabled()
        y = (x * 2.0).exp() + x
        with tinygan.enable_grad():
            z = x * 2.0
    assert tinygan.is_grad_enabled()
    assert y.requires_grad is False and y._ctx is None and y.is_leaf
    assert z.requires_grad and z._ctx is not None


def test_no_grad_restores_the_mode_after_an_error():
    with pytest.raises(ZeroDivisionError):
        with tinygan.no_grad():
            1 / 0
    assert tinygan.is_grad_enabled()


# ==================================================================================================
# The graph is freed by backward (and by del, without the cycle collector)
# ==================================================================================================
def test_graph_freed_after_backward(gc_disabled):
    x = leaf(np.linspace(-1, 1, 6).reshape(2, 3))
    loss = (x * 2.0).tanh().sum()
    tanh_fn = loss._ctx.inputs[0]._ctx
    assert type(tanh_fn).__name__ == "Tanh"
    fn_ref, saved_ref = weakref.ref(tanh_fn), weakref.ref(tanh_fn.y)
    del tanh_fn
    root_fn = loss.grad_fn                                  # holding the root's Function must not keep the graph
    loss.backward()
    assert root_fn.inputs == ()
    assert fn_ref() is None, "the Tanh Function outlived backward"
    assert saved_ref() is None, "the array Tanh saved for backward outlived backward"
    del loss
    assert x.grad is not None


def test_graph_freed_by_del_without_backward(gc_disabled):
    x = leaf(np.ones(4))
    loss = (x.exp() * 3.0).sum()
    exp_fn = loss._ctx.inputs[0]._ctx.inputs[0]._ctx
    fn_ref, saved_ref = weakref.ref(exp_fn), weakref.ref(exp_fn.y)
    del exp_fn
    assert fn_ref() is not None
    del loss
    assert fn_ref() is None and saved_ref() is None


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.array, [4.0, 8.0])
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_second_backward_without_retain_graph_raises_clearly():
    x = leaf([1.0, 2.0])
    y = (x.exp() * 2.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_deep_chain_backpropagates_and_is_deleted_without_recursion():
    x = leaf([1.0, 2.0])
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, [1.0, 1.0])
    z = x
    for _ in range(100_000):
        z = z + 0.0
    del z                                                   # never backpropagated: the whole chain is freed here


# ==================================================================================================
# retain_grad and register_hook: watching the gradient of one tensor
# ==================================================================================================
def _watched_graph():
    """x, w -> u = x*w -> h = tanh(u) -> L = sum(c * h * h), with dL/dh = 2 c h and dL/dx = dL/dh (1 - h^2) w."""
    x, w = leaf([0.5, -1.0, 2.0]), leaf([1.5, 0.25, -0.5])
    c = np.array([1.0, -2.0, 3.0])
    u = x * w
    h = u.tanh()
    return x, w, c, u, h


def test_retain_grad_keeps_a_non_leaf_gradient_equal_to_the_hand_computed_one():
    x, w, c, u, h = _watched_graph()
    h.retain_grad()
    (h * h * c).sum().backward()
    hv = np.tanh(x.array * w.array)
    np.testing.assert_allclose(h.grad.array, 2 * c * hv)
    np.testing.assert_allclose(x.grad.array, 2 * c * hv * (1 - hv ** 2) * w.array)
    assert u.grad is None                                   # not retained: freed like any non-leaf gradient


def test_retained_grad_matches_finite_differences():
    x, w, c, u, h = _watched_graph()
    u.retain_grad()
    (u.tanh() * u.tanh() * c).sum().backward()
    loss_of_u = lambda uv: float((np.tanh(uv) ** 2 * c).sum())  # noqa: E731
    eps, uv = 1e-6, u.array.copy()
    numeric = [(loss_of_u(uv + eps * e) - loss_of_u(uv - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(u.grad.array, numeric, rtol=1e-6)


def test_retained_grad_accumulates_over_backward_calls_as_a_leafs_does():
    x, w, c, u, h = _watched_graph()
    h.retain_grad()
    loss = (h * c).sum()
    loss.backward(retain_graph=True)
    np.testing.assert_allclose(h.grad.array, c)
    loss.backward()
    np.testing.assert_allclose(h.grad.array, 2 * c)
    np.testing.assert_allclose(x.grad.array, 2 * c * (1 - np.tanh(x.array * w.array) ** 2) * w.array)


def test_retain_grad_on_a_leaf_does_nothing_and_needs_requires_grad():
    x = leaf([1.0, 2.0])
    x.retain_grad()
    assert x.retains_grad is False and x._hooks is None
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [3.0, 3.0])
    y = x * 2.0
    assert y.retains_grad is False
    y.retain_grad()
    assert y.retains_grad is True
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"):
        tinygan.tensor([1.0]).retain_grad()


def test_hooks_run_in_registration_order_on_the_complete_gradient():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    calls = []
    h.register_hook(lambda g: calls.append(("first", g.numpy().copy())))
    h.register_hook(lambda g: calls.append(("second", g.numpy().copy())))
    (h * h + h).sum().backward()                            # h used twice: the hook sees 2h + 1, once
    assert [name for name, _ in calls] == ["first", "second"]
    for _, g in calls:
        np.testing.assert_array_equal(g, 2 * np.array([3.0, 6.0]) + 1)


def test_a_hook_returning_a_tensor_replaces_the_gradient_downstream_and_in_retained_grad():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    h.retain_grad()
    seen = []
    h.register_hook(lambda g: g * 10.0)
    h.register_hook(lambda g: seen.append(g.numpy().copy()))  # later hooks see the replaced gradient
    h.sum().backward()
    np.testing.assert_array_equal(seen[0], [10.0, 10.0])
    np.testing.assert_array_equal(h.grad.array, [10.0, 10.0])   # retain_grad keeps what the hooks made
    np.testing.assert_array_equal(x.grad.array, [30.0, 30.0])


def test_a_leaf_hook_runs_before_accumulation_into_grad():
    x = leaf([1.0, 2.0])
    (x * 2.0).sum().backward()
    seen = []

    def hook(g):
        seen.append((g.numpy().copy(), x.grad.numpy().copy()))
        return g * 0.5
    x.register_hook(hook)
    (x * 4.0).sum().backward()
    (g, grad_then), = seen
    np.testing.assert_array_equal(g, [4.0, 4.0])                 # this backward's gradient alone
    np.testing.assert_array_equal(grad_then, [2.0, 2.0])         # .grad not yet added to
    np.testing.assert_array_equal(x.grad.array, [2.0 + 2.0, 2.0 + 2.0])  # the halved gradient was added


def test_a_removed_hook_is_not_called_and_others_stay():
    x = leaf([1.0])
    calls = []
    first = x.register_hook(lambda g: calls.append("first"))
    x.register_hook(lambda g: calls.append("second"))
    first.remove()
    first.remove()                                          # removing twice is harmless
    (x * 2.0).sum().backward()
    assert calls == ["second"]


def test_a_hook_on_the_root_sees_the_starting_gradient():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    y.register_hook(lambda g: g * np.array([1.0, -1.0]))
    y.backward(np.array([3.0, 5.0]))
    np.testing.assert_array_equal(x.grad.array, [6.0, -10.0])


def test_hook_errors_name_the_problem():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        tinygan.tensor([1.0]).register_hook(print)
    x = leaf([1.0, 2.0])
    y = x * 2.0
    y.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match=r"hook '<lambda>' has changed the size of value: expected \(2,\), got \(\)"):
        y.sum().backward()


def test_tensors_keep_slots_and_start_without_hooks():
    t = leaf([1.0]) * 2.0
    assert not hasattr(t, "__dict__") and "_hooks" in Tensor.__slots__
    assert t._hooks is None and t.detach()._hooks is None


# ==================================================================================================
# detect_anomaly
# ==================================================================================================
def test_anomaly_in_forward_names_the_first_op_and_shapes():
    x = leaf([[-1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    with np.errstate(all="ignore"), tinygan.detect_anomaly():
        with pytest.raises(AnomalyError, match=r"^Log\.forward produced NaN or Inf \(input shapes: \(2, 3\)\)"):
            (x * 1.0).log().exp()                            # Log is first; Exp would also see NaN


def test_anomaly_names_all_input_shapes_of_a_binary_op():
    a, b = leaf(np.ones((2, 3))), leaf(np.zeros(3))
    with np.errstate(all="ignore"), tinygan.detect_anomaly():
        with pytest.raises(AnomalyError, match=r"Div\.forward .*\(2, 3\), \(3,\)"):
            a / b


def test_anomaly_in_backward_names_the_op():
    x = leaf([0.0, 4.0])
    with np.errstate(all="ignore"), tinygan.detect_anomaly():
        loss = (x.sqrt() * 2.0).sum()                       # forward is finite: sqrt(0) = 0
        with pytest.raises(AnomalyError, match=r"^Sqrt\.backward produced NaN or Inf \(input shapes: \(2,\)\)"):
            loss.backward()


def test_nans_flow_silently_outside_detect_anomaly():
    with tinygan.detect_anomaly():
        pass
    x = leaf([-1.0, 0.0])
    with np.errstate(all="ignore"):
        loss = (x.log() + x.sqrt()).sum()
        loss.backward()
    assert np.isnan(loss.item())
    assert not np.all(np.isfinite(x.grad.array))


def test_detect_anomaly_is_switched_off_after_an_error():
    with np.errstate(all="ignore"):
        with pytest.raises(AnomalyError):
            with tinygan.detect_anomaly():
                leaf([-1.0]).log()
        leaf([-1.0]).log()                                     # no raise outside


# ==================================================================================================
# Clear errors
# ==================================================================================================
def test_backward_on_non_scalar_needs_a_gradient():
    y = leaf([1.0, 2.0]) * 2.0
    with pytest.raises(RuntimeError, match=r"shape \(2,\) needs an explicit gradient"):
        y.backward()
    with pytest.raises(ValueError, match=r"gradient shape \(3,\) does not match tensor shape \(2,\)"):
        y.backward(np.ones(3))


def test_backward_through_a_tensor_not_requiring_grad():
    y = tinygan.tensor([1.0, 2.0]).sum()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    with tinygan.no_grad():
        z = (leaf([1.0]) * 2.0).sum()
    with pytest.raises(RuntimeError, match="no_grad"):
        z.backward()


def test_requires_grad_on_integer_tensor_is_refused():
    with pytest.raises(TypeError, match="only floating point tensors can require gradients, got dtype int64"):
        tinygan.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="floating point"):
        tinygan.arange(3).requires_grad_()


class _WrongShapeGrad(tinygan.Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy.sum(axis=0)


class _TooFewGrads(tinygan.Function):
    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy


def test_a_backward_returning_wrong_gradients_is_named():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"_WrongShapeGrad\.backward returned a gradient of shape \(3,\) "
                                           r"for input 0 of shape \(2, 3\)"):
        (_WrongShapeGrad.apply(x) * 1.0).sum().backward()
    with pytest.raises(RuntimeError, match=r"_TooFewGrads\.backward returned 1 gradients for 2 inputs"):
        _TooFewGrads.apply(x, x).sum().backward()


def test_unsupported_operand_type_is_named():
    with pytest.raises(TypeError, match="mul: unsupported operand of type str"):
        tinygan.ones(2) * "a"


@pytest.mark.gpu
def test_mixing_cpu_and_gpu_tensors_names_both_devices():
    if not tinygan.device_available("gpu"):
        pytest.skip("no GPU: CuPy or a CUDA device is missing")
    a, b = tinygan.ones(3, device="cpu"), tinygan.ones(3, device="gpu")
    with pytest.raises(RuntimeError, match=r"add: tensors are on different devices \(cpu and gpu\)"):
        a + b
    with pytest.raises(RuntimeError, match=r"mul: tensors are on different devices \(gpu and cpu\)"):
        b * a


# ==================================================================================================
# The Tensor API
# ==================================================================================================
def test_properties_and_conversions(device):
    t = tinygan.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=device)
    assert t.shape == (2, 3) and t.ndim == 2 and t.dtype == np.float32 and t.device == device
    assert len(t) == 2 and t.numel() == 6 and t.size() == (2, 3) and t.size(1) == 3
    assert isinstance(t.numpy(), np.ndarray)
    np.testing.assert_array_equal(t.numpy(), [[1, 2, 3], [4, 5, 6]])
    assert t.sum().item() == 21.0 and isinstance(t.sum().item(), float)
    assert t.to(device) is t
    assert t.to("cpu").device == "cpu"
    np.testing.assert_array_equal(t.to("cpu").numpy(), t.numpy())
    assert t.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_to_device_is_differentiable(device):
    x = leaf([1.0, 2.0])
    y = x.to(device)
    assert y.device == device
    (y * 3.0).sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_array_equal(x.grad.array, [3.0, 3.0])


def test_item_and_len_errors():
    with pytest.raises(ValueError, match=r"item\(\) needs a tensor with one element, got shape \(2,\)"):
        tinygan.ones(2).item()
    with pytest.raises(TypeError, match="0-d"):
        len(tinygan.tensor(1.0))


def test_python_floats_become_float32_and_arrays_keep_their_dtype():
    assert tinygan.tensor([1.5, 2.0]).dtype == np.float32
    assert tinygan.tensor(np.ones(2)).dtype == np.float64
    assert tinygan.tensor([1, 2]).dtype == np.int64
    assert tinygan.tensor([1, 2], dtype=tinygan.float32).dtype == np.float32


def test_tensor_copies_its_data():
    a = np.ones(3)
    t = tinygan.tensor(a)
    a[0] = 5.0
    assert t.array[0] == 1.0


def test_detach_shares_data_but_leaves_the_graph():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.array, y.array)
    assert y.grad_fn is not None and not y.is_leaf


def test_repr():
    x = tinygan.tensor([1.0, 2.5])
    assert repr(x) == "tensor([1. , 2.5])"
    assert "requires_grad=True" in repr(leaf([1.0]))
    assert "dtype=float64" in repr(leaf([1.0]))
    assert "grad_fn=<MulBackward>" in repr(leaf([1.0]) * leaf([2.0]))


def test_comparisons_return_tensors_without_grad():
    x = leaf([1.0, 2.0, 3.0])
    other = tinygan.tensor([2.0, 2.0, 2.0], dtype=np.float64)
    for result, expected in [(x < 2, [1, 0, 0]), (x <= 2, [1, 1, 0]), (x > other, [0, 0, 1]),
                             (x >= other, [0, 1, 1]), (x.eq(2.0), [0, 1, 0]), (x.ne(other), [1, 0, 1])]:
        assert isinstance(result, Tensor) and result.dtype == bool
        assert not result.requires_grad and result._ctx is None
        np.testing.assert_array_equal(result.array, np.array(expected, dtype=bool))
    np.testing.assert_array_equal((x == other).array, [False, True, False])   # == is elementwise, as PyTorch
    assert len({x, other, x}) == 2                            # tensors hash by identity: sets and dicts work


def test_bool_of_one_element_and_many():
    assert bool(tinygan.tensor([1.0]))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(tinygan.ones(2))


def test_reflected_operators():
    x = leaf([1.0, 2.0, 4.0])
    c = np.array([3.0, 5.0, 7.0])
    cases = [
        (lambda t: 2 - t, lambda a: 2 - a, lambda a: -np.ones_like(a)),
        (lambda t: 2 / t, lambda a: 2 / a, lambda a: -2 / a ** 2),
        (lambda t: 2 ** t, lambda a: 2 ** a, lambda a: 2 ** a * np.log(2)),
        (lambda t: 3 + t, lambda a: 3 + a, lambda a: np.ones_like(a)),
        (lambda t: 3 * t, lambda a: 3 * a, lambda a: np.full_like(a, 3)),
        (lambda t: c * t, lambda a: c * a, lambda a: c),
        (lambda t: c - t, lambda a: c - a, lambda a: -np.ones_like(a)),
        (lambda t: c / t, lambda a: c / a, lambda a: -c / a ** 2),
        (lambda t: c + t, lambda a: c + a, lambda a: np.ones_like(a)),
        (lambda t: c ** t, lambda a: c ** a, lambda a: c ** a * np.log(c)),
        (lambda t: -t, lambda a: -a, lambda a: -np.ones_like(a)),
        (lambda t: +t, lambda a: a, lambda a: np.ones_like(a)),
    ]
    for fn, forward, derivative in cases:
        x.grad = None
        y = fn(x)
        assert isinstance(y, Tensor)
        np.testing.assert_allclose(y.array, forward(x.array))
        y.sum().backward()
        np.testing.assert_allclose(x.grad.array, derivative(x.array))


def test_numpy_array_operand_is_cast_to_the_tensor_dtype():
    x = tinygan.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([1.0, 2.0]) * x                              # float64 array, float32 tensor
    assert isinstance(y, Tensor) and y.dtype == np.float32


def test_creation_functions(device):
    for t in (tinygan.zeros(2, 3, device=device), tinygan.ones((2, 3), device=device),
              tinygan.full((2, 3), 7.0, device=device), tinygan.randn(2, 3, device=device),
              tinygan.rand(2, 3, device=device)):
        assert t.shape == (2, 3) and t.dtype == np.float32 and t.device == device
    assert tinygan.zeros(2, requires_grad=True).requires_grad
    np.testing.assert_array_equal(tinygan.arange(4).numpy(), [0, 1, 2, 3])
    assert tinygan.arange(0.0, 1.0, 0.5).dtype == np.float32
    like = tinygan.ones_like(tinygan.zeros(2, dtype=np.float64))
    assert like.dtype == np.float64 and np.all(like.numpy() == 1)
    assert tinygan.zeros_like(like).shape == (2,) and tinygan.full_like(like, 3.0).numpy()[0] == 3.0
    assert tinygan.randn_like(like).dtype == np.float64 and tinygan.rand_like(like).shape == (2,)
    r = tinygan.rand(1000)
    assert float(r.numpy().min()) >= 0 and float(r.numpy().max()) < 1


def test_repr_after_backward_names_the_op_whose_graph_was_freed():
    x = tinygan.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum().tanh()
    assert "grad_fn=<TanhBackward>" in repr(y)
    y.backward()
    assert "grad_fn=<TanhBackward (freed)>" in repr(y) and repr(y.grad_fn) == "<Tanh (freed)>"


# ==================================================================================================
# In-place ops and versions: PyTorch's rules
# ==================================================================================================
def test_in_place_ops_change_the_tensor_and_views_see_it():
    x = tinygan.tensor([1.0, -2.0, 3.0])
    view = tinygan.Tensor.from_array(x.array[1:])
    x.add_(1).mul_(2).sub_(tinygan.tensor([0.0, 1.0, 2.0]), alpha=2).clamp_(-1, 5)
    np.testing.assert_array_equal(x.numpy(), [4.0, -1.0, 4.0])   # [2,-1,4] -> [4,-2,8] -> [4,-4,4] -> clamped
    np.testing.assert_array_equal(view.numpy(), [-1.0, 4.0])
    assert x.div_(2).pow_(2).fill_(7).zero_() is x and float(x.sum()) == 0.0


def test_in_place_on_a_leaf_that_requires_grad_is_refused_unless_under_no_grad():
    w = tinygan.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1)
    with tinygan.no_grad():
        w.add_(1)
    w.data.clamp_(0, 2.5)                                     # .data: autograd does not see it, as in PyTorch
    np.testing.assert_array_equal(w.detach().numpy(), [2.0, 2.5])


def test_a_backward_through_weights_changed_after_the_forward_raises_as_pytorch():
    tinygan.manual_seed(0)
    D = tinygan.nn.Linear(3, 1)
    opt = tinygan.optim.SGD(D.parameters(), lr=0.1)
    out = D(tinygan.randn(4, 3, requires_grad=True))
    loss = out.mean()
    loss.backward(retain_graph=True)
    opt.step()                                                # D's weight changed in place
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*Linear"):
        out.sum().backward()


def test_an_in_place_change_to_an_input_no_op_saved_is_allowed():
    x = tinygan.tensor([1.0, 2.0], requires_grad=True)
    b = tinygan.tensor([1.0, 1.0])
    y = (x + b).sum()                                        # Add keeps no input values
    b.add_(5)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_max_and_min_over_a_dim_give_values_and_indices():
    x = tinygan.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
    values, indices = x.max(1)
    np.testing.assert_array_equal(values.detach().numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    assert x.min(dim=0, keepdim=True).indices.shape == (1, 3)
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])
    assert x.max().item() == 7.0


def test_set_grad_enabled_as_call_context_and_decorator():
    x = tinygan.tensor([1.0], requires_grad=True)
    with tinygan.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad

    @tinygan.set_grad_enabled(False)
    def f():
        return (x * 2).requires_grad
    assert f() is False and (x * 2).requires_grad
    tinygan.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        tinygan.set_grad_enabled(True)

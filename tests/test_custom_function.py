"""PyTorch's custom ``autograd.Function`` (static forward/backward with a ctx) and walking ``grad_fn`` as PyTorch's
tutorials do (``next_functions``, ``AccumulateGrad``, ``name()``, node hooks)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygan
from tinygan.autograd import NoSecondDerivativeError

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
SHAPES = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


def make_functions(lib):
    """The tutorials' Functions, written once, for tinygan or torch (``lib``)."""

    class MyReLU(lib.autograd.Function):                 # jcjohnson/pytorch-examples, as written there
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            x, = ctx.saved_tensors
            grad_x = grad_output.clone()
            grad_x[x < 0] = 0
            return grad_x

    class LegendrePolynomial3(lib.autograd.Function):    # pytorch/tutorials polynomial_custom_function.py
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    return MyReLU, LegendrePolynomial3


MyReLU, LegendrePolynomial3 = make_functions(tinygan)


class ScaledProduct(tinygan.autograd.Function):
    """y = k * x * w with a non-Tensor k; backward written with differentiable ops (so it has a second derivative)."""

    @staticmethod
    def forward(ctx, x, k, w):
        ctx.save_for_backward(x, w)
        ctx.k = k
        return k * x * w

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        return gy * w * ctx.k, None, gy * x * ctx.k


class ProductAndSum(tinygan.autograd.Function):
    """Two outputs: (x * y, x + y)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y, x + y

    @staticmethod
    def backward(ctx, g_product, g_sum):
        x, y = ctx.saved_tensors
        return g_product * y + g_sum, g_product * x + g_sum


class Exp(tinygan.autograd.Function):
    """Saves its output (as the PyTorch docs' example)."""

    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        return gy * y


def leaf(shape, rng, dtype=np.float64):
    return tinygan.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)


# ==================================================================================================
# The tutorials' Functions run, and agree with torch
# ==================================================================================================
def test_myrelu_is_relu_and_is_tinygans_own_function_class():
    assert tinygan.Function is tinygan.autograd.Function
    x = tinygan.tensor([-2.0, -0.5, 0.5, 3.0], requires_grad=True)
    y = MyReLU.apply(x)
    assert y.requires_grad and not y.is_leaf and y.grad_fn.name() == "MyReLUBackward"
    assert "grad_fn=<MyReLUBackward>" in repr(y)
    np.testing.assert_array_equal(y.numpy(), [0, 0, 0.5, 3])
    (y * tinygan.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 3, 4])


def test_myrelu_two_layer_net_trains_as_in_torch():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 20)), rng.standard_normal((16, 3))
    w1, w2 = rng.standard_normal((20, 8)), rng.standard_normal((8, 3))
    losses = {}
    for lib in [tinygan] + ([torch] if torch else []):
        relu = make_functions(lib)[0]
        tx, ty = lib.tensor(x, dtype=lib.float32), lib.tensor(y, dtype=lib.float32)
        a = lib.tensor(w1, dtype=lib.float32, requires_grad=True)
        b = lib.tensor(w2, dtype=lib.float32, requires_grad=True)
        losses[lib.__name__] = []
        for _ in range(5):
            loss = (relu.apply(tx.mm(a)).mm(b) - ty).pow(2).sum()
            loss.backward()
            with lib.no_grad():
                a -= 1e-3 * a.grad
                b -= 1e-3 * b.grad
                a.grad.zero_()
                b.grad.zero_()
            losses[lib.__name__].append(loss.item())
    assert losses["tinygan"][-1] < losses["tinygan"][0]
    if torch:
        np.testing.assert_allclose(losses["tinygan"], losses["torch"], rtol=1e-4)


def test_legendre_polynomial_tutorial_fits_as_in_torch():
    xs = np.linspace(-math.pi, math.pi, 200)
    results = {}
    for lib in [tinygan] + ([torch] if torch else []):
        P3 = make_functions(lib)[1].apply
        x, y = lib.tensor(xs, dtype=lib.float32), lib.tensor(np.sin(xs), dtype=lib.float32)
        a, b, c, d = (lib.full((), v, dtype=lib.float32, requires_grad=True) for v in (0.0, -1.0, 0.0, 0.3))
        for _ in range(50):
            loss = (a + b * P3(c + d * x) - y).pow(2).sum()
            loss.backward()
            with lib.no_grad():
                for p in (a, b, c, d):
                    p -= 5e-5 * p.grad
                    p.grad = None
        results[lib.__name__] = [p.item() for p in (a, b, c, d)] + [loss.item()]
    assert results["tinygan"][-1] < 30
    if torch:
        np.testing.assert_allclose(results["tinygan"], results["torch"], rtol=1e-4, atol=1e-6)


# ==================================================================================================
# Gradients: finite differences, second derivatives, torch
# ==================================================================================================
@settings(max_examples=25, deadline=None)
@given(shape=SHAPES, k=st.floats(-2, 2), seed=st.integers(0, 2 ** 16))
def test_ctx_functions_pass_gradcheck_and_gradgradcheck(shape, k, seed):
    rng = np.random.default_rng(seed)
    x, w = leaf(shape, rng), leaf(shape, rng)
    assert tinygan.gradcheck(lambda x, w: ScaledProduct.apply(x, k, w), [x, w])
    assert tinygan.gradgradcheck(lambda x, w: ScaledProduct.apply(x, k, w), [x, w])
    assert tinygan.gradcheck(LegendrePolynomial3.apply, [x])
    assert tinygan.gradgradcheck(LegendrePolynomial3.apply, [x])
    assert tinygan.gradgradcheck(Exp.apply, [x])               # a saved output, in the graph again


@settings(max_examples=20, deadline=None)
@given(shape=SHAPES, seed=st.integers(0, 2 ** 16))
def test_several_outputs_pass_gradcheck_and_gradgradcheck(shape, seed):
    rng = np.random.default_rng(seed)
    x, y = leaf(shape, rng), leaf(shape, rng)
    u = tinygan.tensor(rng.standard_normal(shape))

    def f(x, y):
        product, total = ProductAndSum.apply(x, y)
        return product * u + total * total
    assert tinygan.gradcheck(f, [x, y])
    assert tinygan.gradgradcheck(f, [x, y])
    assert tinygan.gradcheck(lambda x, y: ProductAndSum.apply(x, y)[1], [x, y])   # one output unused


@needs_torch
def test_gradients_and_second_derivatives_agree_with_torch():
    rng = np.random.default_rng(1)
    xs, ws = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    legendre = make_functions(torch)[1]
    tx, tw = torch.tensor(xs, requires_grad=True), torch.tensor(ws, requires_grad=True)
    g, = torch.autograd.grad((legendre.apply(tx) * tw).sum(), tx, create_graph=True)
    (g * g).sum().backward()
    x, w = tinygan.tensor(xs, requires_grad=True), tinygan.tensor(ws, requires_grad=True)
    h, = tinygan.autograd.grad((LegendrePolynomial3.apply(x) * w).sum(), x, create_graph=True)
    (h * h).sum().backward()
    np.testing.assert_allclose(h.detach().numpy(), g.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-6)


def test_once_differentiable_gives_first_derivatives_and_refuses_second():
    class Cube(tinygan.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @tinygan.autograd.function.once_differentiable
        def backward(ctx, gy):
            x, = ctx.saved_tensors
            return tinygan.tensor(gy.numpy() * 3 * x.detach().numpy() ** 2)
    x = tinygan.tensor([1.0, 2.0], requires_grad=True)
    g, = tinygan.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [3, 12])
    with pytest.raises(NoSecondDerivativeError, match="Cube"):
        g.sum().backward()


# ==================================================================================================
# ctx: needs_input_grad, non-Tensor arguments, outputs, saved tensors
# ==================================================================================================
def test_needs_input_grad_in_forward_and_backward():
    seen = []

    class Record(tinygan.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale, y):
            seen.append(("forward", ctx.needs_input_grad, tinygan.is_grad_enabled()))
            return x * scale + y

        @staticmethod
        def backward(ctx, gy):
            seen.append(("backward", ctx.needs_input_grad, tinygan.is_grad_enabled()))
            return gy * 2 if ctx.needs_input_grad[0] else None, None, gy if ctx.needs_input_grad[2] else None
    x, y = tinygan.ones(2, requires_grad=True), tinygan.ones(2)
    Record.apply(x, 2.0, y).sum().backward()
    assert seen == [("forward", (True, False, False), False), ("backward", (True, False, False), False)]
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2])
    seen.clear()
    with tinygan.no_grad():
        out = Record.apply(x, 2.0, y)
    assert not out.requires_grad and out.grad_fn is None and seen == [("forward", (False, False, False), False)]


def test_ctx_keeps_attributes_and_non_tensor_arguments():
    x, w = tinygan.tensor([1.0, 2.0], requires_grad=True), tinygan.tensor([3.0, 4.0], requires_grad=True)
    ScaledProduct.apply(x, 0.5, w).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.5, 2.0])
    np.testing.assert_allclose(w.grad.numpy(), [0.5, 1.0])


def test_several_outputs_materialize_zeros_or_give_none():
    got = []

    def make(materialize):
        class Two(tinygan.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(materialize)
                return x * 1, x * 2

            @staticmethod
            def backward(ctx, g1, g2):
                got.append((None if g1 is None else g1.numpy().tolist(), g2.numpy().tolist()))
                return g2 * 2
        return Two
    for materialize in (True, False):
        x = tinygan.ones(2, requires_grad=True)
        a, b = make(materialize).apply(x)
        assert a.grad_fn.name() == b.grad_fn.name() == "TwoBackward" and "grad_fn=<TwoBackward>" in repr(a)
        b.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [2, 2])
    assert got == [([0.0, 0.0], [1.0, 1.0]), (None, [1.0, 1.0])]


def test_mark_non_differentiable_outputs_get_no_gradient():
    class MaxWithIndex(tinygan.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            value, index = x.max(0)
            ctx.mark_non_differentiable(index)
            ctx.save_for_backward(x, index)
            return value, index

        @staticmethod
        def backward(ctx, g_value, g_index):
            x, index = ctx.saved_tensors
            assert g_index.dtype == index.dtype and float(g_index) == 0
            g = tinygan.zeros_like(x)
            g[int(index)] = g_value
            return g
    x = tinygan.tensor([1.0, 5.0, 2.0], requires_grad=True)
    value, index = MaxWithIndex.apply(x)
    assert value.requires_grad and not index.requires_grad and index.grad_fn is None and int(index) == 1
    assert value.grad_fn.name() == "MaxWithIndexBackward" and value.grad_fn.saved_tensors[0] is x
    value.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 0])


def test_an_input_returned_as_it_is_comes_back_as_a_new_tensor():
    class Identity(tinygan.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, gy):
            return gy * 3
    x = tinygan.ones(2, requires_grad=True)
    y = Identity.apply(x)
    assert y is not x and x.is_leaf and y.grad_fn.name() == "IdentityBackward"
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3, 3])


@pytest.mark.parametrize("change", ["input", "output"])
def test_a_saved_tensor_changed_in_place_makes_backward_raise(change):
    x = tinygan.tensor([1.0, 2.0], requires_grad=True) * 1
    y = (MyReLU if change == "input" else Exp).apply(x)
    with tinygan.no_grad():
        (x if change == "input" else y).add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*is at version 1; expected version 0"):
        y.sum().backward()


@pytest.mark.parametrize("returned, message", [
    (lambda gy: gy, r"incorrect number of gradients \(expected 2, got 1\)"),
    (lambda gy: (gy, gy, gy), r"incorrect number of gradients \(expected 2, got 3\)"),
    (lambda gy: (gy, gy), "gradient different than None at position 2, but the corresponding forward input was "
                          "not a Tensor"),
    (lambda gy: (gy.sum(), None), r"invalid gradient at index 0 - got \[\] but expected shape compatible with \[2\]"),
    (lambda gy: (gy.numpy(), None), "returned a ndarray as a gradient: expected a Tensor or None"),
])
def test_wrong_gradients_from_backward_raise_pytorchs_errors(returned, message):
    class Bad(tinygan.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, gy):
            return returned(gy)
    x = tinygan.ones(2, requires_grad=True)
    with pytest.raises((RuntimeError, TypeError), match=message):
        Bad.apply(x, 2.0).sum().backward()


def test_extra_none_gradients_are_accepted_and_broadcast_gradients_summed():
    class Broadcasting(tinygan.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, gy):
            return gy.expand(3, 2), None, None                 # summed to x's shape, as PyTorch does
    x = tinygan.ones(2, requires_grad=True)
    Broadcasting.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3, 3])


def test_mark_dirty_says_it_is_not_supported():
    class InPlace(tinygan.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, gy):
            return gy
    with pytest.raises(NotImplementedError, match="InPlace: ctx.mark_dirty"):
        InPlace.apply(tinygan.ones(2, requires_grad=True) * 1)
    with pytest.raises(RuntimeError, match=r"call a custom Function as InPlace.apply\(...\)"):
        InPlace()(tinygan.ones(2))


def test_setup_context_form():
    class Square(tinygan.autograd.Function):
        @staticmethod
        def forward(x, power):
            return x ** power

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, power = inputs
            ctx.save_for_backward(x)
            ctx.power = power

        @staticmethod
        def backward(ctx, gy):
            x, = ctx.saved_tensors
            return gy * ctx.power * x ** (ctx.power - 1), None
    x = tinygan.tensor([1.0, 2.0, 3.0], dtype=tinygan.float64, requires_grad=True)
    assert tinygan.gradcheck(lambda x: Square.apply(x, 3), [x])
    assert tinygan.gradgradcheck(lambda x: Square.apply(x, 3), [x])


def test_tinygans_own_function_form_still_works_through_autograd_function():
    class Double(tinygan.autograd.Function):
        def forward(self, x):
            return 2 * x

        def backward(self, gy):
            return 2 * gy
    x = tinygan.ones(2, requires_grad=True)
    y = Double.apply(x)
    assert type(y.grad_fn) is Double and y.grad_fn.name() == "DoubleBackward0"
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2])


def test_myrelu_on_the_gpu_stand_in(standin):
    x = tinygan.tensor([-1.0, 2.0], device="gpu", requires_grad=True)
    MyReLU.apply(x).sum().backward()
    assert x.grad.device == "gpu"
    np.testing.assert_array_equal(tinygan.backend.asnumpy(x.grad.array), [0, 1])


# ==================================================================================================
# grad_fn walking: next_functions, AccumulateGrad, name(), hooks
# ==================================================================================================
def walk(fn):
    """The leaves (AccumulateGrad variables) and the number of (None, 0) entries below ``fn``, each node once."""
    leaves, nones, seen, stack = [], 0, {}, [fn]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node                              # held, so that no later node reuses its id
        if hasattr(node, "variable"):
            leaves.append(node.variable)
        for next_node, index in node.next_functions:
            assert index == 0
            if next_node is None:
                nones += 1
            else:
                stack.append(next_node)
    return leaves, nones


def small_mlp(lib):
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2))
    x, y = lib.randn(5, 3), lib.randn(5, 2)
    return model, lib.nn.MSELoss()(model(x), y)


def test_next_functions_walk_reaches_every_parameter_of_an_mlp_once():
    model, loss = small_mlp(tinygan)
    assert loss.grad_fn.name() == "MSEBackward0"
    first = loss.grad_fn.next_functions[0][0]
    assert first.name() == "LinearBackward0" and first.next_functions[0][0].name() == "ReLUBackward0"
    assert loss.grad_fn.next_functions[1] == (None, 0)          # the target needs no gradient
    leaves, nones = walk(loss.grad_fn)
    assert sorted(map(id, leaves)) == sorted(map(id, model.parameters())) and nones == 2
    weight = model[2].weight
    node = next(n for n, _ in first.next_functions if getattr(n, "variable", None) is weight)
    assert node.name() == "AccumulateGrad" and node.next_functions == ()
    assert node is (weight * 2).grad_fn.next_functions[0][0]   # one AccumulateGrad per leaf


@needs_torch
def test_next_functions_walk_has_torchs_leaves_and_nones():
    model, loss = small_mlp(tinygan)
    torch_model, torch_loss = small_mlp(torch)
    ours, our_nones = walk(loss.grad_fn)
    theirs, their_nones = walk(torch_loss.grad_fn)
    shapes = sorted(tuple(p.shape) for p in ours)
    assert shapes == sorted(tuple(p.shape) for p in theirs) and our_nones == their_nones
    names = {n: [p.shape for p in m.parameters()] for n, m in [("ours", model), ("theirs", torch_model)]}
    assert [tuple(s) for s in names["ours"]] == [tuple(s) for s in names["theirs"]]


def test_a_custom_functions_node_walks_to_its_tensor_inputs():
    x, w = tinygan.ones(2, requires_grad=True), tinygan.ones(2)
    y = ScaledProduct.apply(x * x, 3.0, w)
    (mul, index), (none, _) = y.grad_fn.next_functions
    assert mul.name() == "MulBackward0" and index == 0 and none is None
    product, total = ProductAndSum.apply(x, x)
    assert (product * total).grad_fn.next_functions[1][0].name() == "ProductAndSumBackward"
    assert [i for _, i in (product * total).grad_fn.next_functions] == [0, 1]


def test_node_hooks_see_and_change_the_gradients():
    x = tinygan.tensor([1.0, 2.0], dtype=tinygan.float64, requires_grad=True)
    y = (x * 3).tanh()
    seen = []
    y.grad_fn.register_prehook(lambda grad_outputs: tuple(g * 2 for g in grad_outputs))
    handle = y.grad_fn.next_functions[0][0].register_hook(
        lambda grad_inputs, grad_outputs: seen.append((len(grad_inputs), len(grad_outputs))))
    y.grad_fn.metadata["note"] = "kept"
    assert y.grad_fn.metadata == {"note": "kept"}
    y.sum().backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * (1 - np.tanh([3.0, 6.0]) ** 2), rtol=1e-6)
    assert seen == [(1, 1)]
    handle.remove()
    y.sum().backward()
    assert seen == [(1, 1)]

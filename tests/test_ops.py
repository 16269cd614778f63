"""Every differentiable op: forward against plain NumPy, float64 gradcheck over hypothesis-drawn shapes and
values, and the invariants every backward must keep (grad shapes, nothing mutated, no shared grad memory).

Points are kept away from kinks (relu at 0, clamp at its bounds, ties in max/min) so that finite
differences measure the derivative the op defines.
"""
import itertools
import operator

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import assume, given

import tinygan
import tinygan.functional as F
from tinygan import Tensor, gradcheck

# ==================================================================================================
# Helpers
# ==================================================================================================
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
ND_SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def values_of(out):
    """A reduction's result tensor: max/min over one dim give PyTorch's (values, indices)."""
    return out.values if isinstance(out, tuple) else out


def floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64)


def arrays(shape, lo=-3.0, hi=3.0):
    return hnp.arrays(np.float64, shape, elements=floats(lo, hi))


def away_from(x, *points, gap=1e-3):
    """True when no element of x lies within ``gap`` of any of ``points``."""
    return all(np.all(np.abs(np.asarray(x) - p) > gap) for p in points)


def no_ties(x, gap=1e-3):
    """True when all elements of x differ pairwise by more than ``gap`` (max/min have a unique argmax)."""
    flat = np.sort(np.asarray(x).ravel())
    return flat.size < 2 or bool(np.diff(flat).min() > gap)


def check_op(fn, ref, *arrays_, atol=1e-10, **gradcheck_kwargs):
    """The whole contract of an op, on float64 inputs that all require grad.

    forward == NumPy reference; backward with a random upstream gradient leaves inputs and gradient untouched,
    gives each input a grad of its shape and dtype in memory of its own; and gradcheck agrees.
    """
    inputs = [tinygan.tensor(a, dtype=np.float64, requires_grad=True) for a in arrays_]
    originals = [a.copy() for a in arrays_]
    y = fn(*inputs)
    expected = ref(*arrays_)
    assert y.shape == np.shape(expected), f"shape {y.shape} != NumPy's {np.shape(expected)}"
    np.testing.assert_allclose(y.array, expected, rtol=1e-7, atol=atol)
    assert y.dtype == np.float64

    gy = np.random.default_rng(1).standard_normal(y.shape)
    gy_copy = gy.copy()
    y.backward(gy)
    np.testing.assert_array_equal(gy, gy_copy, err_msg="backward mutated the upstream gradient")
    for t, a, original in zip(inputs, arrays_, originals):
        np.testing.assert_array_equal(t.array, original, err_msg="an op mutated its input")
        np.testing.assert_array_equal(a, original, err_msg="an op mutated the caller's array")
        assert t.grad is not None and t.grad.shape == t.shape and t.grad.dtype == t.dtype
        assert not np.shares_memory(t.grad.array, gy)
        assert not np.shares_memory(t.grad.array, t.array)
    for s, t in itertools.combinations(inputs, 2):
        assert not np.shares_memory(s.grad.array, t.grad.array), "two input grads share memory"

    for t in inputs:
        t.grad = None
    assert gradcheck(fn, inputs, **gradcheck_kwargs)


# ==================================================================================================
# Elementwise unary ops: one table, one test
# ==================================================================================================
def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# name: (tinygan function, NumPy reference, (lo, hi) domain, kinks to stay away from)
UNARY = {
    "neg": (lambda x: -x, np.negative, (-3, 3), ()),
    "exp": (tinygan.exp, np.exp, (-4, 4), ()),
    "exp_method": (lambda x: x.exp(), np.exp, (-4, 4), ()),
    "log": (tinygan.log, np.log, (0.05, 5), ()),
    "sqrt": (tinygan.sqrt, np.sqrt, (0.05, 5), ()),
    "abs": (tinygan.abs, np.abs, (-3, 3), (0,)),
    "abs_builtin": (lambda x: abs(x), np.abs, (-3, 3), (0,)),
    "clamp": (lambda x: x.clamp(-0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), (-2, 2), (-0.5, 0.7)),
    "clamp_min": (lambda x: tinygan.clamp(x, min=0.3), lambda x: np.maximum(x, 0.3), (-2, 2), (0.3,)),
    "clamp_max": (lambda x: x.clamp(max=-0.2), lambda x: np.minimum(x, -0.2), (-2, 2), (-0.2,)),
    "tanh": (tinygan.tanh, np.tanh, (-4, 4), ()),
    "sigmoid": (tinygan.sigmoid, _sigmoid, (-6, 6), ()),
    "relu": (tinygan.relu, lambda x: np.maximum(x, 0), (-3, 3), (0,)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x), (-3, 3), (0,)),
    "leaky_relu_default": (lambda x: x.leaky_relu(), lambda x: np.where(x > 0, x, 0.01 * x), (-3, 3), (0,)),
    # LeakyReLU's branch-free forms: max(x, a x) for a <= 1 (negative a too), min(x, a x) for a > 1
    "leaky_relu_steep": (lambda x: F.leaky_relu(x, 1.5), lambda x: np.where(x > 0, x, 1.5 * x), (-3, 3), (0,)),
    "leaky_relu_negative_slope": (lambda x: F.leaky_relu(x, -0.3), lambda x: np.where(x > 0, x, -0.3 * x),
                                  (-3, 3), (0,)),
    "leaky_relu_zero_slope": (lambda x: F.leaky_relu(x, 0.0), lambda x: np.maximum(x, 0), (-3, 3), (0,)),
    "leaky_relu_unit_slope": (lambda x: F.leaky_relu(x, 1.0), lambda x: x, (-3, 3), (0,)),
    "softplus": (tinygan.softplus, lambda x: np.log1p(np.exp(x)), (-6, 6), ()),
    # scalar variants of the binary operators
    "add_scalar": (lambda x: x + 2.5, lambda x: x + 2.5, (-3, 3), ()),
    "radd_scalar": (lambda x: 2.5 + x, lambda x: 2.5 + x, (-3, 3), ()),
    "sub_scalar": (lambda x: x - 1.5, lambda x: x - 1.5, (-3, 3), ()),
    "rsub_scalar": (lambda x: 1.5 - x, lambda x: 1.5 - x, (-3, 3), ()),
    "mul_scalar": (lambda x: x * -1.7, lambda x: x * -1.7, (-3, 3), ()),
    "rmul_scalar": (lambda x: 3 * x, lambda x: 3 * x, (-3, 3), ()),
    "div_scalar": (lambda x: x / 1.3, lambda x: x / 1.3, (-3, 3), ()),
    "rdiv_scalar": (lambda x: 1.3 / x, lambda x: 1.3 / x, (0.2, 3), ()),
    "rdiv_scalar_negative": (lambda x: 2 / x, lambda x: 2 / x, (-3, -0.2), ()),
    "pow_2": (lambda x: x ** 2, lambda x: x ** 2, (-3, 3), ()),
    "pow_3": (lambda x: x ** 3, lambda x: x ** 3, (-3, 3), ()),
    "pow_half": (lambda x: x ** 0.5, np.sqrt, (0.05, 5), ()),
    "pow_negative": (lambda x: x ** -1.5, lambda x: x ** -1.5, (0.2, 4), ()),
    "rpow_scalar": (lambda x: 2.0 ** x, lambda x: 2.0 ** x, (-3, 3), ()),
    "rpow_scalar_e": (lambda x: 0.5 ** x, lambda x: 0.5 ** x, (-3, 3), ()),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary(name, data):
    fn, ref, (lo, hi), kinks = UNARY[name]
    x = data.draw(arrays(SHAPES, lo, hi), label="x")
    assume(away_from(x, *kinks))
    check_op(fn, ref, x)


@given(x=arrays(SHAPES, -3, 3))
def test_cast_roundtrip_through_float32(x):
    """to(float32) then back to float64: the values are rounded, the gradient is passed back unchanged."""
    fn = lambda t: t.to(dtype=np.float32).to(dtype=np.float64) * 2.0  # noqa: E731
    check_op(fn, lambda a: a.astype(np.float32).astype(np.float64) * 2.0, x,
             eps=1e-3, atol=1e-3, rtol=1e-2)


def test_cast_backward_returns_the_input_dtype():
    """Unit test of the Function itself: the leaf's final cast would hide a wrong intermediate dtype."""
    from tinygan.ops.elementwise import Cast
    fn = Cast(dtype=np.float32)
    y = fn.forward(np.array([1.0, 2.0]))
    assert y.dtype == np.float32
    assert fn.backward(np.ones(2, dtype=np.float32)).dtype == np.float64


def test_cast_gradient_dtype():
    x = tinygan.tensor([1.5, -2.0], dtype=np.float64, requires_grad=True)
    y = x.to(dtype=np.float32)
    assert y.dtype == np.float32 and y.requires_grad
    (y * 3.0).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.array, [3.0, 3.0])
    assert x.float().dtype == np.float32 and y.double().dtype == np.float64
    assert x.to(dtype=np.float64) is x                               # nothing to do: no new node


# ==================================================================================================
# Binary ops with broadcasting
# ==================================================================================================
BINARY = {
    "add": (lambda a, b: a + b, np.add, (-3, 3), (-3, 3)),
    "sub": (lambda a, b: a - b, np.subtract, (-3, 3), (-3, 3)),
    "mul": (lambda a, b: a * b, np.multiply, (-3, 3), (-3, 3)),
    "div": (lambda a, b: a / b, np.divide, (-3, 3), (0.3, 3)),
    "div_negative": (lambda a, b: a / b, np.divide, (-3, 3), (-3, -0.3)),
    "pow": (lambda a, b: a ** b, np.power, (0.3, 3), (-2, 2)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_broadcasting(name, data):
    fn, ref, a_range, b_range = BINARY[name]
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4))
    a_shape, b_shape = shapes.input_shapes
    a = data.draw(arrays(a_shape, *a_range), label="a")
    b = data.draw(arrays(b_shape, *b_range), label="b")
    check_op(fn, ref, a, b)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@given(data=st.data())
def test_binary_with_constant_array_operand(op, data):
    """x (op) numpy_array and numpy_array (op) x both work, and the array gets no grad."""
    a_shape, b_shape = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3,
                                                                    max_side=4)).input_shapes
    a = data.draw(arrays(a_shape, 0.3, 3), label="a")
    c = data.draw(arrays(b_shape, 0.3, 3), label="c")
    forward = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}[op]
    check_op(lambda x: forward(x, c), lambda x: forward(x, c), a)   # Tensor.__add__(ndarray)
    check_op(lambda x: forward(c, x), lambda x: forward(c, x), a)   # ndarray.__add__ defers to __radd__


@given(data=st.data())
def test_pow_with_constant_array_exponent_and_base(data):
    a = data.draw(arrays(ND_SHAPES, 0.3, 3), label="a")
    c = data.draw(arrays(a.shape, -2, 2), label="c")
    check_op(lambda x: x ** c, lambda x: x ** c, a)
    check_op(lambda x: np.abs(c) + 0.5 ** x, lambda x: np.abs(c) + 0.5 ** x, a)


# ==================================================================================================
# matmul: 1-D, 2-D and batched operands with broadcast batch axes
# ==================================================================================================
@st.composite
def matmul_shapes(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    a_nd, b_nd = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2,
                                                              max_side=3)).input_shapes
    # keep the trailing batch dims: broadcasting aligns shapes on the right, so suffixes of mutually
    # broadcastable shapes still broadcast (prefixes need not: (2, 1) and (3,) do, (2,) and (3,) do not)
    a_shape = (k,) if a_nd == 1 else batch_a[max(0, len(batch_a) - (a_nd - 2)):] + (n, k)
    b_shape = (k,) if b_nd == 1 else batch_b[max(0, len(batch_b) - (b_nd - 2)):] + (k, m)
    return a_shape, b_shape


@given(shapes=matmul_shapes(), data=st.data())
def test_matmul(shapes, data):
    a_shape, b_shape = shapes
    a = data.draw(arrays(a_shape), label="a")
    b = data.draw(arrays(b_shape), label="b")
    check_op(lambda x, w: x @ w, np.matmul, a, b)


def test_matmul_with_constant_operands():
    a = np.arange(6.0).reshape(2, 3)
    w = tinygan.tensor(np.ones((3, 2)), dtype=np.float64, requires_grad=True)
    np.testing.assert_allclose((a @ w).array, a @ np.ones((3, 2)))         # __rmatmul__
    (a @ w).sum().backward()
    np.testing.assert_allclose(w.grad.array, a.sum(0)[:, None] * np.ones((3, 2)))


# ==================================================================================================
# Reductions
# ==================================================================================================
@st.composite
def reduce_case(draw, lo=-3, hi=3, unique=False):
    shape = draw(ND_SHAPES)
    ndim = len(shape)
    dim = draw(st.none() | st.integers(-ndim, ndim - 1)
               | st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple))
    keepdim = draw(st.booleans())
    x = draw(arrays(shape, lo, hi))
    return x, dim, keepdim


def _np_axis(dim):
    return tuple(dim) if isinstance(dim, (tuple, list)) else dim


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@given(case=reduce_case())
def test_reduction(name, case):
    x, dim, keepdim = case
    if name in ("max", "min"):
        assume(no_ties_per_group(x, dim))
    fn = lambda t: values_of(getattr(t, name)(dim=dim, keepdim=keepdim))  # noqa: E731
    ref = lambda a: getattr(np, name)(a, axis=_np_axis(dim), keepdims=keepdim)  # noqa: E731
    check_op(fn, ref, x)


def _axes(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    dims = dim if isinstance(dim, tuple) else (dim,)
    return tuple(sorted(d % ndim for d in dims))


def no_ties_per_group(x, dim):
    """No two elements reduced into the same output are within 1e-3 of each other."""
    axes = _axes(dim, x.ndim)
    moved = np.moveaxis(x, axes, range(-len(axes), 0))               # reduced axes last
    groups = moved.reshape(-1, int(np.prod([x.shape[a] for a in axes], dtype=int)))  # (outputs, reduced)
    return all(no_ties(g) for g in groups)


@pytest.mark.parametrize("unbiased", [True, False])
@given(case=reduce_case())
def test_var(unbiased, case):
    x, dim, keepdim = case
    n = int(np.prod([x.shape[a] for a in _axes(dim, x.ndim)], dtype=int))
    assume(n >= 2)
    check_op(lambda t: t.var(dim=dim, keepdim=keepdim, unbiased=unbiased),
             lambda a: np.var(a, axis=_np_axis(dim), keepdims=keepdim, ddof=1 if unbiased else 0), x)


def test_max_splits_gradient_between_ties():
    x = tinygan.tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.array, [0, 0.5, 0.5, 0])


def test_reductions_on_a_0d_tensor():
    x = tinygan.tensor(2.0, requires_grad=True)
    for name in ("sum", "mean", "max", "min"):
        assert values_of(getattr(x, name)(dim=0)).item() == 2.0
    x.sum(dim=-1).backward()
    assert x.grad.item() == 1.0
    with pytest.raises(IndexError, match="out of range"):
        x.sum(dim=1)


def test_reduction_dim_out_of_range_is_a_clear_error():
    with pytest.raises(IndexError, match="dimension 2 is out of range for a tensor with 2 dimensions"):
        tinygan.ones(2, 3).sum(dim=2)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(data=st.data())
def test_softmax_family(name, data):
    x = data.draw(arrays(ND_SHAPES, -5, 5), label="x")
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")

    def ref(a):
        shifted = a - a.max(axis=dim, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
        return log_p if name == "log_softmax" else np.exp(log_p)

    check_op(lambda t: getattr(F, name)(t, dim=dim), ref, x)
    check_op(lambda t: getattr(t, name)(dim), ref, x)


def test_softmax_is_stable_for_large_inputs():
    x = tinygan.tensor([1000.0, 0.0, -1000.0])
    np.testing.assert_allclose(x.softmax().array, [1, 0, 0])
    np.testing.assert_allclose(x.log_softmax().array, [0, -1000, -2000])


# ==================================================================================================
# Shape ops
# ==================================================================================================
@given(data=st.data())
def test_reshape_and_view(data):
    x = data.draw(arrays(SHAPES), label="x")
    target = data.draw(st.permutations(x.shape).map(tuple) | st.just((-1,)) | st.just((x.size, 1)), label="shape")
    check_op(lambda t: t.reshape(target), lambda a: a.reshape(target), x)
    check_op(lambda t: t.view(*target) * 1.0, lambda a: a.reshape(target), x)


@given(data=st.data())
def test_flatten(data):
    x = data.draw(arrays(ND_SHAPES), label="x")
    start = data.draw(st.integers(0, x.ndim - 1), label="start")
    end = data.draw(st.integers(start, x.ndim - 1), label="end")
    expected_shape = x.shape[:start] + (int(np.prod(x.shape[start:end + 1])),) + x.shape[end + 1:]
    check_op(lambda t: t.flatten(start, end) * 1.0, lambda a: a.reshape(expected_shape), x)


@given(data=st.data())
def test_transpose_permute_T(data):
    # sides >= 2 and up to 4 axes: with size-1 axes or only 2 axes a wrong inverse permutation can go unseen
    x = data.draw(arrays(hnp.array_shapes(min_dims=2, max_dims=4, min_side=2, max_side=3)), label="x")
    perm = data.draw(st.permutations(range(x.ndim)).map(tuple), label="perm")
    d0, d1 = data.draw(st.integers(-x.ndim, x.ndim - 1)), data.draw(st.integers(-x.ndim, x.ndim - 1))
    check_op(lambda t: t.permute(perm), lambda a: a.transpose(perm), x)
    check_op(lambda t: t.permute(*perm) * 1.0, lambda a: a.transpose(perm), x)
    check_op(lambda t: t.transpose(d0, d1), lambda a: np.swapaxes(a, d0, d1), x)
    check_op(lambda t: t.T, lambda a: a.T, x)


@given(data=st.data())
def test_squeeze_unsqueeze(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3), label="shape")
    x = data.draw(arrays(shape), label="x")
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
    new = data.draw(st.integers(-x.ndim - 1, x.ndim), label="new")
    check_op(lambda t: t.squeeze() * 1.0, np.squeeze, x)
    squeezed = x.shape[:dim % x.ndim] + x.shape[dim % x.ndim + 1:] if x.shape[dim] == 1 else x.shape
    check_op(lambda t: t.squeeze(dim) * 1.0, lambda a: a.reshape(squeezed), x)
    check_op(lambda t: t.unsqueeze(new), lambda a: np.expand_dims(a, new), x)


@given(data=st.data())
def test_cat(data):
    base = data.draw(ND_SHAPES, label="shape")
    dim = data.draw(st.integers(-len(base), len(base) - 1), label="dim")
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3), label="sizes")
    xs = [data.draw(arrays(base[:dim % len(base)] + (n,) + base[dim % len(base) + 1:])) for n in sizes]
    check_op(lambda *ts: tinygan.cat(ts, dim=dim), lambda *a: np.concatenate(a, axis=dim), *xs)


@given(data=st.data())
def test_stack(data):
    shape = data.draw(SHAPES, label="shape")
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)), label="dim")
    count = data.draw(st.integers(1, 3), label="count")
    xs = [data.draw(arrays(shape)) for _ in range(count)]
    check_op(lambda *ts: tinygan.stack(list(ts), dim=dim), lambda *a: np.stack(a, axis=dim), *xs)


@given(data=st.data())
def test_expand_and_broadcast_to(data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4))
    x_shape, target = shapes.input_shapes[0], shapes.result_shape
    x = data.draw(arrays(x_shape), label="x")
    check_op(lambda t: t.broadcast_to(target), lambda a: np.broadcast_to(a, target), x)
    # expand with -1 keeping an existing axis, as torch allows
    minus = tuple(-1 if i >= len(target) - len(x_shape) and x_shape[i - len(target) + len(x_shape)] == n
                  else n for i, n in enumerate(target))
    check_op(lambda t: t.expand(*minus), lambda a: np.broadcast_to(a, target), x)


@st.composite
def index_case(draw):
    shape = draw(ND_SHAPES)
    n0 = shape[0]
    kinds = [
        st.integers(-n0, n0 - 1),                                                   # x[i]
        st.builds(slice, st.none() | st.integers(-n0, n0), st.none() | st.integers(-n0, n0),
                  st.none() | st.sampled_from([1, 2, -1])),                          # x[a:b:c]
        st.lists(st.integers(-n0, n0 - 1), min_size=1, max_size=6).map(np.array),  # x[[i, i, j]] repeats
        st.just(Ellipsis),
    ]
    index = draw(st.one_of(kinds))
    if len(shape) > 1 and draw(st.booleans()):
        n1 = shape[1]
        second = draw(st.one_of(st.integers(-n1, n1 - 1), st.just(slice(1, 3)),
                                st.lists(st.integers(0, n1 - 1), min_size=1, max_size=4).map(np.array)))
        if isinstance(index, np.ndarray) and isinstance(second, np.ndarray):
            second = np.resize(second, index.shape)                 # paired integer arrays: x[[i, j], [k, l]]
        index = (slice(None), second) if index is Ellipsis or draw(st.booleans()) else (index, second)
    return draw(arrays(shape)), index


@given(case=index_case())
def test_getitem(case):
    x, index = case
    assume(np.asarray(x[index]).size > 0)
    check_op(lambda t: t[index] * 1.0, lambda a: a[index] * 1.0, x)


def test_getitem_repeated_indices_accumulate():
    x = tinygan.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.array, [3, 0, 1])
    y = tinygan.tensor(np.zeros((2, 3)), requires_grad=True)
    y[:, tinygan.tensor([1, 1])].sum().backward()                  # a tensor of indices works too
    np.testing.assert_array_equal(y.grad.array, [[0, 2, 0], [0, 2, 0]])


# ==================================================================================================
# Full-mode gradcheck on a few small fixed cases (the per-element Jacobian a reader can follow)
# ==================================================================================================
@pytest.mark.parametrize("fn, shapes", [
    (lambda a, b: (a * b + a / (b * b + 1)).tanh(), [(2, 3), (3,)]),
    (lambda a, b: (a @ b).sigmoid().log_softmax(dim=0), [(2, 3), (3, 2)]),
    (lambda a, b: tinygan.cat([a, b.T], dim=0).softplus().var(dim=1), [(2, 3), (3, 1)]),
    (lambda a, b: a[[0, 0, 1]].exp().sum(0) * b.reshape(3).sqrt(), [(2, 3), (1, 3)]),
])
def test_full_mode_on_compositions(fn, shapes):
    rng = np.random.default_rng(3)
    inputs = [tinygan.tensor(rng.uniform(0.5, 1.5, s), dtype=np.float64, requires_grad=True) for s in shapes]
    assert gradcheck(fn, inputs, mode="full")
    assert gradcheck(fn, inputs, mode="directional")


# ==================================================================================================
# float32 stays float32 through every op, Python scalars included
# ==================================================================================================
FLOAT32_OPS = {
    **{name: spec[0] for name, spec in UNARY.items()},
    "add": lambda x: x + x.detach() * 0.5,
    "div": lambda x: x / (x.detach().abs() + 1.0),
    "pow_tensor": lambda x: x.abs() ** (x.detach() * 0.1),
    "matmul": lambda x: x @ x.T,
    "sum": lambda x: x.sum(dim=0),
    "mean": lambda x: x.mean(dim=1, keepdim=True),
    "max": lambda x: x.max(dim=0).values,
    "min": lambda x: x.min(),
    "var": lambda x: x.var(dim=1),
    "softmax": lambda x: x.softmax(dim=1),
    "log_softmax": lambda x: x.log_softmax(dim=0),
    "reshape": lambda x: x.reshape(3, 2),
    "flatten": lambda x: x.flatten(),
    "permute": lambda x: x.permute(1, 0),
    "squeeze": lambda x: x.unsqueeze(0).squeeze(0),
    "cat": lambda x: tinygan.cat([x, x], dim=1),
    "stack": lambda x: tinygan.stack([x, x]),
    "expand": lambda x: x.unsqueeze(0).expand(4, 2, 3),
    "getitem": lambda x: x[:, [0, 0, 2]],
    "clamp_numpy_scalar": lambda x: x.clamp(np.float64(-0.5), np.float64(0.5)),
    "leaky_numpy_scalar": lambda x: x.leaky_relu(np.float64(0.1)),
    "mul_numpy_scalar": lambda x: x * np.float64(3.0) + np.float64(1.0),
    "mul_numpy_array": lambda x: x * np.ones(3) - np.ones((2, 3)),
    "div_numpy_array": lambda x: np.full(3, 2.0) / (x.abs() + 1.0),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_OPS))
def test_float32_preserved(name):
    x = tinygan.tensor([[0.5, 1.5, 2.0], [0.7, 1.1, 2.5]], requires_grad=True)
    assert x.dtype == np.float32
    y = FLOAT32_OPS[name](x)
    assert y.dtype == np.float32, f"{name} upcast to {y.dtype}"
    y.backward(np.ones(y.shape, dtype=np.float32))
    assert x.grad.dtype == np.float32, f"{name}'s backward upcast to {x.grad.dtype}"


# ==================================================================================================
# Clear errors
# ==================================================================================================
@pytest.mark.parametrize("op, name", [(lambda a, b: a + b, "add"), (lambda a, b: a - b, "sub"),
                                      (lambda a, b: a * b, "mul"), (lambda a, b: a / b, "div"),
                                      (lambda a, b: a ** b, "pow")])
def test_incompatible_shapes_name_op_and_shapes(op, name):
    with pytest.raises(ValueError, match=rf"^{name}: shapes \(3, 4\) and \(5,\) cannot broadcast$"):
        op(tinygan.ones(3, 4), tinygan.ones(5))


def test_shape_errors_name_the_op():
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(5,\) are not aligned"):
        tinygan.ones(3, 4) @ tinygan.ones(5)
    with pytest.raises(ValueError, match=r"reshape: cannot view a tensor of shape \(2, 3\)"):
        tinygan.ones(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match=r"cat: shapes \(2, 3\), \(2, 4\) cannot be joined along dim 0"):
        tinygan.cat([tinygan.ones(2, 3), tinygan.ones(2, 4)])
    with pytest.raises(ValueError, match="stack: all tensors need the same shape"):
        tinygan.stack([tinygan.ones(2, 3), tinygan.ones(3, 2)])
    with pytest.raises(ValueError, match=r"expand: shape \(2, 3\) cannot broadcast to \(4, 3\)"):
        tinygan.ones(2, 3).expand(4, 3)
    with pytest.raises(ValueError, match="clamp: give at least one of min and max"):
        tinygan.ones(2).clamp()


def test_channel_sums_are_accurate_to_float32_rounding_of_the_total():
    """BatchNorm's statistics: one float32 total per channel over N*H*W numbers lost ~5e-7 of it, which a mean/std
    of 3 tripled in y; summing each sample, then the samples in float64, keeps it to the final rounding."""
    from tinygan.ops.reduction import channel_dot, channel_sum
    x = (np.random.default_rng(0).random((100, 16, 28, 28)) + 1).astype(np.float32)   # (N, C, H, W), mean 1.5
    exact_sum = x.astype(np.float64).sum(axis=(0, 2, 3))
    exact_dot = (x.astype(np.float64) ** 2).sum(axis=(0, 2, 3))
    assert channel_sum(x).dtype == np.float32 and channel_dot(x, x).dtype == np.float32
    np.testing.assert_allclose(channel_sum(x), exact_sum, rtol=np.finfo(np.float32).eps)
    np.testing.assert_allclose(channel_dot(x, x), exact_dot, rtol=np.finfo(np.float32).eps)

"""PyTorch's result dtypes where NumPy's differ (float32 + int64 is float32, integers divided give float32, a 0-d
tensor does not widen its category), ``out=`` on torch.add/sub/mul/div/pow, and log1p / expm1."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygan

try:
    import torch
except ImportError:                                           # the comparisons with torch are skipped
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

DTYPES = [np.bool_, np.int32, np.int64, np.float32, np.float64]
OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b,
       "**": lambda a, b: a ** b}
# what torch 2.13 gives, written out so the test runs without torch (checked against torch below)
EXPECTED = {("int64", "float32"): "float32", ("float32", "int64"): "float32", ("bool", "float32"): "float32",
            ("int32", "float64"): "float64", ("int64", "int64", "/"): "float32", ("bool", "int64"): "int64",
            ("int32", "int64"): "int64", ("float32", "float64"): "float64"}


def operand(dtype, ndim=1):
    values = np.array([1, 2, 3][:max(ndim, 1)] if ndim else 2)
    return tinygan.tensor(values.astype(dtype))


@pytest.mark.parametrize("pair", sorted(EXPECTED))
def test_result_dtype_follows_pytorch(pair):
    a_dtype, b_dtype, *op = pair
    ops = op or ["+", "*"]
    for name in ops:
        if a_dtype == "bool" and b_dtype == "bool":
            continue
        y = OPS[name](operand(np.dtype(a_dtype)), operand(np.dtype(b_dtype)))
        assert str(y.dtype) == EXPECTED[pair], (pair, name)


def test_scalars_and_zero_d_tensors():
    ints, floats = tinygan.tensor([1, 2, 3]), tinygan.ones(3)
    assert (ints * 0.5).dtype == np.float32 and (ints / 2).dtype == np.float32 and (1 / ints).dtype == np.float32
    assert (ints * 2).dtype == np.int64 and (ints ** 2).dtype == np.int64 and (2.0 ** ints).dtype == np.float32
    assert (floats * tinygan.tensor(2.0, dtype=np.float64)).dtype == np.float32       # 0-d: no widening
    assert (ints * tinygan.tensor(2.0, dtype=np.float64)).dtype == np.float64         # higher category wins
    np.testing.assert_array_equal((ints / 2).array, [0.5, 1.0, 1.5])


def test_the_gradient_keeps_the_float_operand_dtype():
    x = tinygan.ones(3, requires_grad=True)
    (x * tinygan.tensor([1, 2, 3])).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.array, [1, 2, 3])


@needs_torch
def test_every_dtype_pair_and_op_matches_torch():
    for a_dtype, b_dtype, (name, op), (na, nb) in itertools.product(DTYPES, DTYPES, OPS.items(),
                                                                      [(1, 1), (0, 1), (1, 0)]):
        a, b = operand(a_dtype, na), operand(b_dtype, nb)
        try:
            want = op(torch.tensor(a.array), torch.tensor(b.array)).dtype
        except RuntimeError:                                            # torch refuses bool - x
            continue
        got = op(a, b).dtype
        assert str(got) == str(want).replace("torch.", ""), (a_dtype, b_dtype, name, na, nb)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [2, 0.5, True])
def test_tensor_with_python_number_matches_torch(dtype, c):
    t = operand(dtype)
    for name, op in OPS.items():
        if isinstance(c, bool) and name == "**":
            continue                     # x ** True: torch keeps x's dtype, NumPy's bool ** bool is int8; unused
        for swapped in (False, True):
            try:
                want = (op(c, torch.tensor(t.array)) if swapped else op(torch.tensor(t.array), c)).dtype
            except RuntimeError:                                        # torch refuses bool - x
                continue
            got = (op(c, t) if swapped else op(t, c)).dtype
            assert str(got) == str(want).replace("torch.", ""), (dtype, c, name, swapped)


# ---- out= -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow"])
def test_out_writes_into_the_given_tensor(name):
    x, y = tinygan.tensor([1.0, 2.0, 3.0]), tinygan.tensor([2.0, 4.0, 0.5])
    out = tinygan.empty(3)
    result = getattr(tinygan, name)(x, y, out=out)
    assert result is out
    np.testing.assert_allclose(out.array, OPS[{"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}[name]](
        x.array, y.array))


def test_out_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"add: out= must be a tensor of the result's shape \(3,\), got \(2,\)"):
        tinygan.add(tinygan.ones(3), 1, out=tinygan.empty(2))
    with pytest.raises(RuntimeError, match="out=... arguments don't support automatic differentiation"):
        tinygan.mul(tinygan.ones(3, requires_grad=True), 2, out=tinygan.empty(3))


# ---- log1p and expm1 ----------------------------------------------------------------------------------------
few = settings(max_examples=25, deadline=None)
values = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                    elements=st.floats(-0.9, 3.0))


@few
@given(values)
def test_log1p_and_expm1_forward_and_gradients(a):
    for name, reference in [("log1p", np.log1p), ("expm1", np.expm1)]:
        x = tinygan.tensor(a, requires_grad=True)
        np.testing.assert_allclose(getattr(tinygan, name)(x).array, reference(a), rtol=1e-15)
        assert tinygan.gradcheck(lambda t: getattr(t, name)(), [x])
        assert tinygan.gradgradcheck(lambda t: getattr(t, name)(), [x])


def test_log1p_and_expm1_are_exact_for_tiny_values():
    x = tinygan.tensor([1e-10])
    assert x.log1p().item() == np.float32(np.log1p(np.float32(1e-10)))
    assert tinygan.expm1(x).item() == np.float32(np.expm1(np.float32(1e-10)))
    assert tinygan.tensor([1e-10]).add(1).log().item() == 0.0          # the plain formula loses it


@needs_torch
def test_log1p_and_expm1_match_torch():
    a = np.linspace(-0.5, 2.0, 7).astype(np.float32)
    for name in ["log1p", "expm1"]:
        x, tx = tinygan.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        getattr(x, name)().sum().backward()
        getattr(tx, name)().sum().backward()
        np.testing.assert_allclose(getattr(x, name)().array, getattr(tx, name)().detach().numpy(), rtol=1e-6)
        np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-6)

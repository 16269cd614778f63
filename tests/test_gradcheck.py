"""gradcheck itself: it passes correct ops and catches wrong backwards, naming the input and element."""
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import assume, given

import tinygan
from tinygan import Function, GradcheckError, gradcheck


class WrongSquare(Function):
    """y = x^2 with a wrong backward: gx = gy * x (the factor 2 is missing)."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, gy):
        return gy * self.x


class OneWrongElement(Function):
    """y = 3x with a backward that is right everywhere except at one flat position."""

    def __init__(self, bad):
        self.bad = bad

    def forward(self, x):
        return 3 * x

    def backward(self, gy):
        gx = 3 * gy
        gx.reshape(-1)[self.bad] += 1.0
        return gx


class WrongSecondInput(Function):
    """y = a * b with gb wrong (gy * a * 2) and ga right."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, gy):
        return gy * self.b, gy * self.a * 2


def f64(values, requires_grad=True):
    return tinygan.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


@pytest.mark.parametrize("mode", ["directional", "full"])
def test_passes_on_correct_ops(mode):
    rng = np.random.default_rng(0)
    a, b = f64(rng.standard_normal((3, 4))), f64(rng.uniform(0.5, 2, (4,)))
    assert gradcheck(lambda x, y: (x / y).tanh() @ y, [a, b], mode=mode) is True


@given(x=hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=4), elements={"min_value": -2,
                                                                                       "max_value": 2}))
def test_directional_catches_a_wrong_backward(x):
    t = f64(x)
    assume(np.abs(x).max() > 1e-2)          # else the missing factor 2 is below the tolerance
    with pytest.raises(GradcheckError, match=r"random direction: analytic <grad, v> = .*, numeric = "):
        gradcheck(lambda v: WrongSquare.apply(v), [t])
    assert gradcheck(lambda v: v * v, [t])  # the right backward of the same function passes


def test_full_mode_names_input_and_element_with_both_values():
    x = f64(np.arange(6.0).reshape(2, 3) + 1)
    with pytest.raises(GradcheckError, match=r"input 0, element \(1, 1\): analytic .*, numeric "):
        gradcheck(lambda v: OneWrongElement.apply(v, bad=4), [x], mode="full")
    # WrongSquare at x = 2 under gradcheck's output weight w: analytic w * x = 2w, numeric w * 2x = 4w
    w = float(np.random.default_rng(0).standard_normal((1, 1))[0, 0])
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda v: WrongSquare.apply(v), [f64([[2.0]])], mode="full", seed=0)
    message = str(info.value)
    assert message.startswith("gradcheck failed for input 0, element (0, 0): analytic ")
    analytic, numeric = (float(part.split()[-1]) for part in message.split(":")[1].split(","))
    assert analytic == pytest.approx(2 * w) and numeric == pytest.approx(4 * w, rel=1e-6)


def test_full_mode_names_the_second_input():
    a, b = f64([1.0, 2.0]), f64([3.0, -1.0])
    with pytest.raises(GradcheckError, match=r"input 1, element \(0,\)"):
        gradcheck(lambda x, y: WrongSecondInput.apply(x, y), [a, b], mode="full")
    with pytest.raises(GradcheckError, match=r"inputs \[0, 1\]"):
        gradcheck(lambda x, y: WrongSecondInput.apply(x, y), [a, b], mode="directional")
    # checking only the first input (whose gradient is right) passes
    assert gradcheck(lambda x, y: WrongSecondInput.apply(x, y), [a, f64([3.0, -1.0], requires_grad=False)],
                     mode="full")


def test_raise_exception_false_returns_false():
    x = f64([1.0, 2.0])
    assert gradcheck(lambda v: WrongSquare.apply(v), [x], raise_exception=False) is False
    assert gradcheck(lambda v: WrongSquare.apply(v), [x], mode="full", raise_exception=False) is False


def test_inputs_are_left_unchanged():
    data = np.array([0.5, -1.5, 2.0])
    x = f64(data)
    gradcheck(lambda v: v.exp(), [x], mode="full")
    gradcheck(lambda v: v.exp(), [x])
    np.testing.assert_array_equal(x.array, data)


def test_float32_input_is_rejected():
    x = tinygan.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="input 0 is float32; finite differences need float64"):
        gradcheck(lambda v: v * 2.0, [x])


def test_needs_an_input_requiring_grad_and_a_known_mode():
    with pytest.raises(ValueError, match="no input has requires_grad=True"):
        gradcheck(lambda v: v * 2.0, [f64([1.0], requires_grad=False)])
    with pytest.raises(ValueError, match="mode must be 'directional' or 'full'"):
        gradcheck(lambda v: v * 2.0, [f64([1.0])], mode="sideways")


def test_inputs_made_by_ops_and_their_grads_are_left_alone():
    """The README's example: gradcheck on x.double(), a tensor made by an op, not a leaf."""
    x = tinygan.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = tinygan.tensor([0.5, -1.0, 2.0], requires_grad=True)
    assert gradcheck(lambda a, b: (a * b).sum().tanh(), [x.double(), w.double()])
    assert gradcheck(lambda a, b: (a * b).sum().tanh(), [x.double(), w.double()], mode="full")
    assert x.grad is None and w.grad is None
    leaf = f64([1.0, 2.0])
    leaf.grad = tinygan.tensor(np.array([7.0, 7.0]))
    gradcheck(lambda v: v.exp(), [leaf])
    np.testing.assert_array_equal(leaf.grad.array, [7.0, 7.0])

"""Finite-difference gradient checking: is backward the derivative of forward?

For a scalar function L(x), the central difference

    (L(x + eps*v) - L(x - eps*v)) / (2 eps)  ~=  <dL/dx, v>

has error O(eps^2). Functions with tensor outputs are reduced to a scalar with a fixed random weight w:
L(x) = sum(w * f(x)), so dL/dx is the vector-Jacobian product that backward computes.

Two modes:
- ``mode="directional"``: one random direction v for all inputs at once. Two forward passes whatever the
  size of the inputs, so property-based tests can afford many cases (Chainer's check_backward).
- ``mode="full"``: perturb every element of every input in turn and compare the whole gradient, element by
  element: 2 * (number of elements) forwards, for small inputs, and the one to read when learning.

Run it in float64: in float32 the rounding error of the difference swamps the quantity being measured.
"""
import numpy as np

from tinygan import autograd
from tinygan.core import Tensor, array_backend, enable_grad, no_grad
from tinygan.ops.shape import Cat


class GradcheckError(AssertionError):
    """backward disagrees with finite differences."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, mode="directional", seed=0, raise_exception=True):
    """Compare the gradients backward gives for ``fn(*inputs)`` with central finite differences.

    ``inputs`` are float64 tensors; those with ``requires_grad=True`` are checked. Returns True, or raises
    GradcheckError naming the input (and, in full mode, the element) with analytic vs numeric values.
    """
    inputs = list(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64")
    rng = np.random.default_rng(seed)
    xp = array_backend.get_array_module(inputs[checked[0]].array)

    def as_array(values):
        return array_backend.to_device(values, inputs[checked[0]].device)

    # a fixed random weight turns any output into the scalar L = sum(w * f(x))
    with no_grad():
        out = fn(*inputs)
    weight = as_array(rng.standard_normal(out.shape))

    def loss(arrays):
        """L(x) evaluated on raw arrays, without recording a graph."""
        with no_grad():
            args = list(inputs)
            for i, a in zip(checked, arrays):
                args[i] = Tensor.from_array(a)
            return float((fn(*args).array * weight).sum())

    # analytic gradients by backward. An input made by an op (x.double()) is not a leaf and gets no .grad, so
    # it is replaced by a fresh leaf on the same array; leaves are used as they are (callers may rely on that
    # identity) and their .grad is restored afterwards.
    leaves = list(inputs)
    saved_grads = {}
    for i in checked:
        if inputs[i].is_leaf:
            saved_grads[i], inputs[i].grad = inputs[i].grad, None
        else:
            leaves[i] = Tensor.from_array(inputs[i].array, requires_grad=True)
    try:
        with enable_grad():
            out = fn(*leaves)
            (out * Tensor.from_array(weight)).sum().backward()
        analytic = []
        for i in checked:
            g = leaves[i].grad
            analytic.append(xp.zeros_like(inputs[i].array) if g is None else g.array)
    finally:
        for i, g in saved_grads.items():
            inputs[i].grad = g
    base = [inputs[i].array for i in checked]

    if mode == "directional":
        directions = [as_array(rng.standard_normal(a.shape)) for a in base]
        plus = loss([a + eps * d for a, d in zip(base, directions)])
        minus = loss([a - eps * d for a, d in zip(base, directions)])
        numeric = (plus - minus) / (2 * eps)
        predicted = sum(float((g * d).sum()) for g, d in zip(analytic, directions))
        if abs(predicted - numeric) > atol + rtol * abs(numeric):
            return _fail(raise_exception, f"gradcheck failed along a random direction: analytic "
                         f"<grad, v> = {predicted:.8g}, numeric = {numeric:.8g} (inputs {checked})")
        return True

    if mode != "full":
        raise ValueError(f"gradcheck: mode must be 'directional' or 'full', got {mode!r}")
    for k, (i, a) in enumerate(zip(checked, base)):
        flat_analytic = array_backend.asnumpy(analytic[k]).ravel()
        for j in range(a.size):
            arrays = [b.copy() for b in base]
            arrays[k].reshape(-1)[j] += eps
            plus = loss(arrays)
            arrays[k].reshape(-1)[j] -= 2 * eps
            minus = loss(arrays)
            numeric = (plus - minus) / (2 * eps)
            if abs(flat_analytic[j] - numeric) > atol + rtol * abs(numeric):
                index = np.unravel_index(j, a.shape)
                return _fail(raise_exception, f"gradcheck failed for input {i}, element {tuple(int(n) for n in index)}: "
                             f"analytic {flat_analytic[j]:.8g}, numeric {numeric:.8g}")
    return True


def _fail(raise_exception, message):
    if raise_exception:
        raise GradcheckError(message)
    return False


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, mode="directional", seed=0,
                  raise_exception=True):
    """Check second derivatives: ``gradcheck`` of the first derivative that ``create_graph=True`` records.

    The function checked is (x, v) -> d<fn(x), v>/dx, the vector-Jacobian product backward computes, with a
    random upstream gradient ``v`` (or ``grad_outputs``) that is itself an input: finite differences of it in
    x test each op's ``backward_graph`` (the Hessian-vector product), and in v test that the recorded first
    derivative is linear in v, as it must be. Float64 inputs, as ``gradcheck``.
    """
    inputs = list(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradgradcheck: no input has requires_grad=True")
    with no_grad():
        out = fn(*inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        v = Tensor(array_backend.to_device(rng.standard_normal(out.shape), out.device), requires_grad=True)
    else:
        v = grad_outputs if isinstance(grad_outputs, Tensor) else Tensor(grad_outputs)
        v = Tensor.from_array(v.array, requires_grad=True)
    n = len(inputs)

    def first_derivative(*args, create_graph=None):
        """d<fn(x), v>/dx for the checked inputs, flattened into one vector.

        Recorded (``backward_graph``) when gradcheck differentiates it; by the plain ``backward`` (which
        ``gradcheck`` proves right) when gradcheck evaluates it at perturbed points for finite differences.
        """
        with enable_grad():
            xs = list(args[:n])
            if create_graph is None:
                create_graph = any(xs[i].requires_grad for i in checked) or args[n].requires_grad
            for i in checked:                        # the numeric pass passes plain arrays: make them leaves
                if not xs[i].requires_grad:
                    xs[i] = Tensor.from_array(xs[i].array, requires_grad=True)
            grads = autograd.grad(fn(*xs), [xs[i] for i in checked], args[n], create_graph=create_graph,
                                  allow_unused=True)
            parts = [(g if g is not None else xs[i] * 0).reshape(-1) for i, g in zip(checked, grads)]
            return parts[0] if len(parts) == 1 else Cat.apply(*parts, dim=0)

    # the recorded first derivative must have the plain one's values before its derivative means anything
    recorded = first_derivative(*inputs, v, create_graph=True).array
    plain = first_derivative(*inputs, v, create_graph=False).array
    xp = array_backend.get_array_module(plain)
    if not bool(xp.allclose(recorded, plain, rtol=1e-7, atol=1e-10)):
        worst = float(abs(recorded - plain).max())
        return _fail(raise_exception, f"gradgradcheck: the first derivative recorded with create_graph=True "
                     f"differs from backward's by up to {worst:.3g} (a backward_graph formula is wrong)")
    return gradcheck(first_derivative, inputs + [v], eps=eps, atol=atol, rtol=rtol, mode=mode, seed=seed,
                     raise_exception=raise_exception)

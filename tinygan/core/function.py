"""Function: one differentiable operation, and the switches that say whether Functions are recorded.

Every differentiable operation is a ``Function`` subclass with ``forward`` and ``backward`` side by side, both
on raw arrays (NumPy or CuPy):

    class Mul(Function):
        '''y = a * b;  ga = gy * b,  gb = gy * a'''
        def forward(self, a, b):
            self.a, self.b = a, b            # keep only what backward needs
            return a * b
        def backward(self, gy):
            return gy * self.b, gy * self.a  # one gradient per input

``Function.apply`` runs ``forward`` on the input tensors' arrays and, while recording is on and some input
requires grad, records the Function as the output's ``_ctx`` (its creator) together with the input tensors.
Those records are the graph that the backward walk (backward.py) goes through, from the loss to the leaves.

A Function never holds its output Tensor, so the graph has no reference cycles and device memory is freed as
soon as the last tensor of the graph goes away.
"""
import contextlib
import functools

import numpy as np

from tinygan.core import array_backend

# ==================================================================================================
# The switches: gradient recording and anomaly detection
# ==================================================================================================
_grad_enabled = True
_detect_anomaly = False


def is_grad_enabled():
    """True while operations are recorded for backward."""
    return _grad_enabled


@contextlib.contextmanager
def _set_grad_enabled(mode):
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, mode
    try:
        yield
    finally:
        _grad_enabled = previous


def no_grad():
    """Context manager: operations inside record no graph (evaluation, optimizer updates)."""
    return _set_grad_enabled(False)


def enable_grad():
    """Context manager: turn recording back on inside a ``no_grad`` block."""
    return _set_grad_enabled(True)


class set_grad_enabled:
    """Turn recording on or off: called alone (``set_grad_enabled(False)``), as a context manager (restores the
    previous mode on exit) or as a decorator, as torch.set_grad_enabled."""

    def __init__(self, mode):
        global _grad_enabled
        self.previous, _grad_enabled = _grad_enabled, bool(mode)
        self.mode = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        global _grad_enabled
        _grad_enabled = self.previous

    def __call__(self, fn):
        global _grad_enabled
        _grad_enabled = self.previous                 # decorating does not change the mode, calling fn does
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


@contextlib.contextmanager
def detect_anomaly():
    """Inside this block the first op whose forward or backward makes a NaN or Inf raises, naming the op."""
    global _detect_anomaly
    previous, _detect_anomaly = _detect_anomaly, True
    try:
        yield
    finally:
        _detect_anomaly = previous


def is_anomaly_enabled():
    """True inside ``detect_anomaly``."""
    return _detect_anomaly


class AnomalyError(FloatingPointError):
    """Raised inside ``detect_anomaly`` when an op produces a non-finite value."""


def check_finite(fn, phase, arrays, inputs):
    """Raise AnomalyError when one of ``arrays`` (what ``fn.<phase>`` returned) holds a NaN or an Inf."""
    xp = array_backend.get_array_module(*arrays)
    for array in arrays:
        if array is not None and not bool(xp.isfinite(array).all()):
            shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
            raise AnomalyError(f"{type(fn).__name__}.{phase} produced NaN or Inf (input shapes: {shapes})")


# ==================================================================================================
# Function
# ==================================================================================================
class Function:
    """Base class of every op: subclasses define ``forward(*arrays) -> array`` and ``backward(gy) -> grads``.

    ``backward`` returns one gradient per input (a tuple, or a bare array for one input); it may return
    None for an input that needs no gradient. ``self.needs_input_grad[i]`` says which inputs want one, so
    backward can skip work (the input gradient of a first layer, say).
    """
    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on tensors: forward on their arrays, and record the graph edge when grads are wanted."""
        fn = cls(**params) if params else cls()
        arrays = [t.array for t in inputs]
        if len(arrays) > 1:
            _check_same_device(cls, arrays)
        y = fn.forward(*arrays)
        if type(y) is not np.ndarray and isinstance(y, np.generic):
            y = np.asarray(y)  # NumPy reductions return scalars; a Tensor always holds an ndarray
        if _detect_anomaly:
            check_finite(fn, "forward", (y,), inputs)
        if _grad_enabled:
            needs = tuple(t.requires_grad for t in inputs)
            if True in needs:
                fn.inputs = inputs
                fn.needs_input_grad = needs
                fn.input_versions = tuple(t._version for t in inputs)   # checked by backward
                return Tensor._from_array(y, requires_grad=True, ctx=fn)
        return Tensor._from_array(y)

    # An op whose backward reads none of its inputs' values (a + b, x.reshape(...)) sets this False: changing
    # an input in place after the forward cannot corrupt its gradient, so backward need not check versions.
    saves_inputs = True

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, gy):
        raise NotImplementedError

    def backward_graph(self, gy):
        """The backward on Tensors, recorded, so that the gradient can be differentiated again
        (``create_graph=True``, see tinygan/autograd.py). ``gy`` is a Tensor; the inputs are ``self.inputs``;
        returns Tensors.

        Ops that define it write the same formula as ``backward`` with differentiable Tensor ops. An op that
        does not falls back here: its first derivative is computed by ``backward`` on arrays, and a second
        derivative through it raises ``NoSecondDerivativeError`` naming the op (never a wrong number).
        """
        gxs = self.backward(gy.array)
        gxs = gxs if type(gxs) is tuple else (gxs,)
        return tuple(None if gx is None else _FirstDerivativeOnly.apply(gy, *self.inputs, gx=gx, op=self)
                     for gx in gxs)

    def __repr__(self):
        return f"<{type(self).__name__}>"


class NoSecondDerivativeError(RuntimeError):
    """Raised when a second derivative is asked of an op that has only a first (see ``backward_graph``)."""


class _FirstDerivativeOnly(Function):
    """The first derivative of ``op`` as a graph node (computed on arrays) whose own backward raises."""

    def __init__(self, gx, op):
        self.gx, self.op_name = gx, type(op).__name__

    def forward(self, *arrays):
        return self.gx

    def backward(self, gy):
        hint = (" (WGAN-GP critics: use LayerNorm or no normalisation instead of BatchNorm)"
                if self.op_name == "BatchNorm" else " (define its backward_graph to give it one)")
        raise NoSecondDerivativeError(
            f"{self.op_name} has no second derivative in tinygan: a gradient computed with create_graph=True "
            f"passed through {self.op_name}, and differentiating it again would need {self.op_name}'s second "
            f"derivative{hint}")

    def __repr__(self):
        return f"<{self.op_name}Backward (first derivative only)>"


def _check_same_device(cls, arrays):
    first = type(arrays[0])
    for a in arrays[1:]:
        if type(a) is not first and (array_backend.device_of(a) != array_backend.device_of(arrays[0])):
            devices = " and ".join(array_backend.device_of(x) for x in arrays)
            raise RuntimeError(f"{cls.__name__.lower()}: tensors are on different devices ({devices}); "
                               f"move them to one device with .to(device)")


# Function.apply wraps its results in Tensors; tensor.py imports this module, so Tensor comes last.
from tinygan.core.tensor import Tensor  # noqa: E402

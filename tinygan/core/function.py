"""Function: one differentiable operation, and the switches that say whether Functions are recorded.

Every differentiable operation is a ``Function`` subclass with ``forward`` (on raw NumPy or CuPy arrays) and
``backward`` side by side:

    class Mul(Function):
        '''y = a * b;  ga = gy * b,  gb = gy * a'''
        backward_on_tensors = True           # backward uses only operators: it runs on Tensors too
        def forward(self, a, b):
            return a * b
        def backward(self, gy):
            a, b = self.saved_inputs()       # arrays, or the input Tensors in a recorded backward
            return gy * b, gy * a            # one gradient per input

``backward`` runs on arrays (fast, first order); with ``create_graph=True`` the same lines run on Tensors and are
recorded, so the gradient can be differentiated again (``backward_graph``). A CuPy kernel that replaces the
formula on the GPU goes in ``forward_gpu`` / ``backward_gpu``, beside it, never inside it.

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
        forward = fn.forward_gpu if cls.forward_gpu is not None and fn.on_gpu(arrays[0]) else fn.forward
        y = forward(*arrays)
        if type(y) is not np.ndarray and isinstance(y, np.generic):
            y = np.asarray(y)  # NumPy reductions return scalars; a Tensor always holds an ndarray
        if _detect_anomaly:
            check_finite(fn, "forward", (y,), inputs)
        if _grad_enabled:
            needs = tuple(t.requires_grad for t in inputs)
            if True in needs:
                fn.inputs, fn.params = inputs, params
                fn.needs_input_grad = needs
                fn.input_versions = tuple(t._version for t in inputs)   # checked by backward
                return Tensor.from_array(y, requires_grad=True, ctx=fn)
        return Tensor.from_array(y)

    # An op whose backward reads none of its inputs' values (a + b, x.reshape(...)) sets this False: changing
    # an input in place after the forward cannot corrupt its gradient, so backward need not check versions.
    saves_inputs = True
    # An op whose backward uses only what arrays and Tensors both have (operators, reshape, .T, tinygan/ops/
    # on_both.py) sets this True: create_graph runs that same backward on Tensors.
    backward_on_tensors = False
    on_tensors = False                  # True while backward runs on Tensors (inside backward_graph)
    forward_gpu = backward_gpu = None   # an op's fused CuPy kernels, used instead on CuPy arrays

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, gy):
        raise NotImplementedError

    @staticmethod
    def on_gpu(array):
        """True for a CuPy array: an op's ``forward_gpu`` / ``backward_gpu``, where it has them, run instead."""
        return type(array) is not np.ndarray

    def saved_inputs(self):
        """The inputs, for backward to read: their arrays in a plain backward, the input Tensors themselves in
        a recorded one, so that one formula serves both."""
        return self.inputs if self.on_tensors else [t.array for t in self.inputs]

    def saved_output(self):
        """The output y, for backward to read: the array forward kept as ``self.y`` in a plain backward; in a
        recorded one, y computed again from the input Tensors (recorded, so that its derivative is followed)."""
        return type(self).apply(*self.inputs, **self.params) if self.on_tensors else self.y

    def backward_graph(self, gy):
        """The backward on Tensors, recorded, so that the gradient can be differentiated again
        (``create_graph=True``, see tinygan/autograd.py). ``gy`` is a Tensor; returns Tensors.

        With ``backward_on_tensors`` it is ``backward`` itself, run on Tensors. An op whose array code cannot
        run on Tensors (im2col, scatter) overrides it with its adjoint written as ops. Any other op falls back
        here: its first derivative is computed by ``backward`` on arrays, and a second derivative through it
        raises ``NoSecondDerivativeError`` naming the op (never a wrong number).
        """
        if self.backward_on_tensors:
            self.on_tensors = True
            try:
                return self.backward(gy)
            finally:
                self.on_tensors = False
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

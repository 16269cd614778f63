"""PyTorch's in-place Tensor methods (``add_``, ``mul_``, ``exp_``, ``clamp_``, ``normal_``, ...), the mixin
``InPlaceMethods`` that ``TensorMethods`` (tensor_methods.py) extends, and how they are recorded for autograd.

Off the graph (under ``no_grad``, on ``p.data``, on tensors that need no gradient) an in-place op writes the new
values into the tensor's memory and bumps its version. Where gradients are recorded through the tensor or the
operand (``logvar.mul(0.5).exp_()``, ``eps.mul(std).add_(mu)`` in a VAE's forward), it is PyTorch's rebase: a
new tensor ``earlier`` takes over the old values and graph position, the op is recorded out of place on it, and
the tensor becomes the result (its values, its ``grad_fn`` the op, its version bumped). Recorded ops that read
the tensor before the change keep their gradient for what they read: the backward walk sends it to ``earlier``
(``inputs_as_read`` in tinygan/core/backward.py), and one that saved the values for backward raises PyTorch's
"modified by an inplace operation".
Differences from PyTorch (no view tracking): in-place on a recorded view of another tensor (``h[0].add_(x)``,
``h.view(-1).mul_(2)``) is refused (NotImplementedError); a view taken of the tensor before the change keeps the
old values (PyTorch's would see the new ones), consistently with its gradient.
"""
import weakref

import numpy as np

from tinygan import rng
from tinygan.core import Tensor, array_backend, array_of, is_grad_enabled
from tinygan.core.backward import EARLIER
from tinygan.ops import shape as _shape


class InPlaceMethods:
    """PyTorch's trailing-underscore Tensor methods; installed on Tensor with ``TensorMethods``."""
    # They change this tensor's own memory (views and a parameter's flat optimizer buffer see the change) and
    # bump its version, so a backward through a graph that saved the old values raises instead of using the
    # new ones. PyTorch's rules: refused on a leaf that requires grad while gradients are recorded (use
    # ``with no_grad():``, or ``p.data.clamp_(...)``, whose changes autograd does not see, as in PyTorch).
    def _write_in_place(self, op, compute, recorded=None, operand=None):
        """Write ``compute(xp)`` (an array of self's shape) into self's memory, under PyTorch's rules. Where
        gradients are recorded through self or ``operand``, ``recorded(x)`` (the op out of place on Tensors)
        makes the new values and their graph instead (``_rebase``)."""
        if is_grad_enabled() and (self.requires_grad or getattr(operand, "requires_grad", False)):
            if self.requires_grad and self.is_leaf:
                raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place "
                                   f"operation (wrap it in tinygan.no_grad(), or change p.data)")
            if recorded is None:
                raise NotImplementedError(
                    f"{op}: in-place {op} on a tensor computed with gradients recorded is not supported in "
                    f"tinygan; use the out-of-place form (x = x.{op[:-1]}(...) instead of x.{op}(...))")
            return _rebase(self, op, recorded)
        xp = array_backend.get_array_module(self.array)
        value = compute(xp)
        if getattr(value, "shape", self.shape) != self.shape:
            raise RuntimeError(f"{op}: the result of shape {tuple(value.shape)} cannot be written into a tensor "
                               f"of shape {tuple(self.shape)} in place")
        self[...] = value                             # Tensor.__setitem__: writes, bumps the version
        return self

    def add_(self, other, alpha=1):
        """x += alpha * other, in place (torch's ``add_``)."""
        return self._write_in_place("add_", lambda xp: self.array + alpha * _in_place_operand(other, self),
                                    lambda x: x + (other if alpha == 1 else other * alpha), other)

    def sub_(self, other, alpha=1):
        """x -= alpha * other, in place."""
        return self._write_in_place("sub_", lambda xp: self.array - alpha * _in_place_operand(other, self),
                                    lambda x: x - (other if alpha == 1 else other * alpha), other)

    def mul_(self, other):
        """x *= other, in place."""
        return self._write_in_place("mul_", lambda xp: self.array * _in_place_operand(other, self),
                                    lambda x: x * other, other)

    def div_(self, other):
        """x /= other, in place."""
        return self._write_in_place("div_", lambda xp: self.array / _in_place_operand(other, self),
                                    lambda x: x / other, other)

    # x += y is x.add_(y) (same for -=, *=, /=), as PyTorch: the same tensor, its values changed, its version
    # bumped, refused on a leaf that requires grad outside no_grad, recorded where gradients are (``_rebase``).
    # One exception: on a recorded view (``h = h.view(-1); h += b``) x becomes the new tensor x + y instead, as
    # tinygan cannot record an in-place op through a view.
    def __iadd__(self, other):
        return self._in_place_operator("add_", other, Tensor.__add__)

    def __isub__(self, other):
        return self._in_place_operator("sub_", other, Tensor.__sub__)

    def __imul__(self, other):
        return self._in_place_operator("mul_", other, Tensor.__mul__)

    def __itruediv__(self, other):
        return self._in_place_operator("div_", other, Tensor.__truediv__)

    def _in_place_operator(self, op, other, out_of_place):
        if is_grad_enabled() and self.requires_grad and _is_view(self):
            return out_of_place(self, other)
        return getattr(self, op)(other)

    def pow_(self, exponent):
        """x = x ** exponent, in place."""
        return self._write_in_place("pow_", lambda xp: self.array ** _in_place_operand(exponent, self),
                                    lambda x: x ** exponent, exponent)

    def clamp_(self, min=None, max=None):
        """x = min(max(x, min), max), in place (WGAN's weight clipping: ``p.data.clamp_(-c, c)``)."""
        if min is None and max is None:
            raise ValueError("clamp_: give at least one of min and max")

        def clamped(xp):
            y = self.array if min is None else xp.maximum(self.array, _in_place_operand(min, self))
            return y if max is None else xp.minimum(y, _in_place_operand(max, self))
        return self._write_in_place("clamp_", clamped, lambda x: x.clamp(min, max))

    clip_ = clamp_

    def zero_(self):
        """x = 0, in place."""
        return self._write_in_place("zero_", lambda xp: 0)

    def fill_(self, value):
        """x = value everywhere, in place."""
        return self._write_in_place("fill_", lambda xp: _in_place_operand(value, self))

    def copy_(self, other):
        """x = other's values (broadcast, converted to x's dtype and device), in place."""
        src = array_of(other)
        if array_backend.device_of(src) != self.device:
            src = array_backend.to_device(src, self.device)
        return self._write_in_place("copy_", lambda xp: src)

    def normal_(self, mean=0.0, std=1.0):
        """Fill with samples of N(mean, std^2) from tinygan's seeded generator, in place."""
        return self._write_in_place(
            "normal_", lambda xp: rng.randn(self.shape, self.dtype, self.device) * std + mean)

    def uniform_(self, a=0.0, b=1.0):
        """Fill with samples of U(a, b) from tinygan's seeded generator, in place."""
        return self._write_in_place(
            "uniform_", lambda xp: rng.rand(self.shape, self.dtype, self.device) * (b - a) + a)

    def random_(self, low=0, high=None):
        """Fill with integers drawn uniformly from [low, high) by tinygan's seeded generator, in place (torch's
        ``random_(from, to)``; ``random_(n)`` is [0, n); no argument: [0, 2^mantissa] for float tensors (2^24 for
        float32), the non-negative values of an integer dtype (below 2^62 for int64))."""
        if high is None and low != 0:
            low, high = 0, low                                           # random_(n): [0, n)
        if high is None:
            high = (2 ** (np.finfo(self.dtype).nmant + 1) + 1 if self.dtype.kind == "f" else
                    2 ** 62 if self.dtype.itemsize == 8 else int(np.iinfo(self.dtype).max) + 1)
        low, high = int(low), int(high)
        if high <= low:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")

        def draw(xp):
            u = rng.rand(self.shape, np.dtype(np.float64), self.device)
            return xp.minimum(low + xp.floor(u * (high - low)), high - 1)
        return self._write_in_place("random_", draw)

    def exp_(self):
        """x = exp(x), in place."""
        return self._write_in_place("exp_", lambda xp: xp.exp(self.array), Tensor.exp)

    def log_(self):
        """x = log(x), in place."""
        return self._write_in_place("log_", lambda xp: xp.log(self.array), Tensor.log)

    def sqrt_(self):
        """x = sqrt(x), in place."""
        return self._write_in_place("sqrt_", lambda xp: xp.sqrt(self.array), Tensor.sqrt)

    def abs_(self):
        """x = |x|, in place."""
        return self._write_in_place("abs_", lambda xp: xp.abs(self.array), Tensor.abs)

    def neg_(self):
        """x = -x, in place."""
        return self._write_in_place("neg_", lambda xp: -self.array, Tensor.__neg__)

    def tanh_(self):
        """x = tanh(x), in place."""
        return self._write_in_place("tanh_", lambda xp: xp.tanh(self.array), Tensor.tanh)

    def sigmoid_(self):
        """x = 1 / (1 + exp(-x)), in place."""
        return self._write_in_place("sigmoid_", lambda xp: Tensor.sigmoid(self.detach()).array, Tensor.sigmoid)


def _in_place_operand(value, like):
    """A number as it is, a tensor as its array: the right-hand side of an in-place op on ``like``."""
    if isinstance(value, Tensor):
        if is_grad_enabled() and value.requires_grad:
            raise NotImplementedError("in-place op with an operand that requires grad: this op records no graph "
                                      "through it; use the out-of-place form (x = x.clamp(lo, hi), ...)")
        if value.device != like.device:
            raise RuntimeError(f"in-place op: the operand is on {value.device} but the tensor is on {like.device}")
        return value.array
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", None) == 0 else value


# ==================================================================================================
# Recording an in-place op: PyTorch's rebase
# ==================================================================================================
VIEW_OPS = (_shape.Reshape, _shape.Permute, _shape.BroadcastTo, _shape.GetItem)   # results that may share memory


def _rebase(x, op, recorded):
    """``x`` becomes ``recorded(earlier)`` in values and in the graph, ``earlier`` being a tensor that takes over
    x's previous values and graph position (see the module docstring)."""
    if _is_view(x):
        raise NotImplementedError(f"{op}: in-place {op} on a view ({type(x._ctx).__name__}) of a tensor with "
                                  f"gradients recorded is not supported in tinygan (no view tracking); use the "
                                  f"out-of-place form (x = x.{op[:-1]}(...))")
    earlier = Tensor.from_array(x.array, x.requires_grad, x._ctx)     # x's values and creator until now
    earlier._version = x._version
    y = recorded(earlier)
    if y.shape != x.shape:
        raise RuntimeError(f"{op}: the result of shape {tuple(y.shape)} cannot be written into a tensor of shape "
                           f"{tuple(x.shape)} in place")
    _keep_earlier(x, earlier)                     # ops that read x so far send their gradient to earlier
    x.array = y.array.astype(x.dtype, copy=False)  # the new values: earlier keeps the old memory, as its views do
    x._ctx, x.requires_grad = y._ctx, y.requires_grad
    x._version += 1                               # an op that saved x's old values for backward now refuses
    return x


def _keep_earlier(x, earlier):
    """Register ``earlier`` as x at its current version for as long as x lives (core/backward.py
    ``inputs_as_read`` routes the gradients of the ops that read x before the change to it)."""
    if id(x) not in EARLIER:
        weakref.finalize(x, EARLIER.pop, id(x), None)
    EARLIER.setdefault(id(x), {})[x._version] = earlier


def _is_view(x):
    """True when x came from a view op (reshape, slicing, ...) and shares memory with that op's input."""
    if type(x._ctx) not in VIEW_OPS:
        return False
    base = x._ctx.inputs[0].array
    return type(base) is not np.ndarray or np.may_share_memory(x.array, base)

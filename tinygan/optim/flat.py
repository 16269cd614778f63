"""Flat parameter buffers: every parameter of one parameter group, dtype and device lives in one contiguous array.

At construction an optimizer copies its parameters into one flat array per (group, dtype, device) and rebinds each
``p.array`` to a view of it; gradients get a second flat array whose views become each ``p.grad``:

    data  [ W1 (256*100) | b1 (256) | W2 (512*256) | ... ]    p.array = data[offset:offset + size].reshape(shape)
    grad  [ gW1          | gb1      | gW2          | ... ]    p.grad = Tensor(grad[offset:offset + size].reshape(shape))

Backward adds leaf gradients in place into an existing ``.grad``, so they land in the flat buffer; ``zero_grad``
is one fill and an update is one fused pass over a few long arrays instead of a dozen small ops per parameter.

``zero_grad()`` sets ``p.grad = None`` by default, as PyTorch 2 does, without cutting the view: each parameter
keeps its grad view as ``p._grad_home`` (a Tensor), and backward, finding ``.grad`` None, copies the new
gradient into that home and makes it ``p.grad`` again (core/backward.py ``accumulate_grad``): no allocation, and
one copy instead of a fill and an add. A gradient someone still holds when it is set to None keeps its values
(``set_grad_to_none`` gives it a copy), as in PyTorch where the next backward makes a new tensor.

Parameters stay ordinary tensors. Whoever replaces ``p.array`` or ``p.grad`` (``Module.to``, loading weights by
assignment, ``p.grad = some_tensor``) is handled by ``sync``, which optimizers call before every step: the views
are checked by identity and a replaced array is copied back into the buffer and the view rebound. A parameter
whose grad is None at ``step`` is skipped, as in PyTorch (``sync`` lists them; the optimizer puts back its
values and state after the fused pass).
"""
import math
import sys

import numpy as np

from tinygan.core import Tensor, array_backend, array_of


class FlatParameters:
    """Parameters of one group, dtype and device, their values and grads held as views of two flat arrays."""

    def __init__(self, params):
        first = params[0].array
        self.xp = array_backend.get_array_module(first)
        self.dtype = first.dtype
        self.device = array_backend.device_of(first)
        self.params = list(params)
        self.shapes = [tuple(p.array.shape) for p in self.params]
        self.slices = []
        offset = 0
        for shape in self.shapes:
            size = math.prod(shape)
            self.slices.append(slice(offset, offset + size))
            offset += size
        self.data = self.xp.empty(offset, dtype=self.dtype)
        self.grad = self.xp.zeros(offset, dtype=self.dtype)
        self.data_views = [self.view(self.data, i) for i in range(len(self.params))]
        self.grad_views = [self.view(self.grad, i) for i in range(len(self.params))]
        self.missing = []                  # positions of the parameters whose grad was None at the last sync
        for i, p in enumerate(self.params):
            self.data_views[i][...] = p.array
            p.array = self.data_views[i]
            p._grad_home = Tensor.from_array(self.grad_views[i])   # where backward puts a new grad
            if p.grad is not None:
                self._copy_grad(i, p.grad)
                p.grad = p._grad_home

    def view(self, flat, i):
        """Parameter ``i``'s part of a flat array (its values, grads or optimizer state), in its shape."""
        return flat[self.slices[i]].reshape(self.shapes[i])  # (size,) -> parameter shape

    def zeros(self):
        """A new zero flat array like the parameters' (for optimizer state)."""
        return self.xp.zeros_like(self.data)

    def fits(self, i, array):
        """True when ``array`` can be copied into parameter ``i``'s slot as is (same shape, dtype and device)."""
        return (tuple(array.shape) == self.shapes[i] and array.dtype == self.dtype
                and array_backend.device_of(array) == self.device)

    def sync(self):
        """Re-adopt replaced ``p.array`` / ``p.grad`` arrays; False when one moved to another device or dtype.

        One identity check per parameter; a copy only for a replaced array. On False nothing is left half done
        for that parameter: the caller rebuilds the buffers from the parameters as they are. ``self.missing``
        lists the parameters whose grad is None (zero in the buffer; the optimizer skips them).
        """
        self.missing = []
        for i, p in enumerate(self.params):
            view = self.data_views[i]
            if p.array is not view:
                if not self.fits(i, p.array):
                    if tuple(p.array.shape) != self.shapes[i]:
                        raise ValueError(f"optimizer: parameter of shape {self.shapes[i]} was replaced by an array "
                                         f"of shape {tuple(p.array.shape)}; make a new optimizer after changing "
                                         f"parameter shapes")
                    return False
                view[...] = p.array
                p.array = view
            if not self._adopt_grad(i, p):
                self.missing.append(i)
        return True

    def _adopt_grad(self, i, p):
        """Make ``p.grad`` this buffer's view (its home), copying a replaced gradient in; False when it is None."""
        view, home, g = self.grad_views[i], p._grad_home, p.grad
        if g is not None and g is home and home.array is view:
            return True                               # the usual case: backward added into the view
        if g is not None:
            self._copy_grad(i, g)                     # a gradient made elsewhere, or the home's array replaced
        if home is None or home.array is not view:    # another optimizer's home, or the array replaced
            home = p._grad_home = Tensor.from_array(view)
        if g is None:
            view.fill(0)
            return False
        p.grad = home
        return True

    def _copy_grad(self, i, g):
        g = array_of(g)
        if tuple(g.shape) != self.shapes[i]:
            raise ValueError(f"optimizer: gradient of shape {tuple(g.shape)} for a parameter of shape "
                             f"{self.shapes[i]}")
        if array_backend.device_of(g) != self.device:
            g = array_backend.to_device(g, self.device)
        self.grad_views[i][...] = g


def set_grad_to_none(p):
    """``p.grad = None``, keeping the flat buffer's view as the home the next backward writes into; a gradient
    tensor someone still holds (a reference besides ``p._grad_home``) gets its own copy, so it keeps its values
    when the next backward writes into the buffer, as in PyTorch."""
    g, references = _release_grad(p)
    if g is not None and g is p._grad_home and references > _UNHELD_REFERENCES:
        p._grad_home = Tensor.from_array(g.array)     # the view, in a new home
        g.array = g.array.copy()                      # the held gradient, out of the buffer


def _release_grad(p):
    """p.grad set to None; the old grad and CPython's reference count of it, read here."""
    g, p.grad = p.grad, None
    return g, sys.getrefcount(g)


class _Unheld:
    """A parameter whose grad only it holds: what _release_grad counts when no one else holds the grad."""
    def __init__(self):
        self.grad = self._grad_home = Tensor.from_array(np.zeros(1))


# measured, not assumed: how getrefcount counts the local, the argument and the attribute differs between versions
_UNHELD_REFERENCES = _release_grad(_Unheld())[1]

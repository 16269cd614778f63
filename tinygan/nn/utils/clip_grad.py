"""Gradient clipping, as torch.nn.utils.clip_grad: rescale all gradients together so their joint norm is at most
``max_norm`` (clip_grad_norm_), or clamp each element (clip_grad_value_).

Everything stays on the gradients' device: the norm is a 0-d device array and the scale factor is applied as
one, so clipping adds no host round trip to a GPU training step (unless ``error_if_nonfinite=True``, which
must look at the norm). Gradients are changed in place, so the optimizer's flat gradient buffers see it.
"""
import math

import numpy as np

from tinygan.core import Tensor, array_backend, array_of


def _grads(parameters):
    """The raw gradient arrays of ``parameters`` (one tensor or an iterable), skipping parameters without one."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = []
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"clip_grad: parameter {i} is a {type(p).__name__}, expected a Tensor "
                            f"(pass model.parameters())")
        if p.grad is not None:
            grads.append(array_of(p.grad))
    return grads


def _vector_norm(x, norm_type):
    """The norm of ``x`` flattened to a vector, in x's dtype: (sum |x|^p)^(1/p); max |x| for inf, min |x| for
    -inf, the count of nonzeros for 0 (torch.linalg.vector_norm)."""
    xp = array_backend.get_array_module(x)
    x = x.reshape(-1)                                            # any shape -> (size,)
    if norm_type == math.inf:
        return xp.abs(x).max() if x.size else xp.zeros((), x.dtype)
    if norm_type == -math.inf:
        return xp.abs(x).min() if x.size else xp.asarray(math.inf, x.dtype)
    if norm_type == 0:
        return xp.count_nonzero(x).astype(x.dtype)
    if norm_type == 2:
        return xp.sqrt(xp.dot(x, x))
    return (xp.abs(x) ** norm_type).sum() ** (1.0 / norm_type)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of the norms of ``tensors`` (gradients), the norm of them all concatenated into one vector, as a
    0-d tensor on the first one's device (torch.nn.utils.get_total_norm). ``foreach`` is accepted and ignored."""
    norm_type = float(norm_type)
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    arrays = [array_of(t) for t in tensors if t is not None]
    if not arrays:
        return Tensor(np.zeros((), np.float32), device=array_backend.get_default_device())
    device = array_backend.device_of(arrays[0])
    xp = array_backend.get_array_module(arrays[0])
    norms = [array_backend.to_device(_vector_norm(a, norm_type), device) for a in arrays]
    total = _vector_norm(xp.stack(norms), norm_type)             # n 0-d norms -> (n,) -> the total
    if error_if_nonfinite and not bool(xp.isfinite(total)):      # a host sync, only when asked for
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           f"so it cannot be clipped. To disable this error and scale the gradients by the "
                           f"non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor(total)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every gradient in place by min(1, max_norm / (total_norm + 1e-6)), as
    torch.nn.utils.clip_grads_with_norm_. ``foreach`` is accepted and ignored."""
    grads = _grads(parameters)
    if not grads:
        return
    total = array_of(total_norm)
    for g in grads:
        xp = array_backend.get_array_module(g)
        t = array_backend.to_device(total, array_backend.device_of(g))       # no copy on the same device
        with np.errstate(invalid="ignore"):                       # inf * 0 = nan, silently as in PyTorch
            coef = xp.minimum(float(max_norm) / (t + 1e-6), 1.0)  # 1: nothing to clip
            g *= coef.astype(g.dtype)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Rescale the gradients of ``parameters`` together so their total ``norm_type``-norm is at most
    ``max_norm`` (each gradient times min(1, max_norm / (total + 1e-6))); returns the total norm before
    clipping as a 0-d tensor (torch.nn.utils.clip_grad_norm_). Parameters without a gradient are skipped."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)                                # a generator is read twice below
    total = get_total_norm([p.grad for p in parameters if isinstance(p, Tensor)], norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element of ``parameters`` into [-clip_value, clip_value] in place
    (torch.nn.utils.clip_grad_value_)."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        array_backend.get_array_module(g).clip(g, -clip_value, clip_value, out=g)

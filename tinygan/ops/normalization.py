"""Batch normalization over the channel axis 1 of (N, C), (N, C, L) or (N, C, H, W) input, and layer
normalization over each sample's trailing axes.

Training normalises with the batch's own statistics, so every output depends on every input of its
channel; the backward below is the compact form of that dependency. Evaluation uses the running
statistics, a fixed per-channel affine map. On the GPU the full-size tail of each pass is one fused kernel.
Batch norm has no second derivative (its recorded backward raises NoSecondDerivativeError); layer norm has
one, and is what WGAN-GP critics use instead (a gradient penalty needs the critic's second derivative, and
batch statistics would mix the samples whose gradients the penalty treats one by one).
"""
import math
import operator

import numpy as np

from tinygan.core.array_backend import get_array_module
from tinygan.core.function import Function
from tinygan.kernels import FusedKernel, fusable
from tinygan.ops.arithmetic import sum_to, unbroadcast
from tinygan.ops.linear import check_weight_dtype
from tinygan.ops.reduction import channel_dot, channel_sum


class BatchNorm(Function):
    """training: xhat = (x - mean) / sqrt(var + eps), y = weight * xhat + bias (mean, biased var over N*H*W);
    gx = inv_std / M * (M gxhat - sum(gxhat) - xhat * sum(gxhat * xhat)), gxhat = gy * weight,
    gweight = sum(gy * xhat), gbias = sum(gy), sums over the M = N*H*W values of each channel.
    eval: y = (x - running_mean) * inv_std * weight + bias;  gx = gy * weight * inv_std.

    Inputs are x, then weight and/or bias when given (``has_weight``, ``has_bias``). Training updates
    running_mean / running_var in place: r = (1 - momentum) r + momentum * batch statistic, with the
    unbiased variance for running_var, as PyTorch does.

    Only the centred input xc = x - mean is kept (xhat = xc * inv_std is never stored), and every
    per-channel sum is one einsum (``channel_sum``, ``channel_dot``): with the per-channel factors folded
    together, forward makes three full-size passes and backward four. On the GPU the affine tail of forward
    (y = xc * scale + bias) and the training gx are one fused kernel each (``forward_gpu``, ``backward_gpu``,
    with the kernels at the end of this file).
    """

    def __init__(self, running_mean, running_var, training, momentum, eps, has_weight, has_bias):
        self.running_mean, self.running_var = running_mean, running_var
        self.training, self.momentum, self.eps = training, momentum, eps
        self.has_weight, self.has_bias = has_weight, has_bias

    def forward(self, x, *affine):
        xc, scale, bias = self._centre(x, affine)
        y = xc * scale                                            # y = xc * scale + bias
        if bias is not None:
            y += bias
        return y

    def _centre(self, x, affine):
        """xc = x - mean, and the per-channel scale = inv_std * weight and bias, shaped (1, C, 1, 1)."""
        xp = get_array_module(x)
        weight = affine[0] if self.has_weight else None
        bias = affine[-1] if self.has_bias else None
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)             # (C,) -> (1, C, 1, 1) for broadcasting
        self.shape, self.count = shape, x.size // x.shape[1]
        if self.training:
            mean = channel_sum(x) / self.count                    # (C,)
            xc = x - mean.reshape(shape)                          # (C,) -> (1, C, 1, 1)
            var = channel_dot(xc, xc) / self.count                # biased: normalise by the batch itself
            self._update_running(mean, var)
        else:
            xc = x - self.running_mean.reshape(shape)             # (C,) -> (1, C, 1, 1)
            var = self.running_var
        inv_std = 1 / xp.sqrt(var + self.eps)                     # (C,)
        scale = inv_std if weight is None else inv_std * weight   # (C,)
        self.xc, self.inv_std, self.scale = xc, inv_std, scale
        return xc, scale.reshape(shape), None if bias is None else bias.reshape(shape)

    def _update_running(self, mean, var):
        m, n = self.momentum, self.count
        if self.running_mean is not None:
            self.running_mean *= 1 - m
            self.running_mean += m * mean
        if self.running_var is not None:
            self.running_var *= 1 - m
            self.running_var += (m * n / (n - 1)) * var           # the unbiased variance

    def backward(self, gy):
        """With gxhat = gy * w the training gx above simplifies, since sum(gxhat) = w sum(gy) and
        sum(gxhat * xhat) = w sum(gy * xhat), the very sums gbias and gweight need. In terms of the kept
        xc = xhat / inv_std: sum(gy * xhat) = inv_std sum(gy * xc), and
        gx = w inv_std (gy - sum(gy) / M - xc * inv_std^2 sum(gy * xc) / M), one full-size array built in place.
        """
        sum_gy, sum_gy_xhat = self._sums(gy)
        xc, inv_std, shape, m = self.xc, self.inv_std, self.shape, self.count
        gx = None
        if self.needs_input_grad[0] and self.training:
            gx = xc * (sum_gy_xhat * inv_std / -m).reshape(shape)  # (C,) -> (1, C, 1, 1)
            gx += gy
            gx -= (sum_gy / m).reshape(shape)                     # (C,) -> (1, C, 1, 1)
            gx *= self.scale.reshape(shape)                       # (C,) -> (1, C, 1, 1)
        elif self.needs_input_grad[0]:
            gx = gy * self.scale.reshape(shape)                   # (C,) -> (1, C, 1, 1)
        return self._grads(gx, sum_gy, sum_gy_xhat)

    def _sums(self, gy):
        """sum(gy) and sum(gy * xhat) per channel, each only where a gradient needs it (else None)."""
        needs = self.needs_input_grad
        training_gx = needs[0] and self.training
        sum_gy = sum_gy_xhat = None
        if (self.has_bias and needs[-1]) or training_gx:
            sum_gy = channel_sum(gy)                              # (N, C, H, W) -> (C,)
        if (self.has_weight and needs[1]) or training_gx:
            sum_gy_xhat = channel_dot(gy, self.xc) * self.inv_std  # (N, C, H, W) -> (C,)
        return sum_gy, sum_gy_xhat

    def _grads(self, gx, sum_gy, sum_gy_xhat):
        """(gx, gweight, gbias), with gweight = sum(gy * xhat), gbias = sum(gy), for the inputs there are."""
        needs = self.needs_input_grad
        grads = [gx]
        if self.has_weight:
            grads.append(sum_gy_xhat if needs[1] else None)
        if self.has_bias:
            grads.append(sum_gy if needs[-1] else None)
        return tuple(grads)

    def forward_gpu(self, x, *affine):
        """``forward`` with its affine tail y = xc * scale + bias as one fused kernel, ``BATCH_NORM_FORWARD``."""
        xp = get_array_module(x)
        xc, scale, bias = self._centre(x, affine)
        if bias is None or not fusable(xp, xc, scale, bias):
            y = xc * scale
            if bias is not None:
                y += bias
            return y
        y = xp.empty(xc.shape, dtype=xc.dtype)
        BATCH_NORM_FORWARD(xp, xc=xc, scale=scale, bias=bias, y=y)
        return y

    def backward_gpu(self, gy):
        """``backward`` with the training gx as one fused kernel, ``BATCH_NORM_BACKWARD``."""
        xp, xc, shape, m = get_array_module(gy), self.xc, self.shape, self.count
        if not (self.needs_input_grad[0] and self.training and fusable(xp, xc, gy, self.scale)):
            return self.backward(gy)
        sum_gy, sum_gy_xhat = self._sums(gy)
        gx = xp.empty(xc.shape, dtype=xc.dtype)
        BATCH_NORM_BACKWARD(xp, xc=xc, gy=gy, k=(sum_gy_xhat * self.inv_std / -m).reshape(shape),
                            mean_gy=(sum_gy / m).reshape(shape), scale=self.scale.reshape(shape), gx=gx)
        return self._grads(gx, sum_gy, sum_gy_xhat)


def check_batch_norm(x, running_mean, running_var, weight, bias, training):
    """Raise a clear error for input and parameters batch_norm cannot use."""
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expects input (N, C) or (N, C, H, W), got shape {tuple(x.shape)}")
    C = x.shape[1]
    for name, p in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if p is not None and tuple(p.shape) != (C,):
            raise ValueError(f"batch_norm: {name} must have shape ({C},) for input of shape {tuple(x.shape)} "
                             f"with {C} channels, got {tuple(p.shape)}")
    if weight is not None:
        check_weight_dtype("batch_norm", x, weight)
    if training and math.prod(x.shape) // max(C, 1) <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of "
                         f"shape {tuple(x.shape)}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var must be given in evaluation mode "
                         "(training=False)")


# ==================================================================================================
# Layer normalization: each sample normalised over its trailing normalized_shape axes (no running statistics)
# ==================================================================================================
class LayerNorm(Function):
    """xhat = (x - mean) / sqrt(var + eps), y = weight * xhat + bias, mean and biased var over the last
    ``ndim`` axes (the M = prod(normalized_shape) values of each row), weight and bias of normalized_shape;
    gx = inv_std / M * (M gxhat - sum(gxhat) - xhat * sum(gxhat * xhat)), gxhat = gy * weight (sums over a row),
    gweight = sum(gy * xhat), gbias = sum(gy) (sums over the leading axes). PyTorch: F.layer_norm.

    Inputs are x, then weight and/or bias when given (``has_weight``, ``has_bias``). float32-safe: the
    variance is the mean of the centred squares (two passes, no E[x^2] - E[x]^2 cancellation), and every
    intermediate stays in x's dtype.

    ``backward_graph`` (second derivatives, WGAN-GP critics) recomputes mean, var and xhat from x with Tensor
    ops and writes the same gx, gweight, gbias formula on Tensors. Chosen over differentiating a recomputed
    forward with ``autograd.grad(create_graph=True)`` because it keeps the recorded backward one walk (no
    nested backward pass inside backward), reads exactly as the array formula above, and its values match the
    array backward's to rounding.
    """

    def __init__(self, ndim, eps, has_weight, has_bias):
        self.ndim, self.eps = ndim, eps
        self.has_weight, self.has_bias = has_weight, has_bias

    def _axes(self, x):
        return tuple(range(x.ndim - self.ndim, x.ndim))           # the trailing normalized_shape axes

    def forward(self, x, *affine):
        xp = get_array_module(x)
        weight = affine[0] if self.has_weight else None
        bias = affine[-1] if self.has_bias else None
        axes = self._axes(x)
        xc = x - x.mean(axis=axes, keepdims=True)                 # (..., *normalized_shape)
        var = (xc * xc).mean(axis=axes, keepdims=True)            # (..., 1, ..., 1), biased
        inv_std = 1 / xp.sqrt(var + self.eps)
        xhat = xc
        xhat *= inv_std                                           # in place: xc is not needed again
        self.xhat, self.inv_std, self.weight = xhat, inv_std, weight
        y = xhat * weight if weight is not None else xhat.copy()  # never y = xhat: backward keeps xhat
        if bias is not None:
            y += bias
        return y

    def backward(self, gy):
        needs = self.needs_input_grad
        xhat, inv_std, weight = self.xhat, self.inv_std, self.weight
        axes = self._axes(gy)
        gx = None
        if needs[0]:
            gxhat = gy * weight if weight is not None else gy
            gx = gxhat - gxhat.mean(axis=axes, keepdims=True)     # M gxhat - sum(gxhat), over M
            gx -= xhat * (gxhat * xhat).mean(axis=axes, keepdims=True)
            gx *= inv_std
        shape = xhat.shape[xhat.ndim - self.ndim:]                # normalized_shape
        grads = [gx]
        if self.has_weight:
            grads.append(unbroadcast(gy * xhat, shape) if needs[1] else None)   # (..., *ns) -> ns
        if self.has_bias:
            grads.append(unbroadcast(gy, shape) if needs[-1] else None)         # (..., *ns) -> ns
        return tuple(grads)

    def backward_graph(self, gy):
        needs = self.needs_input_grad
        x = self.inputs[0]
        weight = self.inputs[1] if self.has_weight else None
        axes = self._axes(x)
        xc = x - x.mean(dim=axes, keepdim=True)
        inv_std = 1 / ((xc * xc).mean(dim=axes, keepdim=True) + self.eps).sqrt()
        xhat = xc * inv_std
        gx = None
        if needs[0]:
            gxhat = gy * weight if weight is not None else gy
            gx = (gxhat - gxhat.mean(dim=axes, keepdim=True)
                  - xhat * (gxhat * xhat).mean(dim=axes, keepdim=True)) * inv_std
        grads = [gx]
        if self.has_weight:
            grads.append(sum_to(gy * xhat, weight.shape) if needs[1] else None)      # (..., *ns) -> ns
        if self.has_bias:
            grads.append(sum_to(gy, self.inputs[-1].shape) if needs[-1] else None)   # (..., *ns) -> ns
        return tuple(grads)


def layer_norm_shape(normalized_shape):
    """normalized_shape (an int or a sequence of ints, as PyTorch takes it) -> a tuple of positive ints."""
    if isinstance(normalized_shape, (int, np.integer)) and not isinstance(normalized_shape, bool):
        shape = (int(normalized_shape),)
    else:
        try:
            shape = tuple(operator.index(n) for n in normalized_shape)
        except TypeError:
            raise TypeError(f"layer_norm: normalized_shape must be an int or a sequence of ints, got "
                            f"{normalized_shape!r}") from None
    if not shape or min(shape) <= 0:
        raise ValueError(f"layer_norm: normalized_shape must be non-empty with positive sizes, got {shape}")
    return shape


def check_layer_norm(x, normalized_shape, weight, bias):
    """Raise a clear error when x's trailing shape is not normalized_shape, or weight / bias don't have it."""
    k = len(normalized_shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k:]) != normalized_shape:
        expected = ", ".join(["*"] + [str(n) for n in normalized_shape])
        raise ValueError(f"layer_norm: normalized_shape {normalized_shape} needs input of shape ({expected}), "
                         f"got input of shape {tuple(x.shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != normalized_shape:
            raise ValueError(f"layer_norm: {name} must have shape normalized_shape {normalized_shape}, got "
                             f"{tuple(p.shape)}")
    if weight is not None:
        check_weight_dtype("layer_norm", x, weight)
    if x.dtype.kind != "f":
        raise TypeError(f"layer_norm: expects a floating point input, got {x.dtype}")


# ==================================================================================================
# GPU: the fused kernels that BatchNorm's forward_gpu / backward_gpu run (tinygan/kernels.py)
# ==================================================================================================
# y = xc * scale + bias in one pass on the GPU; scale and bias are (1, C, 1, 1), broadcast per channel
BATCH_NORM_FORWARD = FusedKernel("tinygan_batch_norm_forward", "T xc, T scale, T bias", "T y",
                                 "y = xc * scale + bias;")
# gx = (xc * k + gy - mean_gy) * scale in one pass (four array ops otherwise), k, mean_gy, scale per channel
BATCH_NORM_BACKWARD = FusedKernel("tinygan_batch_norm_backward", "T xc, T gy, T k, T mean_gy, T scale", "T gx",
                                  "gx = (xc * k + gy - mean_gy) * scale;")


# ==================================================================================================
# Group and instance normalization: layer_norm over channel groups (tinygan/functional.py composes them);
# here the argument checks and instance norm's running statistics
# ==================================================================================================
def check_group_norm(x, num_groups, weight, bias):
    """Raise a clear error for input and parameters group_norm cannot use."""
    if x.ndim < 2:
        raise ValueError(f"group_norm: expects input (N, C, *), got shape {tuple(x.shape)}")
    C = x.shape[1]
    if isinstance(num_groups, bool) or not isinstance(num_groups, (int, np.integer)) or num_groups <= 0:
        raise ValueError(f"group_norm: num_groups must be a positive int, got {num_groups!r}")
    if C % num_groups:
        raise ValueError(f"group_norm: the number of channels ({C}) of input of shape {tuple(x.shape)} must be "
                         f"divisible by num_groups ({num_groups})")
    _check_channel_parameters("group_norm", x, weight=weight, bias=bias)
    if x.dtype.kind != "f":
        raise TypeError(f"group_norm: expects a floating point input, got {x.dtype}")


def check_instance_norm(x, running_mean, running_var, weight, bias, use_input_stats):
    """Raise a clear error for input, statistics and parameters instance_norm cannot use."""
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expects input (N, C, L) or (N, C, H, W), got shape {tuple(x.shape)}")
    _check_channel_parameters("instance_norm", x, running_mean=running_mean, running_var=running_var,
                              weight=weight, bias=bias)
    if use_input_stats and math.prod(x.shape[2:]) <= 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element when training, got input of "
                         f"shape {tuple(x.shape)}")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise ValueError("instance_norm: running_mean and running_var must be given when use_input_stats=False")
    if (running_mean is None) != (running_var is None):
        raise ValueError("instance_norm: give both running_mean and running_var, or neither")


def _check_channel_parameters(op, x, **parameters):
    C = x.shape[1]
    for name, p in parameters.items():
        if p is not None and tuple(p.shape) != (C,):
            raise ValueError(f"{op}: {name} must have shape ({C},) for input of shape {tuple(x.shape)} "
                             f"with {C} channels, got {tuple(p.shape)}")
    if parameters.get("weight") is not None:
        check_weight_dtype(op, x, parameters["weight"])


def update_instance_running_stats(x, running_mean, running_var, momentum):
    """r = (1 - momentum) r + momentum * s in place, s the batch average of each instance's mean (running_mean)
    and unbiased variance (running_var) per channel, as PyTorch's instance_norm: x (N, C, *) array."""
    axes = tuple(range(2, x.ndim))                                # the spatial axes
    count = math.prod(x.shape[2:])
    mean = x.mean(axis=axes)                                      # (N, C, *) -> (N, C)
    var = x.var(axis=axes) * (count / (count - 1))                # (N, C, *) -> (N, C), unbiased
    running_mean *= 1 - momentum
    running_mean += momentum * mean.mean(axis=0).astype(running_mean.dtype)   # (N, C) -> (C,)
    running_var *= 1 - momentum
    running_var += momentum * var.mean(axis=0).astype(running_var.dtype)      # (N, C) -> (C,)

"""Batch normalization over the channel axis 1 of (N, C), (N, C, L) or (N, C, H, W) input.

Training normalises with the batch's own statistics, so every output depends on every input of its
channel; the backward below is the compact form of that dependency. Evaluation uses the running
statistics, a fixed per-channel affine map.
"""
from tinygan.backend import get_array_module
from tinygan.tensor import Function


class BatchNorm(Function):
    """training: xhat = (x - mean) / sqrt(var + eps), y = weight * xhat + bias (mean, biased var over N*H*W);
    gx = inv_std / M * (M gxhat - sum(gxhat) - xhat * sum(gxhat * xhat)), gxhat = gy * weight,
    gweight = sum(gy * xhat), gbias = sum(gy), sums over the M = N*H*W values of each channel.
    eval: y = (x - running_mean) * inv_std * weight + bias;  gx = gy * weight * inv_std.

    Inputs are x, then weight and/or bias when given (``has_weight``, ``has_bias``). Training updates
    running_mean / running_var in place: r = (1 - momentum) r + momentum * batch statistic, with the
    unbiased variance for running_var, as PyTorch does.
    """

    def __init__(self, running_mean, running_var, training, momentum, eps, has_weight, has_bias):
        self.running_mean, self.running_var = running_mean, running_var
        self.training, self.momentum, self.eps = training, momentum, eps
        self.has_weight, self.has_bias = has_weight, has_bias

    def forward(self, x, *affine):
        xp = get_array_module(x)
        weight = affine[0] if self.has_weight else None
        bias = affine[-1] if self.has_bias else None
        self.axes = (0,) + tuple(range(2, x.ndim))                # every axis but the channel axis 1
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)             # (C,) -> (1, C, 1, 1) for broadcasting
        self.shape, self.count = shape, x.size // x.shape[1]
        if self.training:
            mean = x.mean(axis=self.axes, keepdims=True)
            xhat = x - mean                                       # centred for now; normalised in place below
            var = _channel_dot(xhat, xhat).reshape(shape) / self.count   # biased: normalise by the batch itself
            inv_std = 1 / xp.sqrt(var + self.eps)
            self._update_running(mean, var)
        else:
            mean = self.running_mean.reshape(shape)               # (C,) -> (1, C, 1, 1)
            inv_std = 1 / xp.sqrt(self.running_var.reshape(shape) + self.eps)
            xhat = x - mean
        xhat *= inv_std
        self.xhat, self.inv_std = xhat, inv_std
        self.weight = None if weight is None else weight.reshape(shape)   # (C,) -> (1, C, 1, 1)
        if weight is None:
            return xhat if bias is None else xhat + bias.reshape(shape)  # (C,) -> (1, C, 1, 1)
        y = xhat * self.weight
        if bias is not None:
            y += bias.reshape(shape)                              # (C,) -> (1, C, 1, 1)
        return y

    def _update_running(self, mean, var):
        m, n = self.momentum, self.count
        if self.running_mean is not None:
            self.running_mean *= 1 - m
            self.running_mean += m * mean.reshape(-1)             # (1, C, 1, 1) -> (C,)
        if self.running_var is not None:
            self.running_var *= 1 - m
            self.running_var += (m * n / (n - 1)) * var.reshape(-1)   # unbiased variance, (1, C, 1, 1) -> (C,)

    def backward(self, gy):
        """With gxhat = gy * w the training gx above simplifies, since sum(gxhat) = w sum(gy) and
        sum(gxhat * xhat) = w sum(gy * xhat), the very sums gbias and gweight need:
        gx = w inv_std (gy - sum(gy) / M - xhat * sum(gy * xhat) / M), one full-size array, built in place.
        """
        needs = self.needs_input_grad
        xhat, inv_std, axes, shape = self.xhat, self.inv_std, self.axes, self.shape
        need_gweight = self.has_weight and needs[1]
        need_gbias = self.has_bias and needs[-1]
        scale = inv_std if self.weight is None else self.weight * inv_std       # (1, C, 1, 1)
        sum_gy = sum_gy_xhat = None
        if need_gbias or (needs[0] and self.training):
            sum_gy = gy.sum(axis=axes)                            # (N, C, H, W) -> (C,)
        if need_gweight or (needs[0] and self.training):
            sum_gy_xhat = _channel_dot(gy, xhat)                  # (N, C, H, W) -> (C,)
        gx = None
        if needs[0]:
            if self.training:
                m = self.count
                gx = xhat * (sum_gy_xhat.reshape(shape) / -m)     # (C,) -> (1, C, 1, 1)
                gx += gy
                gx -= sum_gy.reshape(shape) / m                   # (C,) -> (1, C, 1, 1)
                gx *= scale
            else:
                gx = gy * scale
        grads = [gx]
        if self.has_weight:
            grads.append(sum_gy_xhat if need_gweight else None)
        if self.has_bias:
            grads.append(sum_gy if need_gbias else None)
        return tuple(grads)


def _channel_dot(a, b):
    """sum(a * b) over every axis but the channel axis 1, without the full-size product: (N, C, ...) -> (C,)."""
    xp = get_array_module(a)
    N, C = a.shape[:2]
    return xp.einsum("nck,nck->c", a.reshape(N, C, -1), b.reshape(N, C, -1))   # (N, C, ...) -> (N, C, K)


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
    values = 1
    for n in x.shape:
        values *= n
    if training and values // max(C, 1) <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {tuple(x.shape)}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var must be given in evaluation mode "
                         "(training=False)")

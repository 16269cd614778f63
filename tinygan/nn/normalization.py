"""BatchNorm1d and BatchNorm2d: normalise each channel by its batch statistics, then scale and shift; LayerNorm:
normalise each sample over its trailing axes; GroupNorm: each sample's channel groups; InstanceNorm1d/2d: each
sample's channels one by one (then scale and shift).

Batch norm in training mode: the batch mean and (biased) variance normalise; the running averages are updated
in place, running = (1 - momentum) * running + momentum * batch statistic, with the UNBIASED batch variance for
running_var, and num_batches_tracked goes up by one. Eval mode: the running averages normalise.
momentum=None uses the cumulative average 1 / num_batches_tracked instead, as PyTorch.
"""
import warnings

import numpy as np

from tinygan import functional as F
from tinygan.core import Tensor
from tinygan.nn import init
from tinygan.nn.module import Module, call_naming_errors, check_input, factory_arguments, filled_parameter
from tinygan.ops.normalization import layer_norm_shape


class _BatchNorm(Module):
    """weight (gamma) = 1 and bias (beta) = 0 of shape (num_features,); buffers running_mean = 0,
    running_var = 1 and num_batches_tracked = 0 (int64). The keyword-only ``bias=False`` (PyTorch 2.13)
    keeps the scale and drops the shift."""
    _input_shapes = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _affine_parameters(self, affine, bias, (self.num_features,), device, dtype)
        xp, dtype = factory_arguments(device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor.from_array(xp.zeros((self.num_features,), dtype=dtype)))
            self.register_buffer("running_var", Tensor.from_array(xp.ones((self.num_features,), dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor.from_array(xp.zeros((), dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _ndim_ok(self, x):
        raise NotImplementedError

    def forward(self, x):
        check_input(self, x, lambda x: self._ndim_ok(x) and x.shape[1] == self.num_features,
                    self._input_shapes.format(C=self.num_features))
        tracking = self.training and self.track_running_stats
        factor = 0.0 if self.momentum is None else self.momentum
        if tracking and self.momentum is None:                  # the cumulative average over batches so far
            factor = 1.0 / (float(self.num_batches_tracked.array) + 1)
        use_batch_stats = self.training or self.running_mean is None
        # eval with tracked statistics normalises by them; training updates them inside F.batch_norm
        track = not self.training or self.track_running_stats
        y = call_naming_errors(self, F.batch_norm, x, self.running_mean if track else None,
                               self.running_var if track else None, self.weight, self.bias, use_batch_stats,
                               factor, self.eps)
        if tracking:
            self.num_batches_tracked.array += 1                  # in place, on the buffer's device
        return y

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs, per channel C."""
    _input_shapes = "(N, {C}) or (N, {C}, L)"

    def _ndim_ok(self, x):
        return x.ndim in (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs, per channel C (statistics over N, H and W)."""
    _input_shapes = "(N, {C}, H, W)"

    def _ndim_ok(self, x):
        return x.ndim == 4


class LayerNorm(Module):
    """Layer norm: each sample normalised over its trailing ``normalized_shape`` axes (no batch statistics, the
    same in training and evaluation), then scaled by weight = 1 and shifted by bias = 0, both of shape
    normalized_shape (``elementwise_affine=False``: neither; ``bias=False``: no shift). As PyTorch's
    nn.LayerNorm; unlike BatchNorm it has a second derivative, so WGAN-GP critics use it."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = layer_norm_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, elementwise_affine, bias, self.normalized_shape, device, dtype)

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, x):
        k = len(self.normalized_shape)
        check_input(self, x, lambda x: x.ndim >= k and tuple(x.shape[x.ndim - k:]) == self.normalized_shape,
                    "(*, " + ", ".join(str(n) for n in self.normalized_shape) + ")")
        return call_naming_errors(self, F.layer_norm, x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


def _affine_parameters(module, affine, bias, shape, device, dtype):
    """Register weight = 1 and bias = 0 of ``shape`` (no bias when not ``bias``; neither when not ``affine``)."""
    module.register_parameter("weight", filled_parameter(1, *shape, device=device, dtype=dtype) if affine else None)
    has_bias = affine and bias
    module.register_parameter("bias", filled_parameter(0, *shape, device=device, dtype=dtype) if has_bias else None)


class _InstanceNorm(_BatchNorm):
    """Instance norm: each channel of each sample normalised by its own mean and (biased) variance over the
    spatial axes, then scaled and shifted per channel when ``affine``. Unlike batch norm, affine=False and
    track_running_stats=False by default; with track_running_stats, training still normalises by each
    instance's statistics and updates running_mean / running_var with their batch average (unbiased variance),
    evaluation normalises by the running averages. An input without the batch axis is taken as one sample."""
    _no_batch_ndim = 0                      # the input's dimensions without the batch axis: (C, L) or (C, H, W)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, x):
        check_input(self, x, lambda x: x.ndim in (self._no_batch_ndim, self._no_batch_ndim + 1),
                    self._input_shapes.format(C=self.num_features))
        channel_axis = x.ndim - self._no_batch_ndim
        if x.shape[channel_axis] != self.num_features:
            message = (f"{self._error_name()} expected input's size at dim={channel_axis} to match num_features "
                       f"({self.num_features}), got {x.shape[channel_axis]}")
            if self.affine:
                raise ValueError(message)
            warnings.warn(message + " (num_features is not used because affine=False)", stacklevel=2)
        unbatched = x.ndim == self._no_batch_ndim
        if unbatched:
            x = x.reshape((1,) + tuple(x.shape))                 # (C, *) -> (1, C, *)
        y = call_naming_errors(self, F.instance_norm, x, self.running_mean, self.running_var, self.weight,
                               self.bias, self.training or not self.track_running_stats,
                               0.0 if self.momentum is None else self.momentum, self.eps)
        return y.reshape(tuple(y.shape[1:])) if unbatched else y  # (1, C, *) -> (C, *)


class InstanceNorm1d(_InstanceNorm):
    """Instance norm over (N, C, L) or (C, L) inputs, each channel of each sample over L."""
    _input_shapes = "(N, {C}, L) or ({C}, L)"
    _no_batch_ndim = 2


class InstanceNorm2d(_InstanceNorm):
    """Instance norm over (N, C, H, W) or (C, H, W) inputs, each channel of each sample over H and W."""
    _input_shapes = "(N, {C}, H, W) or ({C}, H, W)"
    _no_batch_ndim = 3


class GroupNorm(Module):
    """Group norm: the C channels of each sample split into num_groups groups of C / num_groups, each group
    normalised by its own mean and (biased) variance over its channels and spatial axes, then each channel
    scaled by weight = 1 and shifted by bias = 0, both (C,) (``affine=False``: neither). No batch statistics:
    the same in training and evaluation, and it has a second derivative. Input (N, C, *)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        if self.num_groups <= 0 or self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels ({self.num_channels}) must be divisible by num_groups "
                             f"({self.num_groups})")
        self.eps = eps
        self.affine = affine
        _affine_parameters(self, affine, bias, (self.num_channels,), device, dtype)

    def reset_parameters(self):
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, x):
        check_input(self, x, lambda x: x.ndim >= 2 and x.shape[1] == self.num_channels,
                    f"(N, {self.num_channels}, *)")
        return call_naming_errors(self, F.group_norm, x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, " \
               f"bias={self.bias is not None}"

"""tinygan.functional, imported as ``F`` as in PyTorch: activations, layers and losses as functions.

Each function here is a thin wrapper that checks its arguments (clear errors naming the op and the shapes)
and applies a Function from tinygan/ops/; read the op's class for its forward and backward. Signatures, defaults and weight layouts are PyTorch's.
"""
import warnings as _warnings

import numpy as _np

from tinygan.core import Tensor, array_of
from tinygan.core import array_backend as _array_backend
from tinygan.ops import adaptive_pool as _adaptive
from tinygan.ops import conv as _conv
from tinygan.ops import dropout as _dropout
from tinygan.ops import elementwise as _elem
from tinygan.ops import embedding as _embedding
from tinygan.ops import linear as _linear
from tinygan.ops import loss as _loss
from tinygan.ops import normalization as _norm
from tinygan.ops import pad as _pad
from tinygan.ops import pool as _pool
from tinygan.ops import reduction as _red
from tinygan.ops import resize as _resize
from tinygan.ops import shape as _shape


# ==================================================================================================
# Elementwise and activations
# ==================================================================================================
def exp(x):
    """exp(x) elementwise."""
    return _elem.Exp.apply(x)


def log(x):
    """Natural logarithm elementwise."""
    return _elem.Log.apply(x)


def sqrt(x):
    """Square root elementwise."""
    return _elem.Sqrt.apply(x)


def abs(x):
    """|x| elementwise."""
    return _elem.Abs.apply(x)


def clamp(x, min=None, max=None):
    """min(max(x, min), max) elementwise."""
    return x.clamp(min, max)


def tanh(x):
    """tanh(x) elementwise."""
    return _elem.Tanh.apply(x)


def sigmoid(x):
    """1 / (1 + exp(-x)) elementwise."""
    return _elem.Sigmoid.apply(x)


def relu(x):
    """max(x, 0) elementwise."""
    return _elem.ReLU.apply(x)


def leaky_relu(x, negative_slope=0.01):
    """x if x > 0 else negative_slope * x."""
    return _elem.LeakyReLU.apply(x, negative_slope=negative_slope)


def softplus(x):
    """log(1 + exp(x)), stable for large |x|."""
    return _elem.Softplus.apply(x)


def gelu(input, approximate="none"):
    """x * Phi(x), Phi the standard normal distribution function; approximate="tanh": PyTorch's tanh formula."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _elem.GELU.apply(input, approximate=approximate)


def silu(input, inplace=False):
    """x * sigmoid(x) (swish). ``inplace`` is accepted for PyTorch's signature; the result is a new tensor."""
    return _elem.SiLU.apply(input)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p, eps), the p-norm taken over ``dim`` (PyTorch's F.normalize; out is not supported)."""
    if out is not None:
        raise NotImplementedError("normalize: out= is not supported by tinygan; use the returned tensor")
    return input / _red.norm(input, p, dim, keepdim=True).clamp(min=eps)


def softmax(x, dim=-1):
    """exp(x) / sum(exp(x)) along ``dim``."""
    return _red.Softmax.apply(x, dim=dim)


def log_softmax(x, dim=-1):
    """x - logsumexp(x) along ``dim``."""
    return _red.LogSoftmax.apply(x, dim=dim)


# ==================================================================================================
# Joining tensors
# ==================================================================================================
def cat(tensors, dim=0):
    """Join tensors along an existing axis."""
    return _shape.Cat.apply(*tensors, dim=dim)


def stack(tensors, dim=0):
    """Join same-shaped tensors along a new axis."""
    return _shape.Stack.apply(*tensors, dim=dim)


# ==================================================================================================
# Layers
# ==================================================================================================
def linear(input, weight, bias=None):
    """y = input @ weight^T + bias, weight (out_features, in_features); input (..., in_features)."""
    _linear.check_linear_shapes(input, weight, bias)
    if bias is None:
        return _linear.Linear.apply(input, weight)
    return _linear.Linear.apply(input, weight, bias)


def conv2d(input, weight, bias=None, stride=1, padding=0):
    """2-D convolution (cross-correlation) of (N, C_in, H, W) with weight (C_out, C_in, kH, kW).

    Output size per axis: (H + 2 * padding - kH) // stride + 1.
    """
    stride = _conv.pair(stride, "stride", "conv2d", 1)
    padding = _conv.pair(padding, "padding", "conv2d", 0)
    _conv.check_conv(input, weight, bias, stride, padding)
    inputs = (input, weight) if bias is None else (input, weight, bias)
    return _conv.Conv2d.apply(*inputs, stride=stride, padding=padding)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    """2-D transposed convolution of (N, C_in, H, W) with weight (C_in, C_out, kH, kW): conv2d's adjoint.

    Output size per axis: (H - 1) * stride - 2 * padding + kH + output_padding.
    """
    stride = _conv.pair(stride, "stride", "conv_transpose2d", 1)
    padding = _conv.pair(padding, "padding", "conv_transpose2d", 0)
    output_padding = _conv.pair(output_padding, "output_padding", "conv_transpose2d", 0)
    _conv.check_conv_transpose(input, weight, bias, stride, padding, output_padding)
    inputs = (input, weight) if bias is None else (input, weight, bias)
    return _conv.ConvTranspose2d.apply(*inputs, stride=stride, padding=padding, output_padding=output_padding)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Maximum of each kernel_size window of (N, C, H, W) input, moved by stride (default: kernel_size).

    Pads with -inf (padding <= kernel_size / 2); the gradient goes to the first maximum of each window, as in
    PyTorch. Output size per axis: (H + 2 * padding - kH) // stride + 1. Only dilation=1, ceil_mode=False and
    return_indices=False.
    """
    _pool.unsupported("max_pool2d", dilation=(dilation, 1), ceil_mode=(ceil_mode, False),
                      return_indices=(return_indices, False))
    kernel, stride, padding = _pool.pool_arguments("max_pool2d", kernel_size, stride, padding)
    _pool.check_pool("max_pool2d", input, kernel, stride, padding)
    return _pool.MaxPool2d.apply(input, kernel=kernel, stride=stride, padding=padding)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean of each kernel_size window of (N, C, H, W) input, moved by stride (default: kernel_size).

    Pads with zeros (padding <= kernel_size / 2), counted in the mean when count_include_pad (PyTorch's
    default), left out of it otherwise. Only ceil_mode=False and divisor_override=None.
    """
    _pool.unsupported("avg_pool2d", ceil_mode=(ceil_mode, False), divisor_override=(divisor_override, None))
    kernel, stride, padding = _pool.pool_arguments("avg_pool2d", kernel_size, stride, padding)
    _pool.check_pool("avg_pool2d", input, kernel, stride, padding)
    return _pool.AvgPool2d.apply(input, kernel=kernel, stride=stride, padding=padding,
                                 count_include_pad=bool(count_include_pad))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Normalise each channel (axis 1) of (N, C) or (N, C, H, W) input, then scale by weight and shift by bias.

    training=True: batch statistics (biased variance), and running_mean / running_var (arrays or tensors,
    may be None) are updated in place with momentum, running_var with the unbiased variance.
    training=False: the running statistics.
    """
    running_mean, running_var = array_of(running_mean), array_of(running_var)
    _norm.check_batch_norm(input, running_mean, running_var, weight, bias, training)
    affine = [p for p in (weight, bias) if p is not None]
    return _norm.BatchNorm.apply(input, *affine, running_mean=running_mean, running_var=running_var,
                                 training=bool(training), momentum=momentum, eps=eps,
                                 has_weight=weight is not None, has_bias=bias is not None)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (identity when not training).

    ``inplace`` is accepted for PyTorch's signature; tinygan always returns a new tensor.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    return _dropout.Dropout.apply(input, p=p)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of weight (num_embeddings, embedding_dim) picked by the integer ids in ``input``."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not supported")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape "
                         f"{tuple(weight.shape)}")
    ids = _int_array(input, weight, "embedding")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for {num} embeddings")
        padding_idx %= num
    if ids.size and _array_backend.device_of(ids) == "cpu" and (ids.min() < 0 or ids.max() >= num):
        raise IndexError(f"embedding: ids must be in [0, {num}), got values in [{ids.min()}, {ids.max()}]")
    return _embedding.Embedding.apply(weight, ids=ids, padding_idx=padding_idx)


def one_hot(tensor, num_classes=-1):
    """(...,) integer labels -> (..., num_classes) int64 tensor of 0s and a 1 at each label (no gradient).

    The range check runs on the CPU only, as embedding's: on the GPU it would read the labels back, a host
    sync in every conditional GAN step.
    """
    labels = array_of(tensor)
    xp = _array_backend.get_array_module(labels)
    labels = xp.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {labels.dtype}")
    if num_classes == -1:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    on_cpu = _array_backend.device_of(labels) == "cpu"
    if labels.size and on_cpu and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"one_hot: labels must be in [0, {num_classes}), got values in "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    return Tensor.from_array((labels[..., None] == xp.arange(num_classes)).astype(xp.int64))


# ==================================================================================================
# Losses: reduction="mean" | "sum" | "none"; targets may be tensors or arrays. The deprecated size_average and
# reduce, where PyTorch has them, give a reduction as PyTorch's (with its warning): tinygan/ops/loss.py
# ==================================================================================================
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """Binary cross entropy of logits: softplus(x) - x * t, stable for any logit (never sigmoid then log)."""
    name = "binary_cross_entropy_with_logits"
    reduction = _loss.legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, name)
    target = _target(target, input, name)
    inputs, weight = _with_weight(input, target, weight, name)
    if pos_weight is not None:
        pos_weight = _array_backend.to_device(array_of(pos_weight), input.device)   # a constant: moved, as a buffer
        if pos_weight.ndim and pos_weight.shape[-1] not in (1, input.shape[-1]):
            raise ValueError(f"{name}: pos_weight of shape {tuple(pos_weight.shape)} must match the last "
                             f"dimension of input of shape {tuple(input.shape)}")
        pos_weight = pos_weight.astype(input.dtype, copy=False)
    return _loss.BCEWithLogits.apply(*inputs, reduction=reduction, has_weight=weight is not None,
                                     pos_weight=pos_weight)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Binary cross entropy of probabilities: -(t log p + (1 - t) log(1 - p)), logs clamped at -100."""
    name = "binary_cross_entropy"
    reduction = _loss.legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, name)
    target = _target(target, input, name)
    if _array_backend.device_of(input.array) == "cpu" and input.array.size and (
            input.array.min() < 0 or input.array.max() > 1):
        raise ValueError(f"{name}: all elements of input should be between 0 and 1 (probabilities; for "
                         f"logits use binary_cross_entropy_with_logits)")
    inputs, weight = _with_weight(input, target, weight, name)
    return _loss.BCE.apply(*inputs, reduction=reduction, has_weight=weight is not None)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error: weight * (input - target)^2, reduced (weighted mean: divided by sum(weight))."""
    return _pointwise_loss(_loss.MSE, "mse_loss", input, target, weight,
                           _loss.legacy_reduction(size_average, reduce, reduction))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error: weight * |input - target|, reduced (weighted mean: divided by sum(weight))."""
    return _pointwise_loss(_loss.L1, "l1_loss", input, target, weight,
                           _loss.legacy_reduction(size_average, reduce, reduction))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """(input - target)^2 / (2 beta) where |input - target| < beta, else |input - target| - beta / 2, reduced;
    beta=0 is l1_loss."""
    reduction = _loss.legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    return _pointwise_loss(_loss.Huber, "smooth_l1_loss", input, target, None, reduction, delta=beta, scale=1 / beta)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """(input - target)^2 / 2 where |input - target| < delta, else delta (|input - target| - delta / 2), reduced."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _pointwise_loss(_loss.Huber, "huber_loss", input, target, weight, reduction, delta=delta)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL divergence of ``target`` from ``input`` (log-probabilities): target (log target - input) per element
    (target given as log-probabilities with log_target), reduced; "batchmean" divides the sum by the batch size
    (the KL divergence per sample), "mean" by every element (with PyTorch's warning)."""
    reduction = _loss.legacy_reduction(size_average, reduce, reduction)
    if reduction not in _loss.REDUCTIONS + ("batchmean",):
        raise ValueError(f"kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none', got {reduction!r}")
    if reduction == "mean":
        _warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                       "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                       "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                       UserWarning, stacklevel=2)
    return _loss.KLDiv.apply(input, _target(target, input, "kl_div"), reduction=reduction,
                             log_target=bool(log_target))


def _pointwise_loss(op, name, input, target, weight, reduction, **params):
    """op's loss of input and target (same shape), times weight (broadcast) if given, reduced. PyTorch's weighted
    mse_loss and l1_loss take the mean as sum(weight * loss) / sum(weight); huber_loss's divides by the count."""
    _check_reduction(reduction, name)
    inputs, weight = _with_weight(input, _target(target, input, name), weight, name)
    if weight is not None and reduction == "mean" and name in ("mse_loss", "l1_loss"):
        total = op.apply(*inputs, reduction="sum", has_weight=True, **params)
        return total / weight.broadcast_to(tuple(input.shape)).sum()
    return op.apply(*inputs, reduction=reduction, has_weight=weight is not None, **params)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log likelihood of log-probabilities (N, C) at integer class targets (N,)."""
    name = "nll_loss"
    reduction = _loss.legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, name)
    if input.ndim != 2:
        raise ValueError(f"{name}: expects input (N, C), got shape {tuple(input.shape)}")
    N, C = input.shape
    t = _int_array(target, input, name)
    if t.shape != (N,):
        raise ValueError(f"{name}: target must have shape ({N},) for input of shape {tuple(input.shape)}, "
                         f"got {tuple(t.shape)}")
    if _array_backend.device_of(t) == "cpu":
        bad = (t != ignore_index) & ((t < 0) | (t >= C))
        if bad.any():
            raise IndexError(f"{name}: target {int(t[bad][0])} is out of bounds for {C} classes")
    w = array_of(weight)
    if w is not None:
        w = _array_backend.to_device(w, input.device)                                 # a constant: moved, as a buffer
        if tuple(w.shape) != (C,):
            raise ValueError(f"{name}: weight must have shape ({C},), got {tuple(w.shape)}")
        w = w.astype(input.dtype, copy=False)
    return _loss.NLL.apply(input, target=t, weight=w, ignore_index=ignore_index, reduction=reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """Cross entropy of logits (N, C) and integer class targets (N,): nll_loss(log_softmax(input, 1), target)."""
    reduction = _loss.legacy_reduction(size_average, reduce, reduction)
    if label_smoothing:
        raise NotImplementedError("cross_entropy: label_smoothing is not supported")
    if input.ndim != 2:
        raise ValueError(f"cross_entropy: expects input (N, C), got shape {tuple(input.shape)}")
    return nll_loss(_red.LogSoftmax.apply(input, dim=1), target, weight, ignore_index=ignore_index,
                    reduction=reduction)


def _check_reduction(reduction, name):
    if reduction not in _loss.REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _target(target, input, name):
    """The target as a tensor of input's dtype and device and shape; a tensor keeps its graph."""
    if isinstance(target, Tensor):
        if target.dtype != input.dtype:
            target = target.to(dtype=input.dtype)
    else:
        array = _array_backend.to_device(target, input.device)
        target = Tensor.from_array(_array_backend.get_array_module(array).asarray(array, dtype=input.dtype))
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{name}: target shape {tuple(target.shape)} must match input shape "
                         f"{tuple(input.shape)}")
    return target


def _with_weight(input, target, weight, name):
    """The op's inputs (input, target[, weight]) with weight as a tensor that broadcasts to input."""
    if weight is None:
        return (input, target), None
    if not isinstance(weight, Tensor):
        array = _array_backend.to_device(weight, input.device)
        weight = Tensor.from_array(_array_backend.get_array_module(array).asarray(array, dtype=input.dtype))
    elif weight.dtype != input.dtype:
        weight = weight.to(dtype=input.dtype)
    try:   # NumPy's on shape tuples, whatever the device: no array is touched
        ok = _np.broadcast_shapes(weight.shape, input.shape) == tuple(input.shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name}: weight of shape {tuple(weight.shape)} does not broadcast to input shape "
                         f"{tuple(input.shape)}")
    return (input, target, weight), weight


def _int_array(ids, like, name):
    """Integer ids (tensor, array or list) as an array on ``like``'s device."""
    array = array_of(ids)
    array = _array_backend.to_device(array, like.device)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name}: expects integer ids/targets, got dtype {array.dtype}")
    return array



# ==================================================================================================
# Resizing, padding, channel dropout, ELU (PyTorch code ported as is: nn.Upsample, F.pad, nn.Dropout2d)
# ==================================================================================================
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    """Resize (N, C, H, W) images to ``size`` (OH, OW) or by ``scale_factor``: (floor(H * s_h), floor(W * s_w)).

    Modes "nearest" (PyTorch's floor(dst / scale) source pixel), "nearest-exact" and "bilinear" (align_corners
    False: pixel centres; True: corner pixels aligned); PyTorch's source coordinates exactly. Nearest by integer
    factors (scale_factor=2) is a block copy; see tinygan/ops/resize.py. Only 4-D input, antialias=False.
    """
    out_size, scales = _resize.interpolate_arguments(input, size, scale_factor, mode, align_corners,
                                                     recompute_scale_factor, antialias)
    op, params = _resize.resize_op(input, out_size, scales, mode, align_corners)
    return op.apply(input, **params)


def pad(input, pad, mode="constant", value=None):
    """Pad ``input`` with ``value`` (default 0): pad = (left, right[, top, bottom[, ...]]), last axis first, as in
    PyTorch; negative amounts crop. Only mode="constant"."""
    if mode != "constant":
        raise NotImplementedError(f"pad: only mode='constant' is supported by tinygan, got mode={mode!r}")
    pads = _pad.pad_arguments(input.shape, pad)
    return _pad.Pad.apply(input, pads=pads, value=0 if value is None else value)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero each whole channel of (N, C, H, W) input with probability p (masks of shape (N, C, 1, 1)) and scale
    the rest by 1 / (1 - p); identity when not training. 3-D input is (N, C, L), with PyTorch's warning.

    ``inplace`` is accepted for PyTorch's signature; tinygan always returns a new tensor.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout2d: dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expects a 4-D input (N, C, H, W) (or 3-D (N, C, L)), got shape "
                         f"{tuple(input.shape)}")
    if input.ndim == 3:
        _warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "To maintain the 1D channel-wise dropout behavior, please switch to using dropout1d "
                      "instead.", UserWarning, stacklevel=2)
    if not training or p == 0:
        return input
    mask_shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _dropout.Dropout.apply(input, p=p, mask_shape=mask_shape)


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x) - 1), as relu(x) + alpha * (exp(-relu(-x)) - 1) (exp never overflows).

    ``inplace`` is accepted for PyTorch's signature; tinygan always returns a new tensor.
    """
    return _elem.ReLU.apply(input) + (_elem.Exp.apply(-_elem.ReLU.apply(-input)) - 1) * alpha


# ==================================================================================================
# Layer normalization (WGAN-GP critics: it has a second derivative; batch_norm has not)
# ==================================================================================================
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise each sample over its trailing ``normalized_shape`` axes (mean 0, biased variance 1), then scale
    by weight and shift by bias (both of shape normalized_shape, optional): PyTorch's F.layer_norm."""
    normalized_shape = _norm.layer_norm_shape(normalized_shape)
    _norm.check_layer_norm(input, normalized_shape, weight, bias)
    affine = [p for p in (weight, bias) if p is not None]
    return _norm.LayerNorm.apply(input, *affine, ndim=len(normalized_shape), eps=eps,
                                 has_weight=weight is not None, has_bias=bias is not None)


# ==================================================================================================
# Group and instance normalization, composed of layer_norm (so they have a second derivative)
# ==================================================================================================
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each group of C / num_groups channels of each sample of (N, C, *) input over its channels and
    spatial axes (mean 0, biased variance 1), then scale and shift each channel by weight and bias (C,)."""
    _norm.check_group_norm(input, num_groups, weight, bias)
    N = input.shape[0]
    grouped = input.reshape(N, num_groups, -1)                   # (N, C, *) -> (N, G, C/G * prod(*))
    xhat = layer_norm(grouped, grouped.shape[-1:], eps=eps).reshape(input.shape)   # (N, G, M) -> (N, C, *)
    return _channel_affine(xhat, weight, bias)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each channel of each sample of (N, C, *) input over its spatial axes, then scale and shift each
    channel by weight and bias (C,). use_input_stats=True (training): each instance's own statistics, and
    running_mean / running_var (if given) updated in place with momentum towards their batch average (unbiased
    variance); use_input_stats=False: the running statistics normalise, as batch_norm in evaluation."""
    running_mean, running_var = array_of(running_mean), array_of(running_var)
    _norm.check_instance_norm(input, running_mean, running_var, weight, bias, use_input_stats)
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    if running_mean is not None or running_var is not None:
        _norm.update_instance_running_stats(input.array, running_mean, running_var, momentum)
    return group_norm(input, input.shape[1], weight, bias, eps)


def _channel_affine(x, weight, bias):
    """x * weight + bias with weight and bias (C,) applied along axis 1 of (N, C, *) x (either may be None)."""
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)                # (C,) -> (1, C, 1, ...) for broadcasting
    if weight is not None:
        x = x * weight.reshape(shape)
    if bias is not None:
        x = x + bias.reshape(shape)
    return x


# ==================================================================================================
# Adaptive pooling (PyTorch's windows: start = floor(i * H / OH), end = ceil((i + 1) * H / OH))
# ==================================================================================================
def adaptive_avg_pool2d(input, output_size):
    """Mean of each window of (N, C, H, W) or (C, H, W) input, the windows drawn so that the output is
    output_size (an int, or a pair whose None entries keep the input's size)."""
    _adaptive.check_adaptive_input("adaptive_avg_pool2d", input)
    out_h, out_w = _adaptive.adaptive_output_size("adaptive_avg_pool2d", input, output_size)
    x = input if input.ndim == 4 else input.reshape((1,) + tuple(input.shape))   # (C, H, W) -> (1, C, H, W)
    xp = _array_backend.get_array_module(input.array)
    rows = _adaptive.average_matrix(x.shape[2], out_h, input.dtype, xp)         # (OH, H)
    cols = _adaptive.average_matrix(x.shape[3], out_w, input.dtype, xp)         # (OW, W)
    y = _resize.Resize2d.apply(x, rows=rows, cols=cols)
    return y if input.ndim == 4 else y.reshape(tuple(y.shape[1:]))             # (1, C, OH, OW) -> (C, OH, OW)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Maximum of each adaptive window (as adaptive_avg_pool2d's) of (N, C, H, W) or (C, H, W) input; the
    gradient goes to each window's first maximum. return_indices=True also returns the flat positions
    h * W + w of the maxima (int64), as PyTorch."""
    _adaptive.check_adaptive_input("adaptive_max_pool2d", input)
    out_size = _adaptive.adaptive_output_size("adaptive_max_pool2d", input, output_size)
    x = input if input.ndim == 4 else input.reshape((1,) + tuple(input.shape))   # (C, H, W) -> (1, C, H, W)
    N, C, H, W = x.shape
    positions = _adaptive.max_positions(x.array, out_size)                       # (N, C, OH, OW)
    xp = _array_backend.get_array_module(positions)
    rows = xp.arange(N * C)[:, None]                                             # (N*C, 1) image of each row
    flat = x.reshape(N * C, H * W)                                               # (N, C, H, W) -> (N*C, H*W)
    y = flat[rows, positions.reshape(N * C, -1)].reshape(input.shape[:-2] + out_size)   # (N*C, OH*OW) -> out
    if not return_indices:
        return y
    return y, Tensor.from_array(positions.reshape(y.shape))


# ==================================================================================================
# Pixel shuffle: channels to space and back, a reshape and a transpose
# ==================================================================================================
def pixel_shuffle(input, upscale_factor):
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r): out[c, h*r + i, w*r + j] = in[c*r^2 + i*r + j, h, w]."""
    r = _shape.shuffle_factor("pixel_shuffle", "upscale_factor", upscale_factor)
    _shape.check_pixel_shuffle(input, r)
    *lead, C, H, W = input.shape
    c = C // (r * r)
    x = input.reshape(tuple(lead) + (c, r, r, H, W))             # (*, C r^2, H, W) -> (*, C, r, r, H, W)
    k = len(lead)
    x = x.permute(tuple(range(k)) + (k, k + 3, k + 1, k + 4, k + 2))   # -> (*, C, H, r, W, r)
    return x.reshape(tuple(lead) + (c, H * r, W * r))            # (*, C, H, r, W, r) -> (*, C, H r, W r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W), pixel_shuffle's inverse."""
    r = _shape.shuffle_factor("pixel_unshuffle", "downscale_factor", downscale_factor)
    _shape.check_pixel_unshuffle(input, r)
    *lead, C, Hr, Wr = input.shape
    H, W = Hr // r, Wr // r
    x = input.reshape(tuple(lead) + (C, H, r, W, r))             # (*, C, H r, W r) -> (*, C, H, r, W, r)
    k = len(lead)
    x = x.permute(tuple(range(k)) + (k, k + 2, k + 4, k + 1, k + 3))   # -> (*, C, r, r, H, W)
    return x.reshape(tuple(lead) + (C * r * r, H, W))            # (*, C, r, r, H, W) -> (*, C r^2, H, W)


__all__ = [name for name in dir() if not name.startswith("_") and name != "Tensor"]

"""Loss functions, each one fused Function: the elementwise loss, an optional weight, and the reduction.

Each loss class defines ``elementwise(x, t)`` (the unweighted loss per element, keeping what backward
needs) and ``grads(g, needs_x, needs_t)`` (the gradients given g = upstream gradient per element).
``_Loss`` does the rest: weighting, reduction ("mean", "sum", "none"; KL divergence's "batchmean") and the
reduction's backward. ``legacy_reduction`` maps PyTorch's deprecated size_average / reduce to a reduction.
"""
import math
import warnings

import numpy as np

from tinygan.core.array_backend import get_array_module
from tinygan.core.function import Function
from tinygan.core.tensor import constant
from tinygan.kernels import FusedKernel, fusable
from tinygan.ops.arithmetic import sum_to, unbroadcast
from tinygan.ops.elementwise import sigmoid_array
from tinygan.ops.on_both import where

REDUCTIONS = ("mean", "sum", "none")


def legacy_reduction(size_average, reduce, reduction, stacklevel=3):
    """The reduction that PyTorch's deprecated ``size_average`` and ``reduce`` ask for (both None: ``reduction``
    as given), with PyTorch's warning: reduce=False -> "none", else size_average=False -> "sum", else "mean"."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    legacy = ("mean" if size_average else "sum") if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{legacy}' instead.",
                  UserWarning, stacklevel=stacklevel)
    return legacy


class _Loss(Function):
    """loss = reduce(weight * l(x, t));  gx = dreduce * weight * dl/dx,  gt likewise,  gweight = dreduce * l"""

    def __init__(self, reduction="mean", has_weight=False):
        self.reduction, self.has_weight = reduction, has_weight

    def forward(self, x, t, *rest):
        return self.reduce(self.elementwise(x, t), x, *rest)

    def reduce(self, loss, x, *rest):
        """reduce(weight * loss), with the loss per element given."""
        self.x_shape = x.shape
        if self.has_weight:
            self.weight, self.unweighted = rest[0], loss
            loss = loss * rest[0]
        if self.reduction == "mean":
            return loss.mean()
        if self.reduction == "sum":
            return loss.sum()
        if self.reduction == "batchmean":
            return loss.sum() / max(self._count(), 1)
        return loss

    def backward(self, gy):
        return self.backward_with(self.grads, gy)

    def backward_with(self, grads, gy):
        """The backward, with ``grads`` (``self.grads`` or a GPU version of it) for the loss per element."""
        needs = self.needs_input_grad
        g = gy / max(self._count(), 1) if self.reduction in ("mean", "batchmean") else gy   # 0-d, or per element
        gl = g * self.weight if self.has_weight else g
        gx, gt = grads(gl, needs[0], needs[1])
        if self.has_weight:
            gw = unbroadcast(self._broadcast(g * self.unweighted), self.weight.shape) if needs[2] else None
            return gx, gt, gw
        return gx, gt

    def _count(self):
        """The divisor of the mean: every element, or for "batchmean" the batch size (1 for a 0-d input)."""
        if self.reduction == "batchmean":
            return self.x_shape[0] if self.x_shape else 1
        return math.prod(self.x_shape)

    def _broadcast(self, g):
        return get_array_module(g).broadcast_to(g, self.x_shape)

    def backward_graph(self, gy):
        """The same formulas on Tensors, with each loss's ``grads_graph`` and ``elementwise_graph``."""
        if getattr(self, "pos_weight", None) is not None:
            return Function.backward_graph(self, gy)            # first derivative only (named if asked twice)
        needs = self.needs_input_grad
        x, t = self.inputs[:2]
        g = gy / max(self._count(), 1) if self.reduction in ("mean", "batchmean") else gy
        gl = g * self.inputs[2] if self.has_weight else g
        gx, gt = self.grads_graph(gl, x, t)
        gx = gx if needs[0] else None
        gt = sum_to(gt.broadcast_to(self.x_shape), t.shape) if needs[1] else None
        if self.has_weight:
            w = self.inputs[2]
            gw = sum_to((g * self.elementwise_graph(x, t)).broadcast_to(self.x_shape), w.shape) if needs[2] else None
            return gx, gt, gw
        return gx, gt


class BCEWithLogits(_Loss):
    """l = softplus(x) - x t = max(x, 0) - x t + log1p(exp(-|x|));  dl/dx = sigmoid(x) - t,  dl/dt = -x

    With pos_weight p (weight of the positive term): l = (1 - t) x + (1 + (p - 1) t) softplus(-x),
    dl/dx = (1 + (p - 1) t) sigmoid(x) - p t,  dl/dt = (p - 1) softplus(-x) - x.
    Never exp of a large positive number, so finite for any finite logit, in float32 too.
    On the GPU, l and dl/dx without pos_weight are one fused kernel each (``forward_gpu``, ``backward_gpu``,
    with the kernels at the end of this file).
    """

    def __init__(self, reduction="mean", has_weight=False, pos_weight=None):
        super().__init__(reduction, has_weight)
        self.pos_weight = pos_weight

    def elementwise(self, x, t):
        xp = get_array_module(x)
        self.x, self.t = x, t
        log_term = xp.log1p(xp.exp(-abs(x)))                      # softplus(-|x|), in (0, log 2]
        if self.pos_weight is None:
            return xp.maximum(x, 0) - x * t + log_term
        self.softplus_neg = xp.maximum(-x, 0) + log_term          # softplus(-x)
        return (1 - t) * x + (1 + (self.pos_weight - 1) * t) * self.softplus_neg

    def grads(self, g, needs_x, needs_t):
        x, t, p = self.x, self.t, self.pos_weight
        gx = gt = None
        if needs_x:
            sig = sigmoid_array(x)
            if p is None:
                sig -= t
                gx = sig * g
            else:
                gx = ((1 + (p - 1) * t) * sig - p * t) * g
        if needs_t:
            gt = -x * g if p is None else ((p - 1) * self.softplus_neg - x) * g
            gt = self._broadcast(gt)
        return gx, gt

    def forward_gpu(self, x, t, *rest):
        """``forward`` with l as one fused kernel, ``BCE_WITH_LOGITS_FORWARD`` (without pos_weight)."""
        xp = get_array_module(x)
        if self.pos_weight is not None or not fusable(xp, x, t):
            return self.forward(x, t, *rest)
        self.x, self.t = x, t
        loss = xp.empty(x.shape, dtype=x.dtype)
        BCE_WITH_LOGITS_FORWARD(xp, x=x, t=t, loss=loss)
        return self.reduce(loss, x, *rest)

    def backward_gpu(self, gy):
        """``backward`` with dl/dx as one fused kernel, ``BCE_WITH_LOGITS_BACKWARD`` (without pos_weight)."""
        return self.backward_with(self._grads_gpu, gy)

    def _grads_gpu(self, g, needs_x, needs_t):
        xp, x, t = get_array_module(self.x), self.x, self.t
        if not needs_x or self.pos_weight is not None or not fusable(xp, x, t, g):
            return self.grads(g, needs_x, needs_t)
        gx = xp.empty(x.shape, dtype=x.dtype)
        BCE_WITH_LOGITS_BACKWARD(xp, x=x, t=t, g=g, gx=gx)
        return gx, self.grads(g, False, needs_t)[1]

    def elementwise_graph(self, x, t):
        return x.softplus() - x * t

    def grads_graph(self, g, x, t):
        return (x.sigmoid() - t) * g, -x * g


class BCE(_Loss):
    """l = -(t log p + (1 - t) log(1 - p)), each log clamped at -100 as in PyTorch;
    dl/dp = (p - t) / max(p (1 - p), 1e-12),  dl/dt = log(1 - p) - log p (clamped)"""

    def elementwise(self, p, t):
        xp = get_array_module(p)
        self.p, self.t = p, t
        with np.errstate(divide="ignore"):                      # log(0) = -inf, then clamped
            self.log_p = xp.maximum(xp.log(p), -100)
            self.log_1mp = xp.maximum(xp.log1p(-p), -100)
        return -(t * self.log_p + (1 - t) * self.log_1mp)

    def grads(self, g, needs_x, needs_t):
        xp = get_array_module(self.p)
        p, t = self.p, self.t
        gx = (p - t) / xp.maximum(p * (1 - p), 1e-12) * g if needs_x else None
        gt = self._broadcast((self.log_1mp - self.log_p) * g) if needs_t else None
        return gx, gt

    def elementwise_graph(self, p, t):
        return -(t * p.log().clamp(min=-100) + (1 - t) * (1 - p).log().clamp(min=-100))

    def grads_graph(self, g, p, t):
        gp = (p - t) / (p * (1 - p)).clamp(min=1e-12) * g
        gt = ((1 - p).log().clamp(min=-100) - p.log().clamp(min=-100)) * g
        return gp, gt


class MSE(_Loss):
    """l = (x - t)^2;  dl/dx = 2 (x - t),  dl/dt = -2 (x - t)"""

    def elementwise(self, x, t):
        self.diff = x - t
        return self.diff * self.diff

    def grads(self, g, needs_x, needs_t):
        gx = self.diff * (2 * g)
        return (gx if needs_x else None), (self._broadcast(-gx) if needs_t else None)

    def elementwise_graph(self, x, t):
        return (x - t) * (x - t)

    def grads_graph(self, g, x, t):
        gx = (x - t) * (2 * g)
        return gx, -gx


class L1(_Loss):
    """l = |x - t|;  dl/dx = sign(x - t) (0 where x == t, as PyTorch),  dl/dt = -sign(x - t)"""

    def elementwise(self, x, t):
        self.diff = x - t
        return abs(self.diff)

    def grads(self, g, needs_x, needs_t):
        gx = get_array_module(self.diff).sign(self.diff) * g
        return (gx if needs_x else None), (self._broadcast(-gx) if needs_t else None)

    def elementwise_graph(self, x, t):
        return (x - t).abs()

    def grads_graph(self, g, x, t):
        sign = constant(get_array_module(x.array).sign((x - t).array))   # piecewise constant: no second derivative
        gx = sign * g
        return gx, -gx


class Huber(_Loss):
    """l = scale * (d^2 / 2 if |d| < delta else delta (|d| - delta / 2)), d = x - t;
    dl/dx = scale * (d if |d| < delta else delta sign(d)),  dl/dt = -dl/dx.
    huber_loss: scale 1; smooth_l1_loss with beta: delta = beta, scale = 1 / beta."""

    def __init__(self, reduction="mean", has_weight=False, delta=1.0, scale=1.0):
        super().__init__(reduction, has_weight)
        self.delta, self.scale = delta, scale

    def elementwise(self, x, t):
        xp = get_array_module(x)
        self.diff = x - t
        size = abs(self.diff)
        self.inside = size < self.delta                        # a constant mask: the quadratic part
        return xp.where(self.inside, self.diff * self.diff * 0.5, (size - self.delta * 0.5) * self.delta) * self.scale

    def grads(self, g, needs_x, needs_t):
        xp = get_array_module(self.diff)
        slope = xp.where(self.inside, self.diff, xp.sign(self.diff) * self.delta) * self.scale
        gx = slope * g
        return (gx if needs_x else None), (self._broadcast(-gx) if needs_t else None)

    def elementwise_graph(self, x, t):
        d = x - t
        return where(abs(d.array) < self.delta, d * d * 0.5, (d.abs() - self.delta * 0.5) * self.delta) * self.scale

    def grads_graph(self, g, x, t):
        d = x - t
        sign = get_array_module(d.array).sign(d.array) * self.delta       # piecewise constant outside
        gx = where(abs(d.array) < self.delta, d, constant(sign.astype(d.array.dtype))) * (g * self.scale)
        return gx, -gx


class KLDiv(_Loss):
    """l = t (log t - x) (0 where t = 0), x log-probabilities;  dl/dx = -t,  dl/dt = log t - x + 1.
    log_target (t = log q): l = exp(t) (t - x);  dl/dx = -exp(t),  dl/dt = exp(t) (t - x + 1)."""

    def __init__(self, reduction="mean", log_target=False):
        super().__init__(reduction)
        self.log_target = log_target

    def elementwise(self, x, t):
        xp = get_array_module(x)
        self.x, self.t = x, t
        if self.log_target:
            self.q = xp.exp(t)
            return self.q * (t - x)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.log_t = xp.log(t)
            return xp.where(t == 0, 0, t * self.log_t) - t * x      # t log t is 0 at t = 0 (xlogy)

    def grads(self, g, needs_x, needs_t):
        x, t = self.x, self.t
        q = self.q if self.log_target else t
        gx = -q * g if needs_x else None
        if not needs_t:
            return gx, None
        with np.errstate(divide="ignore", invalid="ignore"):     # t = 0: nan, as PyTorch's xlogy derivative
            slope = q * (t - x + 1) if self.log_target else get_array_module(t).where(t == 0, np.nan,
                                                                                     self.log_t - x + 1)
        return gx, self._broadcast(slope * g)

    def grads_graph(self, g, x, t):
        if self.log_target:
            q = t.exp()
            return -q * g, q * (t - x + 1) * g
        return -t * g, (t.log() - x + 1) * g


class NLL(Function):
    """loss_i = -w[t_i] logp[i, t_i] (0 where t_i == ignore_index); mean = sum(loss_i) / sum(w[t_i]);
    glogp[i, t_i] = -w[t_i] * g_i, zero elsewhere"""

    def __init__(self, target, weight=None, ignore_index=-100, reduction="mean"):
        self.target, self.class_weight = target, weight
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, logp):
        xp = get_array_module(logp)
        N = logp.shape[0]
        t = self.target
        keep = t != self.ignore_index
        self.rows, self.cols = xp.arange(N), xp.where(keep, t, 0)   # ignored rows point at class 0, weight 0
        w = keep.astype(logp.dtype)
        if self.class_weight is not None:
            w = w * self.class_weight[self.cols]
        self.w, self.logp_shape = w, logp.shape
        loss = -w * logp[self.rows, self.cols]
        if self.reduction == "mean":
            self.total = w.sum()
            with np.errstate(invalid="ignore"):                 # every target ignored: 0 / 0 = nan, as PyTorch
                return loss.sum() / self.total
        if self.reduction == "sum":
            return loss.sum()
        if self.reduction == "batchmean":
            return loss.sum() / max(self._count(), 1)
        return loss

    def backward(self, gy):
        xp = get_array_module(gy)
        g = gy / self.total if self.reduction == "mean" else gy
        glogp = xp.zeros(self.logp_shape, dtype=gy.dtype)
        glogp[self.rows, self.cols] = -self.w * g               # one entry per row: no repeats
        return glogp

    def backward_graph(self, gy):
        xp = get_array_module(gy.array)
        coefficient = xp.zeros(self.logp_shape, dtype=gy.dtype)  # glogp = coefficient * g: linear in g
        coefficient[self.rows, self.cols] = -self.w
        g = gy / constant(self.total) if self.reduction == "mean" else gy
        return constant(coefficient) * (g.reshape(-1, 1) if g.ndim == 1 else g)   # (N,) -> (N, 1)


# ==================================================================================================
# GPU: the fused kernels that BCEWithLogits's forward_gpu / backward_gpu run (tinygan/kernels.py)
# ==================================================================================================
# l = max(x, 0) - x t + log1p(exp(-|x|)) in one pass on the GPU (eight array ops otherwise)
BCE_WITH_LOGITS_FORWARD = FusedKernel("tinygan_bce_with_logits_forward", "T x, T t", "T loss",
                                      "loss = fmax(x, 0) - x * t + log1p(exp(-fabs(x)));")
# gx = (sigmoid(x) - t) g with sigmoid(x) = exp(min(x, 0)) / (1 + exp(-|x|)), as sigmoid_array (accurate for
# large negative x, where (1 + tanh(x/2)) / 2 is exactly 0); g broadcasts (a 0-d mean's)
BCE_WITH_LOGITS_BACKWARD = FusedKernel("tinygan_bce_with_logits_backward", "T x, T t, T g", "T gx", """
    T zero = 0;
    T s = exp(fmin(x, zero)) / (1 + exp(-fabs(x)));
    gx = (s - t) * g;
    """)

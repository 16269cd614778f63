"""Loss layers: thin Module forms of the losses in tinygan.functional, with PyTorch's arguments.

A per-element ``weight`` is registered as a buffer, as PyTorch does (so it moves with ``to`` and appears
in the state_dict). The deprecated ``size_average`` and ``reduce`` give ``reduction`` as in PyTorch, with its
warning (size_average=False: "sum", reduce=False: "none").
"""
from tinygan import functional as F
from tinygan.core import Tensor
from tinygan.nn.module import Module
from tinygan.ops.loss import REDUCTIONS, legacy_reduction


class _Loss(Module):
    reductions = REDUCTIONS

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        reduction = legacy_reduction(size_average, reduce, reduction)
        if reduction not in self.reductions:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {self.reductions}, got {reduction!r}")
        self.reduction = reduction

    def _check(self, input, target):
        for name, t in (("input", input), ("target", target)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{type(self).__name__}: {name} must be a Tensor, got {type(t).__name__}")


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        if weight is not None and not isinstance(weight, Tensor):
            weight = Tensor(weight)
        self.register_buffer("weight", weight)


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross entropy on logits, computed stably through softplus:
    loss = softplus(x) - y * x, i.e. -[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(weight, size_average, reduce, reduction)
        if pos_weight is not None and not isinstance(pos_weight, Tensor):
            pos_weight = Tensor(pos_weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        self._check(input, target)
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class BCELoss(_WeightedLoss):
    """Binary cross entropy on probabilities: -[y log p + (1 - y) log(1 - p)] (prefer BCEWithLogitsLoss)."""

    def forward(self, input, target):
        self._check(input, target)
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error (x - y)^2 (the least-squares GAN loss)."""

    def forward(self, input, target):
        self._check(input, target)
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error |x - y| (PyTorch: nn.L1Loss; the AAE's pixelwise loss)."""

    def forward(self, input, target):
        self._check(input, target)
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """(x - y)^2 / (2 beta) where |x - y| < beta, else |x - y| - beta / 2: L2 near zero, L1 further out."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        self._check(input, target)
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """(x - y)^2 / 2 where |x - y| < delta, else delta (|x - y| - delta / 2): delta * SmoothL1Loss(beta=delta)."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        self._check(input, target)
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """KL divergence y (log y - x) of targets y from log-probabilities x; reduction="batchmean" is the KL
    divergence per sample ("mean" divides by every element, with PyTorch's warning)."""
    reductions = REDUCTIONS + ("batchmean",)

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        self._check(input, target)
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class NLLLoss(_WeightedLoss):
    """-x[class] for log-probabilities x of shape (N, C) (a LogSoftmax output) and integer class targets (N,)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        self._check(input, target)
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """-log softmax(x)[class] for logits x of shape (N, C) and integer class targets of shape (N,)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        self._check(input, target)
        kwargs = {"reduction": self.reduction}
        if self.weight is not None:
            kwargs["weight"] = self.weight
        if self.ignore_index != -100:
            kwargs["ignore_index"] = self.ignore_index
        if self.label_smoothing != 0.0:
            kwargs["label_smoothing"] = self.label_smoothing
        return F.cross_entropy(input, target, **kwargs)

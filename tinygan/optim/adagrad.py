"""Adagrad (Duchi, Hazan & Singer, 2011) with PyTorch's learning-rate decay and initial accumulator."""
from tinygan.optim.fused import FusedKernel
from tinygan.optim.optimizer import Optimizer

ADAGRAD_KERNEL = FusedKernel(
    "tinygan_adagrad", "T grad, T clr, T eps, T weight_decay", "T param, T state_sum",
    """
    T d = grad + weight_decay * param;
    state_sum = state_sum + d * d;
    param -= clr * d / (sqrt(state_sum) + eps);
    """)


class Adagrad(Optimizer):
    """Adagrad, as torch.optim.Adagrad::

        d = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + d^2                           (sum starts at initial_accumulator_value)
        p -= clr * d / (sqrt(sum) + eps)
    """
    state_names = ("sum",)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        self._check_like_torch(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                               initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _initial_state(self, name, k):
        return float(self.param_groups[self._flat_group[k]]["initial_accumulator_value"])

    def _update(self, k, group, step):
        lr, lr_decay, eps, wd = (float(group[key]) for key in ("lr", "lr_decay", "eps", "weight_decay"))
        clr = lr / (1.0 + (step - 1) * lr_decay)
        flat = self._flats[k]
        p, g, xp = flat.data, flat.grad, flat.xp
        state_sum, fresh = self._buffer(k, "sum")
        if fresh:
            state_sum.fill(self._initial_state("sum", k))
        if self._use_kernel(k):
            ADAGRAD_KERNEL(xp, grad=g, clr=clr, eps=eps, weight_decay=wd, param=p, state_sum=state_sum)
            return
        d, s = self._scratch_arrays(k, 2)
        g = self._with_weight_decay(xp, p, g, wd, out=d)      # g + wd * p
        xp.multiply(g, g, out=s)                      # sum = sum + d^2
        xp.add(state_sum, s, out=state_sum)
        xp.sqrt(state_sum, out=s)                     # p -= clr * d / (sqrt(sum) + eps)
        xp.add(s, eps, out=s)
        xp.divide(g, s, out=s)
        xp.multiply(s, clr, out=s)
        xp.subtract(p, s, out=p)

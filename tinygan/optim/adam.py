"""Adam (Kingma & Ba, 2015) with PyTorch's update, bias correction and L2 weight decay."""
import math

from tinygan.optim.fused import FusedKernel
from tinygan.optim.optimizer import Optimizer

# One pass per step on the GPU: reads grad, param, m, v once; writes param, m, v once.
ADAM_KERNEL = FusedKernel(
    "tinygan_adam",
    "T grad, T step_size, T beta1, T one_minus_beta1, T beta2, T one_minus_beta2, T eps, T bc2_sqrt, "
    "T weight_decay",
    "T param, T exp_avg, T exp_avg_sq",
    """
    T d = grad + weight_decay * param;
    exp_avg = beta1 * exp_avg + one_minus_beta1 * d;
    exp_avg_sq = beta2 * exp_avg_sq + one_minus_beta2 * d * d;
    param -= step_size * exp_avg / (sqrt(exp_avg_sq) / bc2_sqrt + eps);
    """)


class Adam(Optimizer):
    """Adam, as torch.optim.Adam::

        d = g + weight_decay * p                  (L2 penalty in the gradient, not AdamW's decoupled decay)
        m = beta1 * m + (1 - beta1) * d
        v = beta2 * v + (1 - beta2) * d^2
        p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """
    state_names = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _update(self, k, group, step):
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        flat = self._flats[k]
        p, g, xp = flat.data, flat.grad, flat.xp
        if self._device_step is None:
            step_size = lr / (1.0 - beta1 ** step)   # Python floats: never a float64 array scalar
            bc2_sqrt = math.sqrt(1.0 - beta2 ** step)
        else:                                        # CUDA graph: from the device's step count, as 0-d arrays
            offset = self._step_offsets[self._flat_group[k]]   # nonzero for a group added after some steps
            t = self._device_step if offset == 0 else self._device_step - offset
            step_size = (lr / (1.0 - beta1 ** t)).astype(flat.dtype)
            bc2_sqrt = xp.sqrt(1.0 - beta2 ** t).astype(flat.dtype)
        m, _ = self._buffer(k, "exp_avg")
        v, _ = self._buffer(k, "exp_avg_sq")
        if self._use_kernel(k):
            ADAM_KERNEL(xp, grad=g, step_size=step_size, beta1=beta1, one_minus_beta1=1.0 - beta1, beta2=beta2,
                        one_minus_beta2=1.0 - beta2, eps=eps, bc2_sqrt=bc2_sqrt, weight_decay=wd,
                        param=p, exp_avg=m, exp_avg_sq=v)
            return
        d, s = self._scratch_arrays(k, 2)
        g = self._with_weight_decay(xp, p, g, wd, out=d)      # g + wd * p
        xp.multiply(m, beta1, out=m)                  # m = beta1 * m + (1 - beta1) * g
        xp.multiply(g, 1.0 - beta1, out=s)
        xp.add(m, s, out=m)
        xp.multiply(v, beta2, out=v)                  # v = beta2 * v + (1 - beta2) * g^2
        xp.multiply(g, g, out=s)
        xp.multiply(s, 1.0 - beta2, out=s)
        xp.add(v, s, out=v)
        # p -= step_size * m / (sqrt(v) / bc2_sqrt + eps), with bc2_sqrt moved out of the denominator:
        # p -= (step_size * bc2_sqrt) * m / (sqrt(v) + eps * bc2_sqrt), one full-size pass fewer
        xp.sqrt(v, out=s)
        xp.add(s, eps * bc2_sqrt, out=s)
        xp.divide(m, s, out=s)
        xp.multiply(s, step_size * bc2_sqrt, out=s)
        xp.subtract(p, s, out=p)

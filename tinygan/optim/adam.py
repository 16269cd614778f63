"""Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019) with PyTorch's update, bias correction, L2 or
decoupled weight decay and the AMSGrad variant."""
import math

from tinygan.optim.fused import FusedKernel
from tinygan.optim.optimizer import Optimizer

# One pass per step on the GPU: reads grad, param and the state once; writes them once. ``weight_decay`` is
# Adam's L2 term (0 for AdamW), ``decay`` AdamW's decoupled factor 1 - lr * weight_decay (1 for Adam).
_IN = ("T grad, T step_size, T beta1, T one_minus_beta1, T beta2, T one_minus_beta2, T eps, T bc2_sqrt, "
       "T weight_decay, T decay")
_MOMENTS = """
    T d = grad + weight_decay * param;
    exp_avg = beta1 * exp_avg + one_minus_beta1 * d;
    exp_avg_sq = beta2 * exp_avg_sq + one_minus_beta2 * d * d;
"""
ADAM_KERNELS = {   # amsgrad -> kernel
    False: FusedKernel("tinygan_adam", _IN, "T param, T exp_avg, T exp_avg_sq", _MOMENTS + """
    param = decay * param - step_size * exp_avg / (sqrt(exp_avg_sq) / bc2_sqrt + eps);
    """),
    True: FusedKernel("tinygan_adam_amsgrad", _IN, "T param, T exp_avg, T exp_avg_sq, T max_exp_avg_sq",
                      _MOMENTS + """
    max_exp_avg_sq = fmax(max_exp_avg_sq, exp_avg_sq);
    param = decay * param - step_size * exp_avg / (sqrt(max_exp_avg_sq) / bc2_sqrt + eps);
    """),
}
ADAM_KERNEL = ADAM_KERNELS[False]


class Adam(Optimizer):
    """Adam, as torch.optim.Adam::

        p = p * (1 - lr * weight_decay)           (decoupled_weight_decay=True, i.e. AdamW; then d = g)
        d = g + weight_decay * p                  (otherwise: L2 penalty in the gradient)
        m = beta1 * m + (1 - beta1) * d
        v = beta2 * v + (1 - beta2) * d^2
        v_max = max(v_max, v)                     (amsgrad=True: the denominator uses v_max instead of v)
        p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """
    state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 decoupled_weight_decay=False):
        self._check_like_torch(lr=lr, eps=eps, betas=betas, weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=bool(amsgrad), decoupled_weight_decay=bool(decoupled_weight_decay)))

    def _update(self, k, group, step):
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        amsgrad = bool(group.get("amsgrad", False))
        decay, wd = (1.0 - lr * wd, 0.0) if group.get("decoupled_weight_decay", False) else (1.0, wd)
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
        state = dict(exp_avg=m, exp_avg_sq=v)
        if amsgrad:
            state["max_exp_avg_sq"], _ = self._buffer(k, "max_exp_avg_sq")
        if self._use_kernel(k):
            ADAM_KERNELS[amsgrad](xp, grad=g, step_size=step_size, beta1=beta1, one_minus_beta1=1.0 - beta1,
                                  beta2=beta2, one_minus_beta2=1.0 - beta2, eps=eps, bc2_sqrt=bc2_sqrt,
                                  weight_decay=wd, decay=decay, param=p, **state)
            return
        d, s = self._scratch_arrays(k, 2)
        if decay != 1.0:
            xp.multiply(p, decay, out=p)              # AdamW: p = p * (1 - lr * weight_decay)
        g = self._with_weight_decay(xp, p, g, wd, out=d)      # g + wd * p
        xp.multiply(m, beta1, out=m)                  # m = beta1 * m + (1 - beta1) * g
        xp.multiply(g, 1.0 - beta1, out=s)
        xp.add(m, s, out=m)
        xp.multiply(v, beta2, out=v)                  # v = beta2 * v + (1 - beta2) * g^2
        xp.multiply(g, g, out=s)
        xp.multiply(s, 1.0 - beta2, out=s)
        xp.add(v, s, out=v)
        if amsgrad:
            v = state["max_exp_avg_sq"]
            xp.maximum(v, state["exp_avg_sq"], out=v)     # v_max = max(v_max, v)
        # p -= step_size * m / (sqrt(v) / bc2_sqrt + eps), with bc2_sqrt moved out of the denominator:
        # p -= (step_size * bc2_sqrt) * m / (sqrt(v) + eps * bc2_sqrt), one full-size pass fewer
        xp.sqrt(v, out=s)
        xp.add(s, eps * bc2_sqrt, out=s)
        xp.divide(m, s, out=s)
        xp.multiply(s, step_size * bc2_sqrt, out=s)
        xp.subtract(p, s, out=p)


class AdamW(Adam):
    """AdamW, as torch.optim.AdamW: Adam with decoupled weight decay ``p = p * (1 - lr * weight_decay)`` before
    the update instead of an L2 term in the gradient (default weight_decay 1e-2)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         decoupled_weight_decay=True)

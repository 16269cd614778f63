"""RMSprop (Hinton's lecture 6e) with PyTorch's eps placement, momentum and centered variant (WGAN uses it)."""
from tinygan.optim.fused import FusedKernel
from tinygan.optim.optimizer import Optimizer

_DECAY = """
    T d = grad + weight_decay * param;
    square_avg = alpha * square_avg + one_minus_alpha * d * d;
"""
_PLAIN_AVG = """
    T avg = sqrt(square_avg) + eps;
"""
_CENTERED_AVG = """
    grad_avg = alpha * grad_avg + one_minus_alpha * d;
    T avg = sqrt(square_avg - grad_avg * grad_avg) + eps;
"""
_NO_MOMENTUM = """
    param -= lr * d / avg;
"""
_MOMENTUM = """
    buf = momentum * buf + d / avg;
    param -= lr * buf;
"""
_IN = "T grad, T lr, T alpha, T one_minus_alpha, T eps, T weight_decay"

# (centered, momentum > 0) -> kernel
RMSPROP_KERNELS = {
    (False, False): FusedKernel("tinygan_rmsprop", _IN, "T param, T square_avg",
                                _DECAY + _PLAIN_AVG + _NO_MOMENTUM),
    (False, True): FusedKernel("tinygan_rmsprop_momentum", _IN + ", T momentum", "T param, T square_avg, T buf",
                               _DECAY + _PLAIN_AVG + _MOMENTUM),
    (True, False): FusedKernel("tinygan_rmsprop_centered", _IN, "T param, T square_avg, T grad_avg",
                               _DECAY + _CENTERED_AVG + _NO_MOMENTUM),
    (True, True): FusedKernel("tinygan_rmsprop_centered_momentum", _IN + ", T momentum",
                              "T param, T square_avg, T grad_avg, T buf",
                              _DECAY + _CENTERED_AVG + _MOMENTUM),
}


class RMSprop(Optimizer):
    """RMSprop, as torch.optim.RMSprop::

        d = g + weight_decay * p
        square_avg = alpha * square_avg + (1 - alpha) * d^2
        avg = sqrt(square_avg) + eps       (centered: grad_avg = alpha * grad_avg + (1 - alpha) * d,
                                                      avg = sqrt(square_avg - grad_avg^2) + eps)
        buf = momentum * buf + d / avg;  p -= lr * buf        (momentum > 0)
        p -= lr * d / avg                                      (otherwise)
    """
    state_names = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=bool(centered)))

    def _update(self, k, group, step):
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        wd, momentum, centered = float(group["weight_decay"]), float(group["momentum"]), bool(group["centered"])
        flat = self._flats[k]
        p, g, xp = flat.data, flat.grad, flat.xp
        sq, _ = self._buffer(k, "square_avg")
        arrays = dict(param=p, square_avg=sq)
        if centered:
            arrays["grad_avg"], _ = self._buffer(k, "grad_avg")
        if momentum > 0:
            arrays["buf"], _ = self._buffer(k, "momentum_buffer")
            arrays["momentum"] = momentum
        if self._use_kernel(k):
            RMSPROP_KERNELS[centered, momentum > 0](
                xp, grad=g, lr=lr, alpha=alpha, one_minus_alpha=1.0 - alpha, eps=eps, weight_decay=wd, **arrays)
            return
        d, s = self._scratch_arrays(k, 2)
        g = self._with_weight_decay(xp, p, g, wd, out=d)      # g + wd * p
        xp.multiply(sq, alpha, out=sq)                # square_avg = alpha * square_avg + (1 - alpha) * d^2
        xp.multiply(g, g, out=s)
        xp.multiply(s, 1.0 - alpha, out=s)
        xp.add(sq, s, out=sq)
        if centered:
            ga = arrays["grad_avg"]
            xp.multiply(ga, alpha, out=ga)            # grad_avg = alpha * grad_avg + (1 - alpha) * d
            xp.multiply(g, 1.0 - alpha, out=s)
            xp.add(ga, s, out=ga)
            xp.multiply(ga, ga, out=s)                # avg = sqrt(square_avg - grad_avg^2) + eps
            xp.subtract(sq, s, out=s)
            xp.sqrt(s, out=s)
        else:
            xp.sqrt(sq, out=s)                        # avg = sqrt(square_avg) + eps
        xp.add(s, eps, out=s)
        xp.divide(g, s, out=s)                        # s = d / avg
        if momentum > 0:
            buf = arrays["buf"]
            xp.multiply(buf, momentum, out=buf)       # buf = momentum * buf + d / avg
            xp.add(buf, s, out=buf)
            xp.multiply(buf, lr, out=s)
        else:
            xp.multiply(s, lr, out=s)
        xp.subtract(p, s, out=p)                      # p -= lr * (buf or d / avg)

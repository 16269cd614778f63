"""Adadelta (Zeiler, 2012) with PyTorch's update: pytorch/examples' MNIST trains with ``Adadelta(lr=1.0)``."""
from tinygan.optim.fused import FusedKernel
from tinygan.optim.optimizer import Optimizer

ADADELTA_KERNEL = FusedKernel(
    "tinygan_adadelta", "T grad, T lr, T rho, T one_minus_rho, T eps, T weight_decay",
    "T param, T square_avg, T acc_delta",
    """
    T d = grad + weight_decay * param;
    square_avg = rho * square_avg + one_minus_rho * d * d;
    T delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * d;
    acc_delta = rho * acc_delta + one_minus_rho * delta * delta;
    param -= lr * delta;
    """)


class Adadelta(Optimizer):
    """Adadelta, as torch.optim.Adadelta::

        d = g + weight_decay * p
        square_avg = rho * square_avg + (1 - rho) * d^2
        delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * d
        acc_delta = rho * acc_delta + (1 - rho) * delta^2
        p -= lr * delta
    """
    state_names = ("square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0):
        self._check_like_torch(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    def _update(self, k, group, step):
        lr, rho, eps, wd = (float(group[key]) for key in ("lr", "rho", "eps", "weight_decay"))
        flat = self._flats[k]
        p, g, xp = flat.data, flat.grad, flat.xp
        sq, _ = self._buffer(k, "square_avg")
        acc, _ = self._buffer(k, "acc_delta")
        if self._use_kernel(k):
            ADADELTA_KERNEL(xp, grad=g, lr=lr, rho=rho, one_minus_rho=1.0 - rho, eps=eps, weight_decay=wd,
                            param=p, square_avg=sq, acc_delta=acc)
            return
        d, s, delta = self._scratch_arrays(k, 3)
        g = self._with_weight_decay(xp, p, g, wd, out=d)      # g + wd * p
        xp.multiply(sq, rho, out=sq)                  # square_avg = rho * square_avg + (1 - rho) * d^2
        xp.multiply(g, g, out=s)
        xp.multiply(s, 1.0 - rho, out=s)
        xp.add(sq, s, out=sq)
        xp.add(acc, eps, out=delta)                   # delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * d
        xp.sqrt(delta, out=delta)
        xp.add(sq, eps, out=s)
        xp.sqrt(s, out=s)
        xp.divide(delta, s, out=delta)
        xp.multiply(delta, g, out=delta)
        xp.multiply(acc, rho, out=acc)                # acc_delta = rho * acc_delta + (1 - rho) * delta^2
        xp.multiply(delta, delta, out=s)
        xp.multiply(s, 1.0 - rho, out=s)
        xp.add(acc, s, out=acc)
        xp.multiply(delta, lr, out=delta)             # p -= lr * delta
        xp.subtract(p, delta, out=p)

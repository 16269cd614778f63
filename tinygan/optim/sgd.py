"""Stochastic gradient descent with PyTorch's momentum, dampening, Nesterov and L2 weight decay."""
from tinygan.optim.fused import FusedKernel
from tinygan.optim.optimizer import Optimizer

SGD_KERNEL = FusedKernel(
    "tinygan_sgd", "T grad, T lr, T weight_decay", "T param",
    "param -= lr * (grad + weight_decay * param);")

# c is 1 on the first step (the buffer is still zero, so buf = d exactly, as PyTorch's clone) and
# 1 - dampening after.
SGD_MOMENTUM_KERNEL = FusedKernel(
    "tinygan_sgd_momentum", "T grad, T lr, T weight_decay, T momentum, T c", "T param, T buf",
    """
    T d = grad + weight_decay * param;
    buf = momentum * buf + c * d;
    param -= lr * buf;
    """)

SGD_NESTEROV_KERNEL = FusedKernel(
    "tinygan_sgd_nesterov", "T grad, T lr, T weight_decay, T momentum, T c", "T param, T buf",
    """
    T d = grad + weight_decay * param;
    buf = momentum * buf + c * d;
    param -= lr * (d + momentum * buf);
    """)


class SGD(Optimizer):
    """SGD, as torch.optim.SGD::

        d = g + weight_decay * p
        buf = d on the first step, then momentum * buf + (1 - dampening) * d     (when momentum != 0)
        d = d + momentum * buf if nesterov else buf
        p -= lr * d
    """
    state_names = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=bool(nesterov)))

    def _update(self, k, group, step):
        lr, wd = float(group["lr"]), float(group["weight_decay"])
        momentum, dampening = float(group["momentum"]), float(group["dampening"])
        nesterov = bool(group["nesterov"])
        flat = self._flats[k]
        p, g, xp = flat.data, flat.grad, flat.xp
        if momentum != 0:
            buf, fresh = self._buffer(k, "momentum_buffer")
            c = 1.0 if fresh else 1.0 - dampening
        if self._use_kernel(k):
            if momentum == 0:
                SGD_KERNEL(xp, grad=g, lr=lr, weight_decay=wd, param=p)
            else:
                kernel = SGD_NESTEROV_KERNEL if nesterov else SGD_MOMENTUM_KERNEL
                kernel(xp, grad=g, lr=lr, weight_decay=wd, momentum=momentum, c=c, param=p, buf=buf)
            return
        d, s = self._scratch_arrays(k, 2)
        g = self._with_weight_decay(xp, p, g, wd, out=d)      # g + wd * p
        if momentum != 0:
            xp.multiply(buf, momentum, out=buf)       # buf = momentum * buf + c * d
            if c == 1.0:
                xp.add(buf, g, out=buf)
            else:
                xp.multiply(g, c, out=s)
                xp.add(buf, s, out=buf)
            if nesterov:
                xp.multiply(buf, momentum, out=s)     # d = d + momentum * buf
                xp.add(g, s, out=s)
                g = s
            else:
                g = buf
        xp.multiply(g, lr, out=s)                     # p -= lr * d
        xp.subtract(p, s, out=p)

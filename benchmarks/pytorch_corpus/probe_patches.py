"""Scratch stand-ins for tinygan's known gaps, used only by ``run.py --probe`` to find what each corpus script hits
*after* its first error. They are monkeypatches applied at run time inside the harness process (nothing under
tinygan/ is changed) and are deliberately minimal: enough to get past the gap, not a faithful implementation.

Every stand-in, when first used, adds its gap's name to the run's record (``gaps``), so a probe run lists every
patched gap a script touches, in order, and then the first error no stand-in covers.
"""
import numpy as np


def apply(fw, record):
    import tinygan.functional as F0
    import tinygan.nn as nn
    import tinygan.nn.functional as F
    import tinygan.optim as optim
    Tensor = fw.Tensor

    def used(gap):
        if gap not in record["gaps"]:
            record["gaps"].append(gap)

    def stand_in(gap, fn):
        def wrapper(*args, **kwargs):
            used(gap)
            return fn(*args, **kwargs)
        return wrapper

    # torch.accelerator (pytorch/examples pick their device with it)
    class _Accelerator:
        is_available = staticmethod(stand_in("torch.accelerator", lambda: False))
        current_accelerator = staticmethod(stand_in("torch.accelerator", lambda: None))
        device_count = staticmethod(stand_in("torch.accelerator", lambda: 0))
    if not hasattr(fw, "accelerator"):
        fw.accelerator = _Accelerator()
    if not hasattr(fw, "set_num_threads"):
        fw.set_num_threads = stand_in("torch.set_num_threads", lambda n: None)

    # == / != elementwise against tensors, arrays and numbers
    if not isinstance(Tensor.from_array(np.zeros(2)) == 0, Tensor):   # a tinygan where == is identity
        identity_eq, identity_ne = Tensor.__eq__, Tensor.__ne__

        def eq(a, b):
            if isinstance(b, (Tensor, np.ndarray, int, float, bool, np.generic)):
                used("== elementwise")
                return a.eq(b)
            return identity_eq(a, b)

        def ne(a, b):
            if isinstance(b, (Tensor, np.ndarray, int, float, bool, np.generic)):
                used("!= elementwise")
                return a.ne(b)
            return identity_ne(a, b)
        Tensor.__eq__, Tensor.__ne__ = eq, ne
        Tensor.__hash__ = object.__hash__
    if not hasattr(fw, "eq"):
        fw.eq = stand_in("torch.eq", lambda a, b: a.eq(b))

    if not hasattr(Tensor, "t"):
        Tensor.t = stand_in("Tensor.t()", lambda x: x.transpose(0, 1) if x.ndim == 2 else x)

    def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
        d = (input - target).abs()
        loss = fw.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)
        return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss
    if not hasattr(F, "smooth_l1_loss"):
        F.smooth_l1_loss = F0.smooth_l1_loss = stand_in("F.smooth_l1_loss", smooth_l1_loss)

    if not hasattr(nn, "SmoothL1Loss"):
        class SmoothL1Loss(nn.Module):
            def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
                super().__init__()
                used("nn.SmoothL1Loss")
                self.reduction, self.beta = reduction, beta

            def forward(self, input, target):
                return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)
        nn.SmoothL1Loss = SmoothL1Loss

    if not hasattr(optim, "AdamW"):
        def AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, **kwargs):
            used("optim.AdamW")
            return optim.Adam(params, lr=lr, betas=betas, eps=eps)       # decoupled decay left out
        optim.AdamW = AdamW

    if not hasattr(optim, "Adadelta"):
        class Adadelta(optim.Optimizer):
            def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0):
                used("optim.Adadelta")
                super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))
                self._acc = {}

            def step(self, closure=None):
                for group in self.param_groups:
                    for p in group["params"]:
                        if p.grad is None:
                            continue
                        g = np.asarray(p.grad.numpy(), dtype=np.float32)
                        sq, dl = self._acc.setdefault(id(p), (np.zeros_like(g), np.zeros_like(g)))
                        rho, eps = group["rho"], group["eps"]
                        sq[...] = rho * sq + (1 - rho) * g * g
                        delta = np.sqrt(dl + eps) / np.sqrt(sq + eps) * g
                        dl[...] = rho * dl + (1 - rho) * delta * delta
                        p.data.copy_((np.asarray(p.detach().numpy()) - group["lr"] * delta).astype(np.float32))
        optim.Adadelta = Adadelta

    argmax = Tensor.argmax

    def argmax_keepdim(x, dim=None, keepdim=False):
        if keepdim:
            used("argmax(keepdim=)")
            return argmax(x, dim).unsqueeze(dim)
        return argmax(x, dim)
    Tensor.argmax = argmax_keepdim

    from tinygan.vision import datasets
    for legacy, new in [("train_data", "data"), ("test_data", "data"), ("train_labels", "targets"),
                        ("test_labels", "targets")]:
        if not hasattr(datasets.MNIST, legacy):
            setattr(datasets.MNIST, legacy, property(
                lambda self, new=new, legacy=legacy: (used(f"MNIST.{legacy}"), fw.tensor(
                    np.asarray(getattr(self, new).numpy() if hasattr(getattr(self, new), "numpy")
                               else getattr(self, new))))[1]))

    def legacy_reduction(name, fn):
        def wrapper(*args, size_average=None, reduce=None, **kwargs):
            if size_average is not None or reduce is not None:
                used("legacy size_average/reduce")
                kwargs["reduction"] = "none" if reduce is False else "mean" if size_average in (None, True) else "sum"
            return fn(*args, **kwargs)
        return wrapper
    for name in ("binary_cross_entropy", "mse_loss", "cross_entropy", "nll_loss", "l1_loss"):
        if hasattr(F, name):
            setattr(F, name, legacy_reduction(name, getattr(F, name)))

    normal = fw.normal

    def normal_default_std(mean, std=None, *args, **kwargs):
        if std is None:
            used("torch.normal(mean) (std defaults to 1)")
            std = 1.0
        return normal(mean, std, *args, **kwargs)
    fw.normal = normal_default_std

    # torch.sin/cos of data (the pytorch/tutorials polynomials fit sin(x)); no gradient flows through the stand-in
    for name in ("sin", "cos"):
        if not hasattr(fw, name):
            setattr(fw, name, stand_in(f"torch.{name}", lambda x, f=getattr(np, name): fw.tensor(
                f(np.asarray(x.detach().numpy())).astype(np.float32))))

    add = fw.add

    def add_out(*args, out=None, **kwargs):
        if out is None:
            return add(*args, **kwargs)
        used("torch.add(out=)")
        out.data.copy_(np.asarray(add(*args, **kwargs).detach().numpy()))
        return out
    fw.add = add_out

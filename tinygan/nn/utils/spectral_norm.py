"""Spectral normalisation of a layer's weight (Miyato et al. 2018), as torch.nn.utils.spectral_norm.

    D = nn.Sequential(nn.utils.spectral_norm(nn.Linear(2, 128)), nn.LeakyReLU(0.2), ...)

The layer's weight W is divided by its largest singular value sigma(W), so the layer is 1-Lipschitz (a
discriminator built of such layers and 1-Lipschitz activations is too). sigma is estimated by power iteration
on the matrix W_mat = W reshaped to (out, -1) (for a transposed convolution, whose weight is (in, out, kH, kW),
dim 1 is moved to the front first):

    v <- normalize(W_mat^T u),   u <- normalize(W_mat v)       (n_power_iterations times, training mode only)
    sigma = u^T W_mat v,          W_SN = W / sigma

with normalize(x) = x / max(||x||, eps). One iteration per training step is enough because W changes little
between steps and u, v are kept (buffers ``weight_u``, ``weight_v``) and warm-started. The iteration runs
without a graph: u and v are constants to backward, so the gradient reaching W is that of W / (u^T W v) with
u, v fixed, as in PyTorch. In evaluation mode u and v are not updated.

What PyTorch does, and tinygan the same way: the Parameter ``weight`` becomes ``weight_orig`` (what the
optimizer updates), ``weight_u`` and ``weight_v`` are buffers, and ``weight`` is a plain tensor recomputed before
every forward; state_dict keys are "bias", "weight_orig", "weight_u", "weight_v", so state dicts load across.
PyTorch recomputes ``weight`` in a forward pre-hook; tinygan's Module has no hooks, so ``spectral_norm``
replaces the module's ``forward`` by one that sets ``weight`` and then calls the original (``remove_spectral_norm``
puts it back).
"""
import numpy as np

from tinygan import rng
from tinygan.core import Tensor, array_backend, increment_version, no_grad
from tinygan.nn.module import Parameter

TRANSPOSED = ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")


def _normalize(xp, x, eps):
    """x / max(||x||, eps) for a vector (F.normalize(x, dim=0, eps=eps))."""
    return x / max(float(xp.linalg.norm(x)), eps) if xp is np else x / xp.maximum(xp.linalg.norm(x), eps)


class SpectralNorm:
    """The settings of one normalised weight and the computation of W / sigma (torch's SpectralNorm)."""

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        if n_power_iterations <= 0:
            raise ValueError(f"spectral_norm: expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.name, self.dim, self.n_power_iterations, self.eps = name, dim, n_power_iterations, eps

    def matrix(self, weight):
        """W as the matrix of the power iteration: dim moved to the front, the rest flattened, (h, w)."""
        if self.dim != 0:
            axes = [self.dim] + [d for d in range(weight.ndim) if d != self.dim]
            weight = weight.permute(*axes) if isinstance(weight, Tensor) else weight.transpose(axes)
        return weight.reshape(weight.shape[0], -1)                  # (out, in, kH, kW) -> (out, in*kH*kW)

    def power_iteration(self, module):
        """Update the buffers u and v in place (raw arrays, no graph)."""
        W = self.matrix(getattr(module, self.name + "_orig").array)
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        xp = array_backend.get_array_module(W)
        for _ in range(self.n_power_iterations):
            v.array[...] = _normalize(xp, W.T @ u.array, self.eps)
            u.array[...] = _normalize(xp, W @ v.array, self.eps)
        increment_version(u)
        increment_version(v)

    def compute_weight(self, module, do_power_iteration):
        """W / sigma as a tensor in W's graph, sigma = u^T W_mat v with u, v constants."""
        if do_power_iteration:
            self.power_iteration(module)
        u = getattr(module, self.name + "_u").array.copy()         # copies: the next iteration writes the buffers
        v = getattr(module, self.name + "_v").array.copy()
        return self.divide(getattr(module, self.name + "_orig"), u, v)

    def divide(self, weight, u, v):
        """weight / (u^T W_mat v): the formula backward differentiates, u (h,) and v (w,) raw arrays."""
        Wv = self.matrix(weight) @ Tensor.from_array(v.reshape(-1, 1))           # (h, w) @ (w, 1) -> (h, 1)
        sigma = (Tensor.from_array(u.reshape(-1, 1)) * Wv).sum()                 # u^T W v: a 0-d tensor
        return weight / sigma


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Normalise ``module``'s parameter ``name`` by its spectral norm in every forward (in place); returns the
    module. ``dim``: the output dimension of the weight (default 0, 1 for transposed convolutions)."""
    if not hasattr(module, "_parameters") or name not in module._parameters or module._parameters[name] is None:
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter {name!r}")
    if isinstance(module.__dict__.get("_spectral_norm"), dict) and name in module._spectral_norm:
        raise RuntimeError(f"spectral_norm: cannot register two spectral_norm hooks on the same parameter {name}")
    if dim is None:
        dim = 1 if type(module).__name__ in TRANSPOSED else 0
    fn = SpectralNorm(name, n_power_iterations, dim, eps)
    weight = module._parameters[name]
    xp, device = array_backend.get_array_module(weight.array), array_backend.device_of(weight.array)
    with no_grad():
        h, w = fn.matrix(weight.array).shape
        # u, v ~ N(0, I), normalised, from tinygan's seeded generator (as PyTorch's normal_ from torch's)
        u = _normalize(xp, rng.randn((h,), weight.dtype, device), eps)
        v = _normalize(xp, rng.randn((w,), weight.dtype, device), eps)
    delattr(module, name)
    module.register_parameter(name + "_orig", weight)
    object.__setattr__(module, name, weight.detach())            # a plain tensor until the first forward
    module.register_buffer(name + "_u", Tensor.from_array(u))
    module.register_buffer(name + "_v", Tensor.from_array(v))

    if "_spectral_norm" not in module.__dict__:
        object.__setattr__(module, "_spectral_norm", {})
        forward = module.forward                                  # the class's (bound) forward

        def normalised_forward(*args, **kwargs):
            for key, f in module._spectral_norm.items():
                object.__setattr__(module, key, f.compute_weight(module, do_power_iteration=module.training))
            return forward(*args, **kwargs)

        object.__setattr__(module, "forward", normalised_forward)
    module._spectral_norm[name] = fn
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo ``spectral_norm``: ``name`` becomes a Parameter again, holding W / sigma (as PyTorch); returns the
    module."""
    norms = module.__dict__.get("_spectral_norm", {})
    if name not in norms:
        raise ValueError(f"spectral_norm of {name!r} not found in {type(module).__name__}")
    fn = norms.pop(name)
    with no_grad():
        weight = fn.compute_weight(module, do_power_iteration=False)
    for suffix in ("_orig", "_u", "_v"):
        delattr(module, name + suffix)
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(weight.array.copy()))
    if not norms:
        del module.__dict__["_spectral_norm"]
        del module.__dict__["forward"]
    return module

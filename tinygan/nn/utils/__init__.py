"""tinygan.nn.utils: helpers around modules and their gradients, as torch.nn.utils.

    loss.backward()
    nn.utils.clip_grad_norm_(G.parameters(), max_norm=1.0)
    opt.step()

Modules: clip_grad.py (gradient norm and value clipping), spectral_norm.py (a layer's weight divided by its largest
singular value, Miyato et al. 2018).
"""
from tinygan.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]

from tinygan.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm  # noqa: E402

__all__ += ["spectral_norm", "remove_spectral_norm"]

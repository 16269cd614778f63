"""``tinygan.backends``: PyTorch's ``torch.backends`` switches, so scripts that set them run unchanged.

    tinygan.backends.cudnn.benchmark = True      # as in PyTorch scripts

tinygan calls no cuDNN, MPS or TF32 library: its GPU code is CuPy's kernels and cuBLAS through CuPy. These
settings are kept as plain attributes and change nothing; ``is_available()`` answers honestly (False).
"""

import sys

__all__ = ["cudnn", "mps"]


class _Settings:
    """A namespace of switches that tinygan keeps but does not act on (it has no such library)."""

    def __init__(self, library, **switches):
        self._library = library
        self.__dict__.update(switches)

    def is_available(self):
        """False: tinygan does not use this library."""
        return False

    def is_built(self):
        """False: tinygan is not built with this library."""
        return False

    def version(self):
        """None, as PyTorch's where the library is absent."""
        return None

    def __repr__(self):
        switches = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"<tinygan.backends.{self._library}: not used by tinygan; settings kept: {switches}>"


cudnn = _Settings("cudnn", benchmark=False, deterministic=False, enabled=True, allow_tf32=True)
mps = _Settings("mps")

# ``import torch.backends.cudnn as cudnn`` (pytorch/examples' dcgan) imports the switches as a module: register
# the two namespaces under their module names, as tinygan.nn.functional registers itself
sys.modules[__name__ + ".cudnn"] = cudnn
sys.modules[__name__ + ".mps"] = mps

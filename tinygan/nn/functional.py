"""``tinygan.nn.functional``: the same module as ``tinygan.functional``, for PyTorch's
``import torch.nn.functional as F`` habit."""
import sys

from tinygan import functional as _functional

sys.modules[__name__] = _functional

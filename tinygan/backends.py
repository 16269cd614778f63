"""``tinygan.backends`` is tinygan/compat/backends.py: this module puts that module itself under this name, so
``import tinygan.backends.cudnn as cudnn`` (as PyTorch scripts write it) and ``tinygan.backends.X`` reach the same
objects as ``tinygan.compat.backends``."""
import sys

from tinygan.compat import backends

sys.modules[__name__] = backends
sys.modules[__name__ + ".cudnn"] = backends.cudnn
sys.modules[__name__ + ".mps"] = backends.mps

"""``tinygan.cuda`` is tinygan/compat/cuda.py: this module puts that module itself under this name, so
``import tinygan.cuda`` and ``tinygan.cuda.X`` reach the same objects as ``tinygan.compat.cuda``."""
import sys

from tinygan.compat import cuda

sys.modules[__name__] = cuda

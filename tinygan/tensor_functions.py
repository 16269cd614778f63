"""``tinygan.tensor_functions`` is tinygan/compat/tensor_functions.py: this module puts that module itself under this name, so
``import tinygan.tensor_functions`` and ``tinygan.tensor_functions.X`` reach the same objects as ``tinygan.compat.tensor_functions``."""
import sys

from tinygan.compat import tensor_functions

sys.modules[__name__] = tensor_functions

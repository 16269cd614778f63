"""``tinygan.accelerator`` is tinygan/compat/accelerator.py: this module puts that module itself under this name,
so ``import tinygan.accelerator`` and ``tinygan.accelerator.X`` reach the same objects."""
import sys

from tinygan.compat import accelerator

sys.modules[__name__] = accelerator

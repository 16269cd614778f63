"""``tinygan.accelerator``: PyTorch's ``torch.accelerator`` for code that picks its device with it.

    device = tinygan.accelerator.current_accelerator() if tinygan.accelerator.is_available() else "cpu"

tinygan's one accelerator is the GPU through CuPy: ``current_accelerator()`` is device('cuda:0') when CuPy works,
None otherwise (as torch's on a machine without one).
"""
from tinygan.core import array_backend

__all__ = ["current_accelerator", "device_count", "is_available"]


def is_available():
    """True when CuPy imports and a CUDA device answers (torch.accelerator.is_available)."""
    return array_backend.device_available("gpu")


def current_accelerator(check_available=False):
    """The GPU as a device, or None without one (torch.accelerator.current_accelerator)."""
    return array_backend.device("cuda") if is_available() else None


def device_count():
    """1 with a usable GPU (tinygan uses one), else 0 (torch.accelerator.device_count)."""
    return 1 if is_available() else 0

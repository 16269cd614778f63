"""``tinygan.cuda``: PyTorch's ``torch.cuda`` for code that asks about the GPU, seeds it, or builds tensors on it.

    device = tinygan.device("cuda" if tinygan.cuda.is_available() else "cpu")
    Tensor = tinygan.cuda.FloatTensor if cuda else tinygan.FloatTensor

tinygan runs on one GPU, CuPy's current device (choose it with CUDA_VISIBLE_DEVICES). Asking for the GPU where
there is none raises ``tinygan.DeviceUnavailableError`` saying what is missing, as everywhere in tinygan.
"""
from tinygan import rng
from tinygan.compat.legacy_types import legacy_type
from tinygan.core import array_backend
from tinygan.creation import bool_, float16, float32, float64, int8, int16, int32, int64, uint8

__all__ = ["BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor", "IntTensor",
           "LongTensor", "ShortTensor", "current_device", "device_count", "empty_cache", "get_device_name",
           "is_available", "manual_seed", "manual_seed_all", "memory_allocated", "set_device", "synchronize"]

# PyTorch's torch.cuda.FloatTensor & co: FloatTensor(64, 1) makes zeros on the GPU; isinstance checks the device
FloatTensor, DoubleTensor, HalfTensor = (legacy_type(t, cuda=True) for t in (float32, float64, float16))
LongTensor, IntTensor, ShortTensor = (legacy_type(t, cuda=True) for t in (int64, int32, int16))
CharTensor, ByteTensor, BoolTensor = (legacy_type(t, cuda=True) for t in (int8, uint8, bool_))


def is_available():
    """True when CuPy imports and a CUDA device answers (torch.cuda.is_available)."""
    return array_backend.device_available("gpu")


def device_count():
    """The number of CUDA devices CuPy sees, 0 without a usable GPU (torch.cuda.device_count)."""
    return array_backend.require_gpu().cuda.runtime.getDeviceCount() if is_available() else 0


def current_device():
    """The index of the GPU tinygan uses, CuPy's current device (torch.cuda.current_device)."""
    return array_backend.require_gpu().cuda.runtime.getDevice()


def set_device(device):
    """torch.cuda.set_device: tinygan uses CuPy's current device; selecting another one is refused."""
    index = array_backend.device(device).index if not isinstance(device, int) else device
    if index not in (None, current_device()):
        raise ValueError(f"set_device: tinygan uses one GPU, cuda:{current_device()}; choose another one by "
                         f"starting with CUDA_VISIBLE_DEVICES={index}")


def get_device_name(device=None):
    """The GPU's name, as torch.cuda.get_device_name."""
    cupy = array_backend.require_gpu()
    index = current_device() if device is None else (device if isinstance(device, int) else
                                                     array_backend.device(device).index or 0)
    name = cupy.cuda.runtime.getDeviceProperties(index)["name"]
    return name.decode() if isinstance(name, bytes) else name


def synchronize(device=None):
    """Wait until the GPU has finished the work queued so far (torch.cuda.synchronize)."""
    array_backend.synchronize("gpu")


def manual_seed(seed):
    """Seed the GPU's generator only, as torch.cuda.manual_seed; without a GPU it does nothing, as PyTorch's."""
    if is_available():
        rng.manual_seed_device("gpu", seed)


manual_seed_all = manual_seed          # one GPU: seeding all of them is seeding it


def empty_cache():
    """Give the GPU memory CuPy keeps for reuse back to the driver (torch.cuda.empty_cache); nothing to do
    without a GPU, as PyTorch's."""
    if is_available():
        array_backend.require_gpu().get_default_memory_pool().free_all_blocks()


def memory_allocated(device=None):
    """Bytes of GPU memory held by tensors now (torch.cuda.memory_allocated); 0 without a GPU."""
    return int(array_backend.require_gpu().get_default_memory_pool().used_bytes()) if is_available() else 0

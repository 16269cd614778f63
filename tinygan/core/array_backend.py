"""The array backend: NumPy on "cpu", CuPy on "gpu".

This is the only module that imports cupy. Ops never ask which device they run on: they call
``get_array_module(x)`` on their input arrays and get back ``numpy`` or ``cupy``. The device is chosen
only at the edges (``tinygan.tensor(..., device=)``, ``Tensor.to``, ``Module.to``, ``--device``).

Importing tinygan never fails because CuPy is missing or broken: the import error is kept and reported,
with how to fix it, the first time someone asks for the GPU. (Seeded random generators: tinygan/rng.py.)
"""
import numpy as np

DEVICES = ("cpu", "gpu")
INSTALL_HINT = 'install the GPU extra with: pip install -e ".[gpu]" (or any cupy-cudaXXx wheel matching your CUDA)'
DRIVER_HINT = ("check that `nvidia-smi` lists a GPU and that its driver supports the CUDA version of the installed "
               "cupy-cudaXXx wheel (cudaErrorInsufficientDriver: no driver, or one older than that CUDA)")

_cupy = None            # the cupy module once it imported and found a usable CUDA device
_cupy_problem = None    # why the GPU is unusable, kept for the error message
_cupy_hint = INSTALL_HINT   # and what to do about it
_cupy_probed = False
_default_device = "cpu"


class DeviceUnavailableError(RuntimeError):
    """The GPU was asked for but CuPy or a CUDA device is missing."""


def _probe_cupy():
    """Import cupy once and check that a CUDA device answers; remember why not if it fails."""
    global _cupy, _cupy_problem, _cupy_probed, _cupy_hint
    if _cupy_probed:
        return _cupy
    _cupy_probed = True
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install raising something else
        _cupy_problem = f"CuPy is not installed or failed to import ({type(exc).__name__}: {exc})"
        _cupy_hint = INSTALL_HINT
        return None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
        if count < 1:
            raise RuntimeError("no CUDA device found")
        cupy.zeros(1).sum()  # a real kernel launch: catches driver/toolkit mismatches early
    except Exception as exc:
        version = getattr(cupy, "__version__", "")
        _cupy_problem = (f"CuPy {version + ' ' if version else ''}is installed but no usable CUDA device was found "
                         f"({type(exc).__name__}: {exc})")
        _cupy_hint = DRIVER_HINT
        return None
    _cupy = cupy
    return cupy


def device_available(device):
    """True when arrays can be placed on ``device`` ("cpu" always; "gpu" needs CuPy and a CUDA device)."""
    device = check_device(device)
    return device == "cpu" or _probe_cupy() is not None


def check_device(device):
    """Normalise a device name to "cpu" or "gpu"; "cuda", "cuda:0" and ``device`` objects are accepted, as PyTorch's."""
    name = str(device).lower()
    if name == "cuda" or name.startswith("cuda:"):
        name = "gpu"
    elif name == "cpu:0":
        name = "cpu"
    if name not in DEVICES:
        raise ValueError(f"unknown device {device!r}: expected one of {DEVICES}")
    return name


class device(str):
    """PyTorch's ``torch.device``: ``device("cuda")``, ``device("cuda:0")``, ``device("cuda", 0)``, ``device("cpu")``.

    A str holding PyTorch's spelling ("cpu", "cuda", "cuda:0"), so it goes wherever tinygan takes a device name
    (``x.to(d)``, ``zeros(..., device=d)``, ``model.to(d)``); ``.type`` and ``.index`` are PyTorch's. It compares
    equal to tinygan's names: ``device("cuda:0") == "gpu"``, as tinygan runs on one GPU (CuPy's current device).
    """

    def __new__(cls, type, index=None):
        if isinstance(type, device) and index is None:
            return type
        if isinstance(type, int) and not isinstance(type, bool) and index is None:
            type, index = "cuda", type                       # device(0) is cuda:0, as in PyTorch
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cuda:0' or 'cpu', got {type!r}")
        kind, colon, number = type.strip().lower().partition(":")
        kind = "cuda" if kind == "gpu" else kind
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {type!r}: expected 'cpu', 'cuda' or 'cuda:<index>' (or tinygan's 'gpu')")
        if colon:
            if index is not None or not number.isdigit():
                raise ValueError(f"device: invalid device string {type!r} (expected e.g. 'cuda:0')")
            index = int(number)
        if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
            raise ValueError(f"device: the index must be a non-negative integer, got {index!r}")
        return str.__new__(cls, kind if index is None else f"{kind}:{index}")

    @property
    def type(self):
        """"cpu" or "cuda", as torch.device.type."""
        return str.partition(self, ":")[0]

    @property
    def index(self):
        """The device number, or None when not given (``device("cuda").index``), as torch.device.index."""
        number = str.partition(self, ":")[2]
        return int(number) if number else None

    def __repr__(self):
        index = self.index
        return f"device(type='{self.type}')" if index is None else f"device(type='{self.type}', index={index})"

    def __eq__(self, other):
        if not isinstance(other, str):
            return NotImplemented
        try:
            other = device(other)
        except ValueError:
            return False
        if check_device(self) != check_device(other):
            return False
        return self.index is None or other.index is None or self.index == other.index

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self):
        return hash(check_device(self))                      # equal objects hash alike: "gpu" for every CUDA device


_DEVICE_OBJECTS = {"cpu": device("cpu"), "gpu": device("cuda", 0)}


def device_object(array):
    """The ``device`` an array lives on, as ``Tensor.device`` reports it: device('cpu') or device('cuda:0')."""
    return _DEVICE_OBJECTS[device_of(array)]


def require_gpu():
    """Return the cupy module, or raise one clear error saying what is missing and how to install it."""
    cupy = _probe_cupy()
    if cupy is None:
        raise DeviceUnavailableError(f"device 'gpu' is not available: {_cupy_problem}; {_cupy_hint}")
    return cupy


def get_array_module(*arrays):
    """``numpy`` or ``cupy``, decided by the arrays' type (DeZero's and Chainer's ``xp``)."""
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return np


def xp_for(device):
    """The array module that holds arrays on ``device``."""
    return np if check_device(device) == "cpu" else require_gpu()


def device_of(array):
    """"gpu" for a CuPy array, "cpu" for anything else."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return "gpu"
    return "cpu"


def to_device(array, device):
    """Move an array to ``device``; returns the same array when it is already there."""
    device = check_device(device)
    if device == "cpu":
        return asnumpy(array)
    cupy = require_gpu()
    return cupy.asarray(array)


def asnumpy(array):
    """A NumPy array (copies from the GPU; no copy for a NumPy array)."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy.asnumpy(array)
    return np.asarray(array)


def synchronize(device):
    """Wait for queued GPU work (a no-op on the CPU); benchmarks call it before reading the clock."""
    if check_device(device) == "gpu":
        require_gpu().cuda.get_current_stream().synchronize()


def set_default_device(device):
    """Set the device that creation functions (zeros, randn, ...) use when none is given."""
    global _default_device
    device = check_device(device)
    if device == "gpu":
        require_gpu()
    _default_device = device


def get_default_device():
    """The device creation functions use when none is given."""
    return _default_device


# ==================================================================================================
# The few array operations that differ between NumPy and CuPy
# ==================================================================================================
def scatter_add(target, index, values):
    """target[index] += values with repeated indices accumulating (np.add.at / cupyx.scatter_add)."""
    if _cupy is not None and isinstance(target, _cupy.ndarray):
        import cupyx
        cupyx.scatter_add(target, index, values)
    else:
        np.add.at(target, index, values)

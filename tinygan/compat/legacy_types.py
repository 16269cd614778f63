"""PyTorch's legacy tensor types: ``FloatTensor(64, 1)``, ``LongTensor([1, 2])``, ``isinstance(x, FloatTensor)``,
``x.type(FloatTensor)``; tinygan.cuda's are the same types on the GPU."""
import numpy as np

from tinygan.core import Size, Tensor
from tinygan.creation import bool_, float16, float32, float64, int8, int16, int32, int64, tensor, uint8, zeros

# PyTorch's legacy type name of each dtype: x.type() -> 'torch.FloatTensor'
LEGACY_TYPE_NAMES = {np.dtype(np.float32): "FloatTensor", np.dtype(np.float64): "DoubleTensor",
                     np.dtype(np.float16): "HalfTensor", np.dtype(np.int64): "LongTensor",
                     np.dtype(np.int32): "IntTensor", np.dtype(np.int16): "ShortTensor",
                     np.dtype(np.int8): "CharTensor", np.dtype(np.uint8): "ByteTensor",
                     np.dtype(np.bool_): "BoolTensor"}


class LegacyTensorType(type):
    """The type of tinygan.FloatTensor and its family (PyTorch's legacy tensor types): calling one makes a Tensor
    of its dtype on its device, ``isinstance(x, FloatTensor)`` checks x's dtype and device, and
    ``x.type(FloatTensor)`` converts."""

    def __call__(cls, *args):
        """``FloatTensor(2, 3)``: zeros of that shape (PyTorch leaves them uninitialised); ``FloatTensor(data)``: a
        copy of a list, array or tensor in this type; ``FloatTensor()``: an empty tensor."""
        device = "gpu" if cls.is_cuda else "cpu"
        if len(args) == 1 and isinstance(args[0], Size):            # FloatTensor(x.size()): sizes, as PyTorch
            args = tuple(args[0])
        if all(isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)) for a in args):
            return zeros(*args, dtype=cls.dtype, device=device) if args else zeros(0, dtype=cls.dtype, device=device)
        if len(args) == 1 and not isinstance(args[0], (bool, float, complex, np.generic)):
            return tensor(args[0], dtype=cls.dtype, device=device)
        raise TypeError(f"{cls.__name__}(): expected sizes (ints) or one list, array or tensor of data, got "
                        f"{', '.join(type(a).__name__ for a in args)}")

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and obj.is_cuda == cls.is_cuda

    def __repr__(cls):
        return f"<class '{cls.type_name}'>"


def legacy_type(dtype, cuda=False):
    """The legacy tensor type of ``dtype`` on the CPU, or on the GPU for ``cuda=True`` (tinygan.cuda's)."""
    dtype = np.dtype(dtype)
    name = LEGACY_TYPE_NAMES[dtype]
    type_name = f"torch.{'cuda.' if cuda else ''}{name}"
    doc = f"PyTorch's {type_name}: {name}(2, 3) zeros, {name}(data) a copy; {dtype} on the {'GPU' if cuda else 'CPU'}."
    return LegacyTensorType(name, (), {"dtype": dtype, "is_cuda": cuda, "type_name": type_name, "__doc__": doc,
                                       "__module__": "tinygan.cuda" if cuda else "tinygan"})


FloatTensor, DoubleTensor, HalfTensor = legacy_type(float32), legacy_type(float64), legacy_type(float16)
LongTensor, IntTensor, ShortTensor = legacy_type(int64), legacy_type(int32), legacy_type(int16)
CharTensor, ByteTensor, BoolTensor = legacy_type(int8), legacy_type(uint8), legacy_type(bool_)

"""A strict stand-in for CuPy that runs on the CPU, so every CI run walks tinygan's GPU path without a GPU.

No maintained package stands in for CuPy on a CPU; projects that test GPU code without a GPU keep a small
strict fake in their test tree (pySDC's ``fake_cupy``, GPAW's ``cpupy``). This one is strict where a real GPU
would fail, and faithful to CuPy's rules (CuPy 14):

- arrays (``ndarray`` below) hold a NumPy array but refuse implicit conversion to NumPy (``np.asarray(x)``,
  ``numpy_array[x]``, ``float(...)`` of many elements) exactly as ``cupy.ndarray.__array__`` does;
- a NumPy array mixed into an operation (``gpu + numpy_array``, ``xp.maximum(gpu, numpy_array)``) raises,
  as CuPy's ufuncs and routines do; NumPy arrays are accepted only where CuPy copies them to the device
  itself: ``asarray``/``array``, index arrays, and values assigned with ``x[...] = value``;
- only names real CuPy has exist: the installed ``cupy`` module is the list, so a NumPy-only function on the
  GPU path (``xp.errstate``, ``xp.add.at``) raises AttributeError here as it would on a GPU;
- ``ElementwiseKernel`` compiles its CUDA C with NVRTC for real (sm_80 and sm_90, see ``gpu_kernels.py``)
  and then runs the body on NumPy, so a body that does not compile fails here too.

The arithmetic is NumPy's, so results match the CPU run bit for bit where the op order is the same.
"""
import contextlib

import numpy as np

import cupy as _real_cupy   # the list of names real CuPy has (importable without a GPU)

import gpu_kernels

IMPLICIT_CONVERSION = ("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct "
                       "a NumPy array explicitly.")


class NumPyArrayOnGPUPath(TypeError):
    """A NumPy array reached an operation on GPU arrays: CuPy raises here, so the stand-in does too."""


# ==================================================================================================
# Moving between the stand-in and NumPy
# ==================================================================================================
def _unwrap(value, where):
    """Arguments of an operation as NumPy values: stand-in arrays unwrapped, NumPy arrays refused."""
    if isinstance(value, ndarray):
        return value._array
    if isinstance(value, np.ndarray):
        raise NumPyArrayOnGPUPath(f"{where}: Unsupported type {type(value)} (a NumPy array mixed into a GPU "
                                  f"operation; move it with cupy.asarray first)")
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v, where) for v in value)
    return value


def _wrap(value):
    """Results as stand-in arrays; NumPy scalars become 0-d arrays, as CuPy's reductions return."""
    if isinstance(value, np.ndarray):
        return ndarray._of(value)
    if isinstance(value, np.generic):
        return ndarray._of(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _host_to_device(value):
    """What CuPy copies to the device on its own: NumPy arrays, lists, scalars (index arrays, assigned values)."""
    if isinstance(value, ndarray):
        return value._array
    if isinstance(value, tuple):
        return tuple(_host_to_device(v) for v in value)
    if isinstance(value, list):
        return np.asarray(value)
    return value


class _Function:
    """A CuPy function or ufunc: unwraps its arguments, refuses NumPy arrays, wraps its result."""

    def __init__(self, host, real, name):
        self._host, self._real, self._name = host, real, name

    def __call__(self, *args, **kwargs):
        where = f"cupy.{self._name}"
        result = self._host(*_unwrap(args, where), **{k: _unwrap(v, where) for k, v in kwargs.items()})
        return _wrap(result)

    def __getattr__(self, name):               # ufunc methods: reduce, outer ... but only those CuPy has
        if not hasattr(self._real, name):
            raise AttributeError(f"cupy.{self._name} has no attribute {name!r} (NumPy-only; not on the GPU)")
        return _Function(getattr(self._host, name), getattr(self._real, name), f"{self._name}.{name}")

    def __repr__(self):
        return f"<strict stand-in for cupy.{self._name}>"


# ==================================================================================================
# The array
# ==================================================================================================
class ndarray:
    """A CuPy array stand-in: a NumPy array inside, CuPy's rules outside."""
    __slots__ = ("_array",)
    __array_priority__ = 100.0
    __array_ufunc__ = None      # NumPy's operators defer to ours (numpy_array + x calls x.__radd__)
    _NAMES = frozenset(dir(_real_cupy.ndarray))

    def __init__(self, shape, dtype=float):
        self._array = np.empty(shape, dtype=dtype)

    @classmethod
    def _of(cls, array):
        out = cls.__new__(cls)
        out._array = array
        return out

    # ---- what CuPy refuses ----------------------------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError(IMPLICIT_CONVERSION)

    def __getattr__(self, name):
        if name not in ndarray._NAMES:
            raise AttributeError(f"cupy.ndarray has no attribute {name!r} (NumPy-only; not on the GPU)")
        value = getattr(self._array, name)
        if callable(value):
            return _Function(value, getattr(_real_cupy.ndarray, name), f"ndarray.{name}")
        return _wrap(value)

    # ---- attributes that are plain values ---------------------------------------------------------
    shape = property(lambda self: self._array.shape)
    dtype = property(lambda self: self._array.dtype)
    ndim = property(lambda self: self._array.ndim)
    size = property(lambda self: self._array.size)
    strides = property(lambda self: self._array.strides)
    nbytes = property(lambda self: self._array.nbytes)
    itemsize = property(lambda self: self._array.itemsize)
    T = property(lambda self: ndarray._of(self._array.T))

    def get(self, stream=None, order="C", out=None, blocking=True):
        """The explicit device-to-host copy."""
        return self._array.copy()

    # ---- Python protocols -------------------------------------------------------------------------
    def __len__(self):
        return len(self._array)

    def __iter__(self):
        return (_wrap(row) for row in self._array)

    def __bool__(self):
        return bool(self._array)

    def __float__(self):
        return float(self._array)

    def __int__(self):
        return int(self._array)

    def __index__(self):
        return self._array.__index__()

    def __repr__(self):
        return repr(self._array).replace("array(", "stand-in cupy array(", 1)

    def __getitem__(self, index):
        return _wrap(self._array[_host_to_device(index)])

    def __setitem__(self, index, value):
        self._array[_host_to_device(index)] = _host_to_device(value)


def _binary(name, reflected=False, inplace=False):
    host = getattr(np.ndarray, name)

    def op(self, other):
        other = _unwrap(other, f"cupy.ndarray.{name}")
        if inplace:
            host(self._array, other)
            return self
        return _wrap(host(self._array, other))
    op.__name__ = name
    return op


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lshift", "rshift"):
    setattr(ndarray, f"__{_name}__", _binary(f"__{_name}__"))
    setattr(ndarray, f"__r{_name}__", _binary(f"__r{_name}__", reflected=True))
    setattr(ndarray, f"__i{_name}__", _binary(f"__i{_name}__", inplace=True))
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(ndarray, f"__{_name}__", _binary(f"__{_name}__"))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_name}__", (lambda host: lambda self: _wrap(host(self._array)))(
        getattr(np.ndarray, f"__{_name}__")))
ndarray.__hash__ = None


# ==================================================================================================
# The module: every name real CuPy has, served by NumPy under CuPy's rules
# ==================================================================================================
class _Namespace:
    """``cupy``, ``cupy.lib``, ``cupy.linalg`` ...: a name exists here only if it exists in real CuPy."""

    def __init__(self, real, host, path, overrides=None):
        self._real, self._host, self._path, self._overrides = real, host, path, overrides or {}

    def __getattr__(self, name):
        if name in self._overrides:
            return self._overrides[name]
        if not hasattr(self._real, name):
            raise AttributeError(f"module '{self._path}' has no attribute {name!r} (NumPy-only; not on the GPU)")
        host = getattr(self._host, name, None)
        if host is None:
            raise AttributeError(f"the CPU stand-in does not serve {self._path}.{name} yet")
        if isinstance(host, type) or isinstance(host, np.dtype) or not callable(host):
            if type(host).__name__ == "module":
                return _Namespace(getattr(self._real, name), host, f"{self._path}.{name}")
            return host                        # dtypes and scalar types (cupy.float32 is numpy.float32)
        return _Function(host, getattr(self._real, name), f"{self._path[5:] + '.' if '.' in self._path else ''}"
                                                          f"{name}")

    def __repr__(self):
        return f"<strict CPU stand-in for module '{self._path}'>"


def asarray(a, dtype=None, order=None, *, blocking=False):
    """Host data to the device (a copy unless it already is a device array of that dtype)."""
    if isinstance(a, ndarray):
        return a if dtype is None or np.dtype(dtype) == a.dtype else ndarray._of(a._array.astype(dtype))
    return ndarray._of(np.array(a, dtype=dtype, order=order or "K"))


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    return ndarray._of(np.array(_host_to_device(obj), dtype=dtype, copy=copy, order=order, ndmin=ndmin))


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    return a.get() if isinstance(a, ndarray) else np.asarray(a, order=order)


def get_array_module(*args):
    return module if any(isinstance(a, ndarray) for a in args) else np


class _RandomState:
    """cupy.random.RandomState: NumPy's generator behind CuPy's method names and signatures."""
    _NAMES = frozenset(dir(_real_cupy.random.RandomState))

    def __init__(self, seed=None, method=None):
        self._generator = np.random.default_rng(seed)

    def standard_normal(self, size=None, dtype=float):
        return ndarray._of(np.asarray(self._generator.standard_normal(size=size, dtype=dtype)))

    def random_sample(self, size=None, dtype=float):
        return ndarray._of(np.asarray(self._generator.random(size=size, dtype=dtype)))

    def permutation(self, num):
        return ndarray._of(self._generator.permutation(num))

    def __getattr__(self, name):
        if name not in _RandomState._NAMES:
            raise AttributeError(f"cupy.random.RandomState has no attribute {name!r}")
        raise AttributeError(f"the CPU stand-in does not serve RandomState.{name} yet")


class _Stream:
    """A CUDA stream: the stand-in runs everything at once, so synchronising is a no-op."""

    def synchronize(self):
        pass


class _MemoryPool:
    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


class ElementwiseKernel:
    """cupy.ElementwiseKernel: compiled by NVRTC for real on first call per dtype, then run on NumPy."""

    def __init__(self, in_params, out_params, operation, name="kernel", reduce_dims=True, preamble="",
                 no_return=False, return_tuple=False, loop_prep="", after_loop="", options=()):
        self.in_params, self.out_params, self.operation, self.name = in_params, out_params, operation, name
        self.preamble, self.options = preamble, options
        self.in_names = [p.split()[-1] for p in in_params.split(",")]
        self.out_names = [p.split()[-1] for p in out_params.split(",")]
        self.compiled = set()

    def __call__(self, *args, **kwargs):
        if kwargs:
            raise TypeError(f"{self.name}: the stand-in takes positional arguments only, got {sorted(kwargs)}")
        names = self.in_names + self.out_names
        if len(args) != len(names):
            raise TypeError(f"{self.name}: expected {len(names)} arguments ({', '.join(names)}), got {len(args)}")
        values = dict(zip(names, _unwrap(args, f"ElementwiseKernel {self.name}")))
        key = tuple((np.asarray(v).dtype.str, isinstance(v, np.ndarray)) for v in values.values())
        if key not in self.compiled:
            gpu_kernels.compile_elementwise(self, list(values.values()))
            self.compiled.add(key)
        gpu_kernels.emulate_elementwise(self, values)
        return None


_cuda = _Namespace(_real_cupy.cuda, object(), "cupy.cuda", {
    "runtime": _Namespace(_real_cupy.cuda.runtime, object(), "cupy.cuda.runtime",
                          {"getDeviceCount": lambda: 1}),
    "get_current_stream": lambda device_id=-1: _Stream(),
    "Stream": _Stream,
})

_pool = _MemoryPool()

module = _Namespace(_real_cupy, np, "cupy", {
    "ndarray": ndarray, "asarray": asarray, "array": array, "asnumpy": asnumpy,
    "get_array_module": get_array_module, "ElementwiseKernel": ElementwiseKernel,
    "random": _Namespace(_real_cupy.random, object(), "cupy.random", {"RandomState": _RandomState}),
    "cuda": _cuda, "get_default_memory_pool": lambda: _pool, "is_available": lambda: True,
    "__name__": "cupy", "__version__": _real_cupy.__version__ + "+cpu-stand-in",
})


def scatter_add(a, slices, value):
    """cupyx.scatter_add: a[slices] += value with repeated indices adding up."""
    np.add.at(_unwrap(a, "cupyx.scatter_add"), _host_to_device(slices), _unwrap(value, "cupyx.scatter_add"))


cupyx = _Namespace(__import__("cupyx"), object(), "cupyx", {"scatter_add": scatter_add})


# ==================================================================================================
# Putting the stand-in behind tinygan's backend
# ==================================================================================================
@contextlib.contextmanager
def standing_in():
    """Inside this block tinygan's "gpu" device is the stand-in: backend serves it as CuPy, and ``cupyx``
    imports as the stand-in's. Everything is put back afterwards (a real GPU, if any, included)."""
    import sys

    from tinygan import backend
    saved = (backend._cupy, backend._cupy_problem, backend._cupy_probed, backend._generators.pop("gpu", None),
             sys.modules.get("cupyx"))
    backend._cupy, backend._cupy_problem, backend._cupy_probed = module, None, True
    sys.modules["cupyx"] = cupyx
    try:
        yield module
    finally:
        backend._generators.pop("gpu", None)
        backend._cupy, backend._cupy_problem, backend._cupy_probed, generator, real_cupyx = saved
        if generator is not None:
            backend._generators["gpu"] = generator
        if real_cupyx is None:
            sys.modules.pop("cupyx", None)
        else:
            sys.modules["cupyx"] = real_cupyx

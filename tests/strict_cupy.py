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

- CUDA graphs (``Stream.begin_capture`` / ``end_capture`` / ``Graph.launch``) follow CUDA's semantics: every
  operation run while a stream captures is recorded as (host function, argument objects, result object), and
  ``launch`` replays the recording in order, writing each result into the array created at capture time and
  re-running in-place ops on the same arrays. Python scalars are frozen at capture, arrays are fixed buffers,
  host code does not re-run, and a ``RandomState`` draw replays the same numbers (as cuRAND's host API does in
  a graph). Capture itself leaves memory that existed before it as it was (a real capture executes nothing)
  and fills the arrays it created with NaN bytes until the first launch. A host synchronisation during
  capture (``get``, ``bool``, ``float``, ``int``, ``item``, ``tolist``, ``asnumpy``, ``Stream.synchronize``)
  or a host-to-device copy raises ``CaptureError`` naming it.

The arithmetic is NumPy's, so results match the CPU run bit for bit where the op order is the same.
"""
import contextlib
import weakref

import numpy as np

import cupy as _real_cupy   # the list of names real CuPy has (importable without a GPU)

import gpu_kernels

IMPLICIT_CONVERSION = ("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct "
                       "a NumPy array explicitly.")


class NumPyArrayOnGPUPath(TypeError):
    """A NumPy array reached an operation on GPU arrays: CuPy raises here, so the stand-in does too."""


class CaptureError(RuntimeError):
    """Something a CUDA graph cannot hold happened while a stream was capturing (a host synchronisation, a
    host-to-device copy, a nested capture): CUDA fails the capture, so the stand-in raises, naming it."""


_capture = None         # the _Recording of the stream now capturing, or None
_live = weakref.WeakValueDictionary()   # id -> every stand-in array alive (live_arrays() counts them)


def live_arrays():
    """How many stand-in arrays are alive now (a replay must create none)."""
    return len(_live)


def _no_sync(what):
    if _capture is not None:
        raise CaptureError(f"{what} during CUDA graph capture: a host synchronisation cannot be captured "
                           f"(read results back after graph.launch())")


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

    def __init__(self, host, real, name, owner=None):
        self._host, self._real, self._name = host, real, name
        self._owner = owner         # the array a method is bound to (x.fill(0) writes x)

    def __call__(self, *args, **kwargs):
        where = f"cupy.{self._name}"
        if _capture is not None:
            call = _call_unwrapped(self._host, where)
            return _capture.run(lambda owner, *a, **k: call(*a, **k), (self._owner,) + args, kwargs)
        result = self._host(*_unwrap(args, where), **{k: _unwrap(v, where) for k, v in kwargs.items()})
        return _wrap(result)

    def __getattr__(self, name):               # ufunc methods: reduce, outer ... but only those CuPy has
        if not hasattr(self._real, name):
            raise AttributeError(f"cupy.{self._name} has no attribute {name!r} (NumPy-only; not on the GPU)")
        return _Function(getattr(self._host, name), getattr(self._real, name), f"{self._name}.{name}",
                         self._owner)

    def __repr__(self):
        return f"<strict stand-in for cupy.{self._name}>"


def _call_unwrapped(host, where):
    """``host`` called on its arguments as NumPy values (what a recorded operation runs at every replay)."""
    def call(*args, **kwargs):
        return host(*_unwrap(args, where), **{k: _unwrap(v, where) for k, v in kwargs.items()})
    return call


# ==================================================================================================
# The array
# ==================================================================================================
class ndarray:
    """A CuPy array stand-in: a NumPy array inside, CuPy's rules outside."""
    __slots__ = ("_array", "__weakref__")
    __array_priority__ = 100.0
    __array_ufunc__ = None      # NumPy's operators defer to ours (numpy_array + x calls x.__radd__)
    _NAMES = frozenset(dir(_real_cupy.ndarray))

    def __init__(self, shape, dtype=float):
        self._array = np.empty(shape, dtype=dtype)
        _live[id(self)] = self

    @classmethod
    def _of(cls, array):
        out = cls.__new__(cls)
        out._array = array
        _live[id(out)] = out
        return out

    # ---- what CuPy refuses ----------------------------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError(IMPLICIT_CONVERSION)

    def __getattr__(self, name):
        if name not in ndarray._NAMES:
            raise AttributeError(f"cupy.ndarray has no attribute {name!r} (NumPy-only; not on the GPU)")
        if name in ("item", "tolist"):
            _no_sync(f"cupy.ndarray.{name}()")
        value = getattr(self._array, name)
        if callable(value):
            return _Function(value, getattr(_real_cupy.ndarray, name), f"ndarray.{name}", self)
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
        _no_sync("cupy.ndarray.get() (a device-to-host copy)")
        return self._array.copy()

    # ---- Python protocols -------------------------------------------------------------------------
    def __len__(self):
        return len(self._array)

    def __iter__(self):
        return (_wrap(row) for row in self._array)

    def __bool__(self):
        _no_sync("bool(cupy.ndarray)")
        return bool(self._array)

    def __float__(self):
        _no_sync("float(cupy.ndarray)")
        return float(self._array)

    def __int__(self):
        _no_sync("int(cupy.ndarray)")
        return int(self._array)

    def __index__(self):
        _no_sync("operator.index(cupy.ndarray)")
        return self._array.__index__()

    def __repr__(self):
        _no_sync("repr(cupy.ndarray)")
        return repr(self._array).replace("array(", "stand-in cupy array(", 1)

    def __getitem__(self, index):
        if _capture is not None:
            _no_host_data(index, "an index array from the host")
            return _capture.run(_getitem, (self, index), {})
        return _wrap(self._array[_host_to_device(index)])

    def __setitem__(self, index, value):
        if _capture is not None:
            _no_host_data((index, value), "x[...] = host data")
            _capture.run(_setitem, (self, index, value), {})
            return
        self._array[_host_to_device(index)] = _host_to_device(value)


def _getitem(a, index):
    return _unwrap(a, "getitem")[_host_to_device(index)]


def _setitem(a, index, value):
    _unwrap(a, "setitem")[_host_to_device(index)] = _host_to_device(value)


def _no_host_data(value, what):
    """Host arrays (NumPy arrays, lists) are copied to the device by CuPy: not capturable as new data."""
    if isinstance(value, (np.ndarray, list)):
        raise CaptureError(f"{what} during CUDA graph capture: a host-to-device copy would replay the same "
                           f"bytes; copy new data into a static device buffer before graph.launch()")
    if isinstance(value, tuple):
        for v in value:
            _no_host_data(v, what)


def _binary(name, reflected=False, inplace=False):
    host = getattr(np.ndarray, name)

    def run(self, other):                  # the host work, on NumPy values (recorded while capturing)
        result = host(self._array, _unwrap(other, f"cupy.ndarray.{name}"))
        return self if inplace else result

    def op(self, other):
        if _capture is not None:
            return _capture.run(run, (self, other), {})
        return _wrap(run(self, other))
    op.__name__ = name
    return op


def _unary(name):
    host = getattr(np.ndarray, name)

    def run(self):
        return host(self._array)

    def op(self):
        if _capture is not None:
            return _capture.run(run, (self,), {})
        return _wrap(run(self))
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
    setattr(ndarray, f"__{_name}__", _unary(f"__{_name}__"))
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
        if dtype is None or np.dtype(dtype) == a.dtype:
            return a
        if _capture is not None:
            return _capture.run(lambda x: x._array.astype(dtype), (a,), {})
        return ndarray._of(a._array.astype(dtype))
    if _capture is not None:
        _no_host_data(np.asarray(a), "cupy.asarray(host data)")
    return ndarray._of(np.array(a, dtype=dtype, order=order or "K"))


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    if _capture is not None:
        _no_host_data(obj if isinstance(obj, ndarray) else np.asarray(obj), "cupy.array(host data)")
        return _capture.run(lambda o: np.array(_host_to_device(o), dtype=dtype, copy=copy, order=order,
                                               ndmin=ndmin), (obj,), {})
    return ndarray._of(np.array(_host_to_device(obj), dtype=dtype, copy=copy, order=order, ndmin=ndmin))


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    _no_sync("cupy.asnumpy() (a device-to-host copy)")
    return a.get() if isinstance(a, ndarray) else np.asarray(a, order=order)


def get_array_module(*args):
    return module if any(isinstance(a, ndarray) for a in args) else np


class _RandomState:
    """cupy.random.RandomState: NumPy's generator behind CuPy's method names and signatures."""
    _NAMES = frozenset(dir(_real_cupy.random.RandomState))

    def __init__(self, seed=None, method=None):
        self._generator = np.random.default_rng(seed)

    def standard_normal(self, size=None, dtype=float):
        return self._draw(lambda: np.asarray(self._generator.standard_normal(size=size, dtype=dtype)))

    def random_sample(self, size=None, dtype=float):
        return self._draw(lambda: np.asarray(self._generator.random(size=size, dtype=dtype)))

    def permutation(self, num):
        return self._draw(lambda: self._generator.permutation(num))

    @staticmethod
    def _draw(draw):
        """Draw now; inside a capture the graph replays these very numbers (cuRAND's host API in a graph)."""
        if _capture is None:
            return ndarray._of(draw())
        frozen = draw()
        return _capture.run(lambda: frozen.copy(), (), {})

    def __getattr__(self, name):
        if name not in _RandomState._NAMES:
            raise AttributeError(f"cupy.random.RandomState has no attribute {name!r}")
        raise AttributeError(f"the CPU stand-in does not serve RandomState.{name} yet")


# ==================================================================================================
# Streams and CUDA graphs: capture records, launch replays
# ==================================================================================================
def _root(array):
    """The NumPy array that owns ``array``'s memory (a view's base, followed to the end)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _arrays_in(value):
    """Every stand-in array in an argument (nested in tuples, lists and dict values)."""
    if isinstance(value, ndarray):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _arrays_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _arrays_in(v)


def _store(result, computed):
    """Write a replayed operation's value into the object it returned at capture time (a fixed buffer)."""
    if isinstance(result, ndarray):
        if isinstance(computed, ndarray):
            computed = computed._array
        computed = np.asarray(computed)
        target = result._array
        if computed is target or (computed.shape == target.shape and computed.strides == target.strides and
                                  computed.__array_interface__["data"] == target.__array_interface__["data"]):
            return                                   # a view of the same memory, or an in-place op's self
        np.copyto(target, computed, casting="unsafe")
    elif isinstance(result, (tuple, list)):
        for r, c in zip(result, computed):
            _store(r, c)


class _Recording:
    """The operations one capture recorded, and the memory it must leave untouched."""

    def __init__(self, stream):
        self.stream = stream
        self.ops = []               # (host function, args, kwargs, result object)
        self.saved = {}             # id(root) -> (root, its contents before capture): memory older than capture
        self.created = {}           # id(root) -> root: memory the capture allocated

    def _remember(self, objects):
        for a in _arrays_in(objects):
            root = _root(a._array)
            if id(root) not in self.saved and id(root) not in self.created:
                self.saved[id(root)] = (root, root.copy())

    def run(self, fn, args, kwargs):
        """Run ``fn`` now (the stand-in needs the values to go on) and record it for every launch."""
        self._remember((args, kwargs))
        raw = fn(*args, **kwargs)
        result = raw if isinstance(raw, ndarray) else _wrap(raw)
        for a in _arrays_in(result):
            root = _root(a._array)
            if id(root) not in self.saved:
                self.created[id(root)] = root
        self.ops.append((fn, args, kwargs, result))
        return result

    def finish(self):
        """A real capture executes nothing: memory older than the capture gets its contents back, and what
        the capture allocated holds garbage (NaN bytes) until the graph is launched."""
        for root, contents in self.saved.values():
            np.copyto(root, contents)
        for root in self.created.values():
            if root.flags.c_contiguous and root.size:
                root.reshape(-1).view(np.uint8).fill(0xFF)
        self.saved = {}


class Graph:
    """cupy.cuda.graph.Graph: ``launch`` replays the captured operations in order on their fixed buffers."""

    def __init__(self, recording):
        self._ops = recording.ops
        self.launches = 0

    def launch(self, stream=None):
        if _capture is not None:
            raise CaptureError("Graph.launch() during CUDA graph capture (nested graphs are not supported here)")
        for fn, args, kwargs, result in self._ops:
            _store(result, fn(*args, **kwargs))
        self.launches += 1

    def upload(self, stream=None):
        pass

    def __len__(self):
        return len(self._ops)


class _Stream:
    """A CUDA stream: the stand-in runs everything at once, so synchronising is a no-op (outside capture)."""
    _current = []

    def __init__(self, null=False, non_blocking=False, ptds=False, priority=None):
        self.null, self.non_blocking = null, non_blocking
        self._recording = None

    def __enter__(self):
        _Stream._current.append(self)
        return self

    def __exit__(self, *exc):
        _Stream._current.pop()

    def synchronize(self):
        _no_sync("cupy.cuda.Stream.synchronize()")

    def begin_capture(self, mode=None):
        global _capture
        if self.null:
            raise CaptureError("begin_capture on the legacy null stream: capture needs a non-blocking stream, "
                               "cupy.cuda.Stream(non_blocking=True)")
        if _capture is not None:
            raise CaptureError("begin_capture while another stream is capturing")
        if not _Stream._current or _Stream._current[-1] is not self:
            raise CaptureError("begin_capture on a stream that is not the current one: CuPy would queue the "
                               "work elsewhere (use `with stream:` around the capture)")
        self._recording = _capture = _Recording(self)

    def end_capture(self):
        global _capture
        if _capture is None or _capture.stream is not self:
            raise CaptureError("end_capture on a stream that is not capturing")
        recording, self._recording, _capture = _capture, None, None
        recording.finish()
        return Graph(recording)

    def is_capturing(self):
        return self._recording is not None


_Stream.null = _Stream(null=True)


def _get_current_stream(device_id=-1):
    return _Stream._current[-1] if _Stream._current else _Stream.null


class _MemoryPool:
    def __init__(self, allocator=None):
        pass

    def malloc(self, size):
        raise NotImplementedError("the CPU stand-in allocates with NumPy; MemoryPool.malloc is never called")

    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


@contextlib.contextmanager
def _using_allocator(allocator=None):
    """cupy.cuda.using_allocator: the stand-in's arrays are NumPy's, so only the nesting is kept."""
    yield


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
        if _capture is not None:
            _capture.run(self._run, args, {})
            return None
        self._run(*args)
        return None

    def _run(self, *args):
        names = self.in_names + self.out_names
        values = dict(zip(names, _unwrap(args, f"ElementwiseKernel {self.name}")))
        key = tuple((np.asarray(v).dtype.str, isinstance(v, np.ndarray)) for v in values.values())
        if key not in self.compiled:
            gpu_kernels.compile_elementwise(self, list(values.values()))
            self.compiled.add(key)
        gpu_kernels.emulate_elementwise(self, values)


_cuda = _Namespace(_real_cupy.cuda, object(), "cupy.cuda", {
    "runtime": _Namespace(_real_cupy.cuda.runtime, object(), "cupy.cuda.runtime",
                          {"getDeviceCount": lambda: 1}),
    "get_current_stream": _get_current_stream,
    "Stream": _Stream, "MemoryPool": _MemoryPool, "using_allocator": _using_allocator,
    "graph": _Namespace(_real_cupy.cuda.graph, object(), "cupy.cuda.graph", {"Graph": Graph}),
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
# Putting the stand-in behind tinygan's array backend
# ==================================================================================================
@contextlib.contextmanager
def standing_in():
    """Inside this block tinygan's "gpu" device is the stand-in: the array backend serves it as CuPy, and
    ``cupyx`` imports as the stand-in's. Everything is put back afterwards (a real GPU, if any, included)."""
    import sys

    from tinygan import rng
    from tinygan.core import array_backend as backend
    saved = (backend._cupy, backend._cupy_problem, backend._cupy_probed, rng._generators.pop("gpu", None),
             sys.modules.get("cupyx"))
    backend._cupy, backend._cupy_problem, backend._cupy_probed = module, None, True
    sys.modules["cupyx"] = cupyx
    try:
        yield module
    finally:
        rng._generators.pop("gpu", None)
        backend._cupy, backend._cupy_problem, backend._cupy_probed, generator, real_cupyx = saved
        if generator is not None:
            rng._generators["gpu"] = generator
        if real_cupyx is None:
            sys.modules.pop("cupyx", None)
        else:
            sys.modules["cupyx"] = real_cupyx

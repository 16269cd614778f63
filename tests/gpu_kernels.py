"""The CUDA C kernels tinygan hands to CuPy, checked without a GPU: compiled for real, and run on NumPy.

tinygan writes some of its GPU work as ``cupy.ElementwiseKernel`` bodies in CUDA C (the fused optimizer
updates in tinygan/optim, the ops' fused elementwise kernels in tinygan/ops). CuPy compiles a body only when
it is first called on a GPU, so a body that is not valid CUDA C passes every CPU test. This helper closes that
gap:

- ``compile_elementwise(kernel, values)`` generates the exact source CuPy would generate for that call (the
  argument kinds and dtypes taken from ``values`` as CuPy takes them from its arguments) and compiles it with
  NVRTC for sm_80 and sm_90. NVRTC needs no GPU and no driver: only CuPy's headers, the CUDA runtime headers
  and libnvrtc (pip: cupy-cuda12x, nvidia-cuda-runtime-cu12, nvidia-cuda-nvrtc-cu12).
- ``emulate_elementwise(kernel, values_by_name)`` runs the body on NumPy arrays, so its arithmetic can be
  compared with a reference. The bodies are kept to a subset of C that is valid Python once the declarations'
  types and the semicolons are dropped (no braces, no ternaries).
- ``all_kernels()`` lists every kernel tinygan defines, with the dtypes and argument kinds it is called with.

The code generator is CuPy's own, reached through private names (``cupy._core._kernel``, ``cupy._core.core``,
``cupy.cuda.compiler``) whose signatures change between releases, so the compile check is pinned to one CuPy
version (``CUPY_VERSION``) and reports itself unavailable on any other (``nvrtc_available()``). The emulation
and ``all_kernels`` need only NumPy.

This module holds no tests: tests/test_gpu_kernels.py uses it, and so does tests/strict_cupy.py (the CPU
stand-in for CuPy, whose ``ElementwiseKernel`` compiles here and then emulates here).
"""
import dataclasses
import functools
import importlib
import pkgutil
import re

import numpy as np

CUPY_VERSION = "14.2.0"        # the version whose private code generator this module calls
DEFAULT_ARCHS = ("sm_80", "sm_90")


class KernelCompileError(Exception):
    """NVRTC rejected the source CuPy generates for a kernel: names the kernel, its dtypes, the arch, the log."""

    def __init__(self, message, *, kernel_name, arch, signature, log, source, options):
        super().__init__(message)
        self.kernel_name, self.arch, self.signature = kernel_name, arch, signature
        self.log, self.source, self.options = log, source, options


# ==================================================================================================
# Parameters, as CuPy parses them ("T grad, float32 lr, raw T x")
# ==================================================================================================
@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    ctype: str          # a type variable ("T") or a dtype name ("float32")
    raw: bool
    is_output: bool

    @property
    def is_type_variable(self):
        return len(self.ctype) == 1        # CuPy's rule: a one-character type is a type variable


def parse_params(text, is_output):
    """CuPy's parameter list syntax: ``[raw] [_non_const] type name`` separated by commas."""
    params = []
    if not text.strip():
        return params
    for item in text.strip().split(","):
        words = item.split()
        if len(words) < 2 or any(w not in ("raw", "_non_const") for w in words[:-2]):
            raise ValueError(f"syntax error in kernel parameter {item.strip()!r}")
        params.append(Param(words[-1], words[-2], "raw" in words[:-2], is_output))
    return params


def kernel_params(kernel):
    """(inputs, outputs) of a kernel-like object as lists of Param."""
    return parse_params(kernel.in_params, False), parse_params(kernel.out_params, True)


def kernel_operation(kernel):
    """The CUDA C body: ``operation`` (cupy.ElementwiseKernel, the strict stand-in) or ``body`` (FusedKernel)."""
    operation = getattr(kernel, "operation", None)
    return operation if operation is not None else kernel.body


def is_kernel(obj):
    """Duck-typed: an elementwise kernel definition (FusedKernel, ElementwiseKernel stand-ins, future ones)."""
    if isinstance(obj, type):
        return False
    try:
        fields = (obj.in_params, obj.out_params, obj.name, kernel_operation(obj))
    except AttributeError:
        return False
    return all(isinstance(f, str) for f in fields)


def _is_array(value):
    return isinstance(value, np.ndarray)


def _values_in_order(kernel, values):
    inputs, outputs = kernel_params(kernel)
    if isinstance(values, dict):
        names = [p.name for p in inputs + outputs]
        missing, extra = set(names) - set(values), set(values) - set(names)
        if missing or extra:
            raise TypeError(f"{kernel.name}: missing arguments {sorted(missing)}, unexpected {sorted(extra)}")
        return [values[n] for n in names]
    return list(values)


# ==================================================================================================
# Compiling with NVRTC what CuPy would compile
# ==================================================================================================
@functools.lru_cache(maxsize=None)
def nvrtc_available():
    """(True, "") when CuPy CUPY_VERSION, its headers, the CUDA headers and libnvrtc are all here, else
    (False, the reason). Compiles one trivial kernel to be sure; the answer is cached."""
    try:
        import cupy
    except Exception as e:                                   # ImportError, or a broken install
        return False, f"CuPy is not installed ({type(e).__name__}: {e})"
    if cupy.__version__ != CUPY_VERSION:
        return False, (f"CuPy {cupy.__version__} is installed; the kernel compile check calls CuPy's private "
                       f"code generator and is pinned to CuPy {CUPY_VERSION}")
    try:
        _cupy_internals()
    except (ImportError, AttributeError) as e:
        return False, f"CuPy {CUPY_VERSION} lacks an internal this check needs: {e}"
    try:
        from cupy.cuda import nvrtc
        nvrtc.getVersion()
    except Exception as e:
        return False, (f"NVRTC cannot be loaded ({type(e).__name__}: {e}); "
                       f"pip install nvidia-cuda-nvrtc-cu12")
    try:
        _cupy_internals().core.assemble_cupy_compiler_options(())
    except Exception as e:
        return False, (f"the CUDA headers are missing ({e}); pip install nvidia-cuda-runtime-cu12 "
                       f"or set CUDA_PATH")
    probe = _Probe()
    try:
        compile_elementwise(probe, [np.zeros(2, np.float32), np.zeros(2, np.float32)], archs=("sm_80",))
    except Exception as e:
        return False, f"NVRTC cannot compile a trivial CuPy kernel: {type(e).__name__}: {e}"
    return True, ""


class _Probe:
    in_params, out_params, operation, name = "T x", "T y", "y = x", "gpu_kernels_probe"


@functools.lru_cache(maxsize=None)
def _cupy_internals():
    """Every private CuPy name this module uses, looked up once (an AttributeError here means another CuPy)."""
    import cupy
    from cupy._core import _carray, _kernel, _scalar, core
    from cupy.cuda import compiler
    names = dict(
        ElementwiseKernel=cupy.ElementwiseKernel, ndarray=cupy.ndarray,
        ArgInfo=_kernel._ArgInfo, get_code=_kernel._get_elementwise_kernel_code,
        CScalar=_scalar.CScalar, Indexer=_carray.Indexer, core=core,
        header=''.join('#include <%s>\n' % h for h in core._cupy_header_list),
        NVRTCProgram=compiler._NVRTCProgram, CompileException=compiler.CompileException,
        nvrtc_version=compiler._get_nvrtc_version, max_cc=compiler._get_max_compute_capability,
        compiler=compiler)
    for attr in ("assemble_cupy_compiler_options",):
        getattr(core, attr)
    for attr in ("_use_ptx", "_use_pch", "_get_bool_env_variable"):
        getattr(compiler, attr)
    return type("CupyInternals", (), names)


# _ArgKind in cupy/_core/_kernel.pxd
_ARG_KIND_NDARRAY, _ARG_KIND_INDEXER, _ARG_KIND_SCALAR = 1, 2, 3


@dataclasses.dataclass
class _ArrayLayout:
    """What CuPy knows of a device array when it builds a kernel: dtype, shape, strides and two flags."""
    dtype: np.dtype
    shape: tuple
    strides: tuple
    c_contiguous: bool
    index_32_bits: bool

    @classmethod
    def of(cls, a):
        """The layout the array would have on the device (cupy.asarray keeps shape, strides and dtype)."""
        root = a
        while isinstance(root.base, np.ndarray):
            root = root.base
        return cls(a.dtype, a.shape, a.strides, _c_contiguity(a.shape, a.strides, a.itemsize),
                   max(root.nbytes, a.nbytes) <= 1 << 31)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))


def _c_contiguity(shape, strides, itemsize):
    """cupy/_core/internal.pyx get_c_contiguity."""
    ndim = len(strides)
    if ndim == 0 or (ndim == 1 and strides[0] == itemsize):
        return True
    prev, index, st = -1, 0, 0
    for i in range(ndim):
        if shape[i] == 0:
            return True
        if shape[i] == 1:
            continue
        st = strides[i]
        if prev == -1 or strides[prev] != shape[i] * st:
            index += 1
        prev = i
    return index == 0 or (index == 1 and st == itemsize)


def _broadcast(layouts, params):
    """cupy/_core/internal.pyx _broadcast_core over the non-raw arrays; the broadcast views' layouts."""
    arrays = [(i, a) for i, (a, p) in enumerate(zip(layouts, params)) if isinstance(a, _ArrayLayout) and not p.raw]
    if not arrays:
        raise ValueError("Loop size is undecided.")
    shape = tuple(np.broadcast_shapes(*[a.shape for _, a in arrays]))
    out = list(layouts)
    for i, a in arrays:
        if a.shape == shape:
            continue
        strides = [0] * len(shape)
        for j, n in enumerate(a.shape):
            if n == shape[j + len(shape) - len(a.shape)]:
                strides[j + len(shape) - len(a.shape)] = a.strides[j]
        view = _ArrayLayout(a.dtype, shape, tuple(strides), _c_contiguity(shape, strides, a.dtype.itemsize),
                            a.index_32_bits)
        if view.size * a.dtype.itemsize > 1 << 31:
            view.index_32_bits = False
        out[i] = view
    return shape, out


def _reduce_dims(layouts, params, shape):
    """cupy/_core/_kernel.pyx _reduce_dims / _reduced_view_core: merge contiguous axes of every array."""
    if len(shape) <= 1 or not layouts:
        return shape, layouts
    layouts = list(layouts)
    if len(layouts) == 1:                                    # the single-argument path (reduced_view)
        a = layouts[0]
        if params[0].raw or not isinstance(a, _ArrayLayout) or not a.c_contiguous:
            return shape, layouts                            # (a strided single array keeps its shape too)
        layouts[0] = dataclasses.replace(a, shape=(a.size,), strides=(a.dtype.itemsize,))
        return (a.size,), layouts
    array_indexes = [i for i, (a, p) in enumerate(zip(layouts, params))
                     if not p.raw and isinstance(a, _ArrayLayout)]
    strided = [i for i in array_indexes if not layouts[i].c_contiguous]
    if strided and len(shape) == 2:
        return shape, layouts
    if not array_indexes:
        return shape, layouts
    if not strided:
        size = layouts[array_indexes[0]].size
        for i in array_indexes:
            layouts[i] = dataclasses.replace(layouts[i], shape=(size,), strides=(layouts[i].dtype.itemsize,))
        return (size,), layouts
    vecshape = list(shape)
    axes, last = [], -1
    for ax in range(len(shape)):
        if vecshape[ax] == 1:
            continue
        if last < 0:
            last = ax
            continue
        if any(layouts[i].strides[ax] * vecshape[ax] != layouts[i].strides[last] for i in strided):
            axes.append(last)
        else:
            vecshape[ax] *= vecshape[last]
        last = ax
    if last >= 0:
        axes.append(last)
    if len(axes) == len(shape):
        return shape, layouts
    new_shape = tuple(vecshape[ax] for ax in axes)
    for i in array_indexes:
        layouts[i] = dataclasses.replace(layouts[i], shape=new_shape,
                                         strides=tuple(layouts[i].strides[ax] for ax in axes))
    return new_shape, layouts


@functools.lru_cache(maxsize=None)
def _cupy_kernel(in_params, out_params, operation, name, reduce_dims, preamble, kwargs):
    """A real cupy.ElementwiseKernel (its constructor needs no GPU): CuPy's own parsing and checks."""
    return _cupy_internals().ElementwiseKernel(in_params, out_params, operation, name, reduce_dims=reduce_dims,
                                               preamble=preamble, **dict(kwargs))


def _kernel_kwargs(kernel):
    """The ElementwiseKernel keyword arguments that reach the code generator and the compiler."""
    kwargs = []
    options = tuple(getattr(kernel, "options", None) or ())
    if options:
        kwargs.append(("options", options))
    for key in ("loop_prep", "after_loop"):
        value = getattr(kernel, key, None) or ""
        if value:
            kwargs.append((key, value))
    return tuple(kwargs)


def generate_source(kernel, values):
    """(the source CuPy 14.2 compiles for ``kernel(*values)``, the compile options of the kernel, a signature).

    As ``cupy.ElementwiseKernel.__call__``: Python and NumPy scalars become CScalar arguments cast to their
    parameter's type, type variables are bound from the arrays only (outputs first), arrays are broadcast and
    their contiguous axes merged (``reduce_dims``), and ``_get_elementwise_kernel_code`` writes the source.
    ``values``: NumPy arrays (standing in for device arrays) and scalars, inputs then (optionally) outputs.
    """
    cp = _cupy_internals()
    kwargs = _kernel_kwargs(kernel)
    ek = _cupy_kernel(kernel.in_params, kernel.out_params, kernel_operation(kernel), kernel.name,
                      bool(getattr(kernel, "reduce_dims", True)), getattr(kernel, "preamble", "") or "", kwargs)
    values = _values_in_order(kernel, values)
    inputs, outputs = kernel_params(kernel)
    params = inputs + outputs
    if len(values) not in (ek.nin, ek.nargs):
        raise TypeError(f"Wrong number of arguments for {kernel.name!r}. It must be either {ek.nin} or "
                        f"{ek.nargs} (with outputs), but given {len(values)}.")
    args = []
    for v in values:
        if _is_array(v):
            args.append(_ArrayLayout.of(v))
        else:
            args.append(cp.CScalar(v))                        # TypeError for what CuPy cannot pass
    shape, broadcast = _broadcast(args, params[:len(args)])
    in_args, out_args = broadcast[:ek.nin], args[ek.nin:]
    for a in out_args:
        if not isinstance(a, _ArrayLayout):
            raise TypeError("Output arguments type must be cupy.ndarray")
    in_types, out_types, type_map = ek._decide_params_type(
        tuple(a.dtype if isinstance(a, _ArrayLayout) else None for a in in_args),
        tuple(a.dtype for a in out_args))
    if not out_args:                                          # CuPy allocates C-contiguous outputs
        out_args = [_ArrayLayout.of(np.empty(shape, t)) for t in out_types]
    for a, p in zip(out_args, outputs):
        if not p.raw and a.shape != shape:
            raise ValueError("Out shape is mismatched")
    for a, t in zip(in_args, in_types):
        if isinstance(a, cp.CScalar):
            a.apply_dtype(t)
    inout = in_args + out_args
    if ek.reduce_dims:
        shape, inout = _reduce_dims(inout, params, shape)
    arginfos = []
    for a in inout:
        if isinstance(a, _ArrayLayout):
            arginfos.append(cp.ArgInfo(_ARG_KIND_NDARRAY, cp.ndarray, a.dtype, len(a.shape), a.c_contiguous,
                                       a.index_32_bits))
        else:
            arginfos.append(cp.ArgInfo(_ARG_KIND_SCALAR, cp.CScalar, a.dtype, 0, True, True))
    size = int(np.prod(shape, dtype=np.int64))
    arginfos.append(cp.ArgInfo(_ARG_KIND_INDEXER, cp.Indexer, None, len(shape), True, size <= 1 << 31))
    code = cp.get_code(tuple(arginfos), type_map, ek.params, ek.operation, ek.name, ek.preamble, **dict(kwargs))
    signature = ", ".join(
        f"{p.name}: {np.dtype(t).name} {'array' if isinstance(a, _ArrayLayout) else 'scalar'}"
        for p, a, t in zip(params, inout, in_types + out_types))
    return code, dict(kwargs).get("options", ()), signature


def _arch_number(arch):
    digits = re.sub(r"^(sm_|compute_)", "", str(arch))
    if not digits.isdigit():
        raise ValueError(f"unknown GPU architecture {arch!r}; expected e.g. 'sm_80'")
    return digits


def nvrtc_options(kernel_options, arch):
    """The NVRTC options and output kind of CuPy 14.2's compile_with_cache for ``arch`` (a device's would be
    queried; here it is given): assemble_cupy_compiler_options, then _compile_with_cache_cuda's and
    _compile_using_nvrtc_no_warning's additions."""
    cp = _cupy_internals()
    compiler = cp.compiler
    options = cp.core.assemble_cupy_compiler_options(tuple(kernel_options))
    options += ("-ftz=true",)
    if compiler._get_bool_env_variable("CUPY_CUDA_COMPILE_WITH_DEBUG", False):
        options += ("--device-debug", "--generate-line-info")
    if "-DCUPY_USE_JITIFY" in options:
        raise NotImplementedError("kernels compiled through Jitify are not supported by this check")
    number = _arch_number(arch)
    if not compiler._use_ptx and int(number) <= int(cp.max_cc()):
        options += (f"-arch=sm_{number}",)
        method = "cubin"
    else:
        options += (f"-arch=compute_{number}",)
        method = "ptx"
    options += ("--device-as-default-execution-space",)
    major, minor = cp.nvrtc_version()
    if (major >= 13 or (major == 12 and minor >= 8)) and compiler._use_pch:
        options += ("--pch",)
    return options, method


_compiled = {}          # (source, kernel options, arch) -> size of the cubin/PTX NVRTC produced


def compile_elementwise(kernel, values, archs=DEFAULT_ARCHS):
    """Compile what CuPy would compile for ``kernel(*values)`` with NVRTC for each arch; return the source.

    ``kernel``: anything with ``in_params``, ``out_params``, ``operation`` (or ``body``), ``name`` and
    optionally ``preamble``, ``options``, ``loop_prep``, ``after_loop``, ``reduce_dims``. ``values``: the
    arguments in parameter order (or a dict by name), NumPy arrays for device arrays. Raises
    KernelCompileError when NVRTC rejects the source. Compiles each (source, options, arch) once per process.
    """
    cp = _cupy_internals()
    code, kernel_options, signature = generate_source(kernel, values)
    source = cp.header + code                    # compile_with_cache prepends CuPy's headers
    for arch in archs:
        key = (source, kernel_options, str(arch))
        if key in _compiled:
            continue
        options, method = nvrtc_options(kernel_options, arch)
        program = cp.NVRTCProgram(source, f"{kernel.name}.cu", method=method)
        try:
            binary, _ = program.compile(options)
        except cp.CompileException as e:
            log = e.get_message()
            major, minor = cp.nvrtc_version()
            numbered = "\n".join(f"{i:4d} {line}" for i, line in enumerate(source.splitlines(), 1))
            raise KernelCompileError(
                f"kernel {kernel.name!r} does not compile for {arch} (NVRTC {major}.{minor}, CuPy "
                f"{CUPY_VERSION}) with arguments ({signature}):\n{log.strip()}\n"
                f"--- the source CuPy generates ({kernel.name}.cu) ---\n{numbered}",
                kernel_name=kernel.name, arch=str(arch), signature=signature, log=log, source=source,
                options=options) from None
        _compiled[key] = len(binary)
    return source


# ==================================================================================================
# Running a body on NumPy
# ==================================================================================================
MATH_FUNCTIONS = {
    "sqrt": np.sqrt, "exp": np.exp, "log": np.log, "log1p": np.log1p, "tanh": np.tanh, "fabs": np.fabs,
    "fmax": np.fmax, "fmin": np.fmin, "min": np.minimum, "max": np.maximum,
    "cos": np.cos,        # tinygan/cuda_graph.py's Box-Muller normals
}
MATH_FUNCTIONS.update({f"{name}f": f for name, f in list(MATH_FUNCTIONS.items()) if name not in ("min", "max")})

C_TYPES = {"float": np.dtype(np.float32), "double": np.dtype(np.float64)}

_DECLARATION = re.compile(r"^(?:const\s+)?(?P<type>[A-Za-z_]\w*)\s+(?P<name>[A-Za-z_]\w*)\s*=(?!=)(?P<expr>.*)$",
                          re.S)
_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


@functools.lru_cache(maxsize=None)
def _statements(name, operation, type_names):
    """The body as [(declared type or None, variable, compiled Python statement)]."""
    text = _COMMENTS.sub(" ", operation)
    for bad, what in (("{", "braces"), ("}", "braces"), ("?", "a ternary"), ("#", "a preprocessor line")):
        if bad in text:
            raise ValueError(f"kernel {name!r}: the body uses {what}, outside the C subset that emulate_elementwise "
                             f"runs (no braces, no ternaries; see tests/gpu_kernels.py)")
    out = []
    for statement in (s.strip() for s in text.split(";")):
        if not statement:
            continue
        declared = _DECLARATION.match(statement)
        ctype = variable = None
        if declared:
            ctype, variable = declared["type"], declared["name"]
            if ctype not in type_names and ctype not in C_TYPES:
                raise ValueError(f"kernel {name!r}: declaration of {variable!r} with type {ctype!r}; the emulation "
                                 f"knows the type variables {sorted(type_names)} and {sorted(C_TYPES)}")
            statement = f"{variable} = {declared['expr'].strip()}"
        elif re.match(r"^(?:const\s+)?[A-Za-z_]\w*\s+[A-Za-z_]\w*\s*$", statement):
            raise ValueError(f"kernel {name!r}: declaration without a value ({statement!r}) is outside the "
                             f"emulated subset")
        out.append((ctype, variable, compile(statement, f"<kernel {name}>", "exec")))
    return tuple(out)


def _cast(value, dtype):
    if isinstance(value, np.ndarray):
        return value.astype(dtype, copy=False)
    return dtype.type(value)


def emulate_elementwise(kernel, values_by_name):
    """Run the kernel body on NumPy: output arrays in ``values_by_name`` are written in place.

    As CuPy does, type variables are bound from the arrays (outputs first; a mismatch is a TypeError), scalars
    are cast to their parameter's type, and declared temporaries to their declared type (``T``, ``float``,
    ``double``). Statements run on whole arrays in order; scalars broadcast. Floating point errors are silent,
    as on the GPU. Returns {output name: array}.
    """
    inputs, outputs = kernel_params(kernel)
    params = inputs + outputs
    names = [p.name for p in params]
    missing, extra = set(names) - set(values_by_name), set(values_by_name) - set(names)
    if missing or extra:
        raise TypeError(f"{kernel.name}: missing arguments {sorted(missing)}, unexpected {sorted(extra)}")
    types = {}
    for p in outputs + inputs:                         # CuPy binds from the outputs first
        value = values_by_name[p.name]
        if p.is_output and not _is_array(value):
            raise TypeError(f"{kernel.name}: output {p.name!r} must be an array, got {type(value).__name__}")
        if not _is_array(value):
            continue
        expected = types.setdefault(p.ctype, value.dtype) if p.is_type_variable else np.dtype(p.ctype)
        if value.dtype != expected:
            raise TypeError(f"{kernel.name}: Type is mismatched. {p.name} {value.dtype} {expected} {p.ctype}")
    statements = _statements(kernel.name, kernel_operation(kernel), frozenset(p.ctype for p in params
                                                                              if p.is_type_variable))
    ns = dict(MATH_FUNCTIONS)
    ns["__builtins__"] = {}
    for p in params:
        value = values_by_name[p.name]
        dtype = types.get(p.ctype) if p.is_type_variable else np.dtype(p.ctype)
        if dtype is None:
            raise TypeError(f"{kernel.name}: the type {p.ctype} of {p.name!r} is bound by no array argument")
        ns[p.name] = value.copy() if _is_array(value) else _cast(value, dtype)
    with np.errstate(all="ignore"):
        for ctype, variable, code in statements:
            exec(code, ns)
            if ctype is not None:
                ns[variable] = _cast(ns[variable], types[ctype] if ctype in types else C_TYPES[ctype])
    result = {}
    for p in outputs:
        values_by_name[p.name][...] = ns[p.name]
        result[p.name] = values_by_name[p.name]
    return result


# ==================================================================================================
# The kernels tinygan defines
# ==================================================================================================
KERNEL_PACKAGES = ("tinygan.optim", "tinygan.ops")   # scanned, every submodule, for kernel objects


@dataclasses.dataclass(frozen=True)
class Usage:
    """How tinygan calls the kernels of a package: the dtypes of T, and which inputs are arrays (the others
    are passed as Python floats). ``array_inputs=None``: every input is an array. ``shapes``: (name, shape)
    pairs for arrays that are not 1-d of ``n`` elements (the kernel broadcasts its array arguments)."""
    dtypes: tuple = (np.dtype(np.float32), np.dtype(np.float64))
    array_inputs: tuple = None
    shapes: tuple = ()


_NCHW, _PER_CHANNEL = (2, 3, 2, 2), (1, 3, 1, 1)


# Module prefix -> usage; the longest matching prefix wins. The optimizers (tinygan/optim/optimizer.py and
# adam.py, sgd.py, rmsprop.py) pass the flat gradient and state buffers as arrays and every hyperparameter as a
# Python float, in the parameters' dtype (float32 or float64).
USAGE = {
    "tinygan.optim": Usage(array_inputs=("grad",)),
    "tinygan.ops": Usage(),
    # LeakyReLU passes its slope a (and 1 - a) as Python floats, its mask ``positive`` as a bool array
    "tinygan.ops.elementwise": Usage(array_inputs=("x", "gy", "y", "positive")),
    # the losses' upstream gradient g is 0-d after a "mean" or "sum" reduction, broadcast over x
    "tinygan.ops.loss": Usage(shapes=(("g", ()),)),
    # BatchNorm: full-size (N, C, H, W) arrays with per-channel vectors as (1, C, 1, 1) arrays
    "tinygan.ops.normalization": Usage(shapes=tuple((n, _NCHW) for n in ("xc", "gy", "y", "gx"))
                                       + tuple((n, _PER_CHANNEL) for n in ("scale", "bias", "k", "mean_gy"))),
}

_registered = []        # KernelUse added by register_kernel


@dataclasses.dataclass(frozen=True)
class KernelUse:
    kernel: object
    where: str                # e.g. "tinygan.optim.rmsprop.RMSPROP_KERNELS[(True, False)]"
    dtypes: tuple
    array_inputs: tuple = None
    shapes: tuple = ()

    @property
    def name(self):
        return self.kernel.name

    def is_array(self, param):
        return param.is_output or self.array_inputs is None or param.name in self.array_inputs

    def values(self, dtype, n=8, seed=0):
        """Arguments as tinygan passes them, by name in parameter order: arrays of ``n`` elements (or of their
        shape in ``shapes``) in ``dtype`` (positive, so square roots stay real) and Python floats."""
        rng = np.random.default_rng(seed)
        inputs, outputs = kernel_params(self.kernel)
        shapes = dict(self.shapes)
        out = {}
        for p in inputs + outputs:
            if self.is_array(p):
                t = np.dtype(dtype) if p.is_type_variable else np.dtype(p.ctype)
                out[p.name] = np.asarray(rng.uniform(0.5, 1.5, shapes.get(p.name, n))).astype(t)
            else:
                out[p.name] = float(rng.uniform(0.01, 0.5))
        return out

    def __str__(self):
        return f"{self.where} ({self.name})"


def register_kernel(kernel, where, dtypes=Usage.dtypes, array_inputs=None, shapes=()):
    """Add a kernel that lives outside KERNEL_PACKAGES (or override how one found there is used)."""
    _registered.append(KernelUse(kernel, where, tuple(np.dtype(d) for d in dtypes),
                                 None if array_inputs is None else tuple(array_inputs),
                                 tuple((name, tuple(shape)) for name, shape in dict(shapes).items())))


def _usage_for(module_name):
    matches = [prefix for prefix in USAGE if module_name == prefix or module_name.startswith(prefix + ".")]
    return USAGE[max(matches, key=len)] if matches else Usage()


def _walk(package_name):
    package = importlib.import_module(package_name)
    yield package
    for info in pkgutil.walk_packages(getattr(package, "__path__", []), package_name + "."):
        yield importlib.import_module(info.name)


def _kernels_in(obj, where, depth=2):
    if is_kernel(obj):
        yield obj, where
    elif depth and isinstance(obj, dict):
        for key, value in obj.items():
            yield from _kernels_in(value, f"{where}[{key!r}]", depth - 1)
    elif depth and isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _kernels_in(value, f"{where}[{i}]", depth - 1)


def all_kernels(packages=KERNEL_PACKAGES):
    """Every kernel object at module level (or in a module-level dict, list or tuple) of every module of
    ``packages``, plus the registered ones, each once, with the dtypes and argument kinds tinygan uses."""
    found, seen = [], set()
    for use in _registered:
        seen.add(id(use.kernel))
        found.append(use)
    for package_name in packages:
        try:
            modules = list(_walk(package_name))
        except ModuleNotFoundError:
            continue
        for module in modules:
            for attr, obj in vars(module).items():
                for kernel, where in _kernels_in(obj, f"{module.__name__}.{attr}"):
                    if id(kernel) in seen:
                        continue
                    seen.add(id(kernel))
                    usage = _usage_for(module.__name__)
                    found.append(KernelUse(kernel, where, tuple(np.dtype(d) for d in usage.dtypes),
                                           usage.array_inputs, usage.shapes))
    return found

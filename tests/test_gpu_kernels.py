"""tinygan's CUDA C kernels without a GPU (helpers in tests/gpu_kernels.py).

- Every kernel tinygan defines compiles, as CuPy would generate it, with NVRTC for sm_80 and sm_90 in every
  dtype it is used with (skipped where CuPy 14.2.0, its NVRTC or the CUDA headers are missing).
- The mutations show the compile check can fail: an undeclared temporary, ``**`` and a redeclared variable
  are rejected by NVRTC, although the NumPy emulation runs the ``**`` body.
- The float32 kernels do single-precision arithmetic only (a double literal such as ``x * 0.5`` compiles but
  computes in float64, slowly, and unlike the emulation).
- The NumPy emulation of each body matches a reference: the optimizers run through their fused-kernel path
  against test_optim.py's references, plus direct checks of the emulator itself; the ops' kernels against
  their CPU path in test_fused_ops.py.
"""
import numpy as np
import pytest

import gpu_kernels
from tinygan import kernels
from tinygan.optim import fused
from tinygan.optim.optimizer import Optimizer

AVAILABLE, REASON = gpu_kernels.nvrtc_available()
needs_nvrtc = pytest.mark.skipif(not AVAILABLE, reason=f"kernel compile check unavailable: {REASON}")

USES = gpu_kernels.all_kernels()
OPTIMIZER_KERNELS = {"tinygan_adam", "tinygan_adam_amsgrad", "tinygan_adadelta", "tinygan_adagrad",
                     "tinygan_sgd", "tinygan_sgd_momentum", "tinygan_sgd_nesterov",
                     "tinygan_rmsprop", "tinygan_rmsprop_momentum", "tinygan_rmsprop_centered",
                     "tinygan_rmsprop_centered_momentum"}
OP_KERNELS = {   # name -> (its Python-float inputs, {array: shape} where not 1-d), as the ops pass them
    "tinygan_leaky_relu_forward": ({"a"}, {}),
    "tinygan_leaky_relu_backward": ({"a", "one_minus_a"}, {}),
    "tinygan_tanh_backward": (set(), {}),
    "tinygan_bce_with_logits_forward": (set(), {}),
    "tinygan_bce_with_logits_backward": (set(), {"g": ()}),
    "tinygan_batch_norm_forward": (set(), {"xc": (2, 3, 2, 2), "scale": (1, 3, 1, 1), "bias": (1, 3, 1, 1),
                                           "y": (2, 3, 2, 2)}),
    "tinygan_batch_norm_backward": (set(), {"xc": (2, 3, 2, 2), "gy": (2, 3, 2, 2), "k": (1, 3, 1, 1),
                                            "mean_gy": (1, 3, 1, 1), "scale": (1, 3, 1, 1), "gx": (2, 3, 2, 2)}),
}


class Kernel:
    """A small test kernel, shaped like tinygan's FusedKernel and CuPy's ElementwiseKernel."""

    def __init__(self, name, in_params, out_params, operation):
        self.name, self.in_params, self.out_params, self.operation = name, in_params, out_params, operation


# ==================================================================================================
# The inventory
# ==================================================================================================
def test_all_kernels_finds_every_optimizer_kernel_with_its_dtypes():
    by_name = {use.name: use for use in USES}
    assert OPTIMIZER_KERNELS <= set(by_name), sorted(by_name)
    for name in OPTIMIZER_KERNELS:
        use = by_name[name]
        assert isinstance(use.kernel, fused.FusedKernel), use
        assert [d.name for d in use.dtypes] == ["float32", "float64"]
        values = use.values(np.float32)
        assert list(values) == use.kernel.in_names + use.kernel.out_names
        for n, v in values.items():        # as optimizer.py passes them: flat buffers and Python floats
            assert type(v) is (np.ndarray if n == "grad" or n in use.kernel.out_names else float), (name, n)


def test_all_kernels_finds_every_op_kernel_with_its_argument_kinds():
    by_name = {use.name: use for use in USES if use.where.startswith("tinygan.ops.")}
    assert set(by_name) == set(OP_KERNELS)
    for name, (scalars, shapes) in OP_KERNELS.items():
        use = by_name[name]
        assert isinstance(use.kernel, kernels.FusedKernel), use
        assert [d.name for d in use.dtypes] == ["float32", "float64"]
        values = use.values(np.float64)
        assert list(values) == use.kernel.in_names + use.kernel.out_names
        for n, v in values.items():
            if n in scalars:
                assert type(v) is float, (name, n)
            else:
                assert isinstance(v, np.ndarray) and v.shape == shapes.get(n, (8,)), (name, n)
                assert v.dtype == (bool if n == "positive" else np.float64), (name, n)


# ==================================================================================================
# Compiling with NVRTC
# ==================================================================================================
@needs_nvrtc
@pytest.mark.parametrize("use, dtype", [(u, d) for u in USES for d in u.dtypes],
                         ids=[f"{u.name}-{d.name}" for u in USES for d in u.dtypes])
def test_kernel_compiles_for_sm80_and_sm90(use, dtype):
    source = gpu_kernels.compile_elementwise(use.kernel, list(use.values(dtype).values()),
                                             archs=("sm_80", "sm_90"))
    assert f"void {use.name}(" in source


def float64_instructions(kernel, values, arch="sm_90"):
    """The PTX lines of the kernel NVRTC builds for ``values`` that compute in float64."""
    cp = gpu_kernels._cupy_internals()
    code, kernel_options, _ = gpu_kernels.generate_source(kernel, values)
    options, _ = gpu_kernels.nvrtc_options(kernel_options, arch)
    ptx, _ = cp.NVRTCProgram(cp.header + code, f"{kernel.name}.cu", method="ptx").compile(options)
    ptx = ptx.decode() if isinstance(ptx, bytes) else ptx
    return [line.strip() for line in ptx.splitlines() if ".f64" in line]


@needs_nvrtc
@pytest.mark.parametrize("use", USES, ids=[u.name for u in USES])
def test_float32_kernels_compute_in_single_precision(use):
    assert float64_instructions(use.kernel, use.values(np.float32)) == []


@needs_nvrtc
def test_a_double_literal_would_be_caught():
    x = np.ones(4, np.float32)
    assert float64_instructions(Kernel("k", "T x", "T y", "y = tanh(x * 0.5);"), [x, x.copy()])
    assert not float64_instructions(Kernel("k", "T x", "T y", "T half = 0.5;\ny = tanh(x * half);"), [x, x.copy()])


@needs_nvrtc
def test_generated_source_is_cupys_for_tinygans_arguments():
    """Arrays become CArray parameters read through references, Python floats become scalars of T."""
    adam = next(use for use in USES if use.name == "tinygan_adam")
    source = gpu_kernels.compile_elementwise(adam.kernel, adam.values(np.float32))
    assert source.startswith("#include <cupy/complex.cuh>\n#include <cupy/carray.cuh>\n")
    assert "typedef float T;" in source
    assert "const CArray<float, 1, 1, 1> _raw_grad" in source
    assert "const float step_size" in source and "CArray<float, 1, 1, 1> _raw_exp_avg_sq" in source
    assert "T &param = _raw_param[_ind.get()];" in source and "CIndexer<1, 1> _ind" in source
    assert "typedef double T;" in gpu_kernels.compile_elementwise(adam.kernel, adam.values(np.float64))
    # a 2-d C-contiguous array is reduced to 1-d as CuPy's reduce_dims does; a strided one is not
    sgd = Kernel("k", "T grad, T lr", "T param", "param -= lr * grad;")
    a = np.ones((3, 4), np.float32)
    assert "CArray<float, 1, 1, 1> _raw_param" in gpu_kernels.generate_source(sgd, [a, 0.1, a.copy()])[0]
    code, _, _ = gpu_kernels.generate_source(sgd, [a[:, ::2], 0.1, np.ones((3, 2), np.float32)])
    assert "const CArray<float, 2, 0, 1> _raw_grad" in code and "CArray<float, 2, 1, 1> _raw_param" in code
    with pytest.raises(TypeError, match="mismatched"):
        gpu_kernels.generate_source(sgd, [a, 0.1, np.ones((3, 4))])


@needs_nvrtc
def test_compiles_are_cached():
    sgd = next(use for use in USES if use.name == "tinygan_sgd")
    gpu_kernels.compile_elementwise(sgd.kernel, sgd.values(np.float32))
    count = len(gpu_kernels._compiled)
    gpu_kernels.compile_elementwise(sgd.kernel, sgd.values(np.float32, n=5, seed=3))   # same source
    assert len(gpu_kernels._compiled) == count


MUTANTS = {
    "undeclared_temporary": "d = grad + weight_decay * param;\nparam -= lr * d;",
    "power_operator": "param -= lr * grad ** 2;",
    "redeclared_variable": "T d = grad;\nT d = grad + weight_decay * param;\nparam -= lr * d;",
}
CORRECT = "T d = grad + weight_decay * param;\nparam -= lr * d * d;"


def mutant_values(dtype=np.float32):
    return dict(grad=np.full(4, 0.5, dtype), lr=0.1, weight_decay=0.01, param=np.ones(4, dtype))


@needs_nvrtc
@pytest.mark.parametrize("mutation", sorted(MUTANTS))
def test_compile_check_rejects_invalid_cuda(mutation):
    kernel = Kernel(f"mutant_{mutation}", "T grad, T lr, T weight_decay", "T param", MUTANTS[mutation])
    with pytest.raises(gpu_kernels.KernelCompileError) as info:
        gpu_kernels.compile_elementwise(kernel, mutant_values())
    message = str(info.value)
    assert f"mutant_{mutation}" in message and "float32" in message and "sm_80" in message
    assert "error" in info.value.log and info.value.log.strip() in message
    # the harness is not what fails: the same kernel with a valid body compiles
    gpu_kernels.compile_elementwise(Kernel(f"valid_{mutation}", kernel.in_params, kernel.out_params, CORRECT),
                                    mutant_values())


def test_emulation_alone_would_miss_the_power_operator():
    """The NumPy emulation runs `grad ** 2` (Python's power), so only the compile check catches it."""
    kernel = Kernel("mutant_power", "T grad, T lr, T weight_decay", "T param", MUTANTS["power_operator"])
    values = mutant_values(np.float64)
    gpu_kernels.emulate_elementwise(kernel, values)
    np.testing.assert_allclose(values["param"], 1 - 0.1 * 0.25)


# ==================================================================================================
# The emulation against references
# ==================================================================================================
OPTIMIZER_CONFIGS = [
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("SGD", dict(lr=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
]
MORE_OPTIMIZER_CONFIGS = [   # against test_optim_more's references
    ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adadelta", dict(weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_optimizer_kernel_bodies_match_the_references(dtype, monkeypatch):
    """The optimizers' fused path with every body emulated, against test_optim's naive references."""
    from test_optim import run_against_reference
    used = set()

    def emulate(kernel, xp, **args):
        used.add(kernel.name)
        gpu_kernels.emulate_elementwise(kernel, args)

    monkeypatch.setattr(Optimizer, "_use_kernel", lambda self, k: True)
    monkeypatch.setattr(fused.FusedKernel, "__call__", emulate)
    for name, hyper in OPTIMIZER_CONFIGS:
        opt, _ = run_against_reference(name, [(3, 2), (4,), ()], dtype, hyper, steps=3, seed=5)
        assert opt._scratch == [[]], name                    # the array-op path never ran
    from test_optim_more import check_against_reference
    for name, hyper in MORE_OPTIMIZER_CONFIGS:
        opt = check_against_reference(name, hyper, seed=5, steps=3, dtype=dtype)
        assert opt._scratch == [[]], name
    optim_kernels = {use.name for use in USES if use.where.startswith("tinygan.optim.")}
    assert used == optim_kernels


def test_emulated_sgd_momentum_step_by_hand():
    sgd = next(use for use in USES if use.name == "tinygan_sgd_momentum").kernel
    param, buf = np.array([1.0, -2.0, 3.0]), np.array([0.5, 0.0, -1.0])
    values = dict(grad=np.array([0.1, 0.2, 0.3]), lr=0.1, weight_decay=0.5, momentum=0.9, c=0.7,
                  param=param, buf=buf)
    out = gpu_kernels.emulate_elementwise(sgd, values)
    d = np.array([0.1, 0.2, 0.3]) + 0.5 * np.array([1.0, -2.0, 3.0])
    new_buf = 0.9 * np.array([0.5, 0.0, -1.0]) + 0.7 * d
    np.testing.assert_allclose(buf, new_buf)
    np.testing.assert_allclose(param, np.array([1.0, -2.0, 3.0]) - 0.1 * new_buf)
    assert out["param"] is param and out["buf"] is buf                   # written in place


def test_emulated_adam_step_stays_in_float32_and_leaves_inputs_alone():
    adam = next(use for use in USES if use.name == "tinygan_adam").kernel
    g = np.array([[0.5, -1.0], [2.0, 0.0]], np.float32)
    p = np.ones((2, 2), np.float32)
    m, v = np.zeros_like(p), np.zeros_like(p)
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    gpu_kernels.emulate_elementwise(adam, dict(
        grad=g, step_size=lr / (1 - b1), beta1=b1, one_minus_beta1=1 - b1, beta2=b2, one_minus_beta2=1 - b2,
        eps=eps, bc2_sqrt=float(np.sqrt(1 - b2)), weight_decay=0.0, decay=1.0, param=p, exp_avg=m, exp_avg_sq=v))
    assert p.dtype == m.dtype == v.dtype == np.float32
    np.testing.assert_array_equal(g, [[0.5, -1.0], [2.0, 0.0]])
    # the first Adam step moves each parameter by lr * sign(g) (0 where g is 0)
    np.testing.assert_allclose(p, 1 - lr * np.sign(g), rtol=1e-5)


def test_emulation_types_and_subset():
    kernel = Kernel("k", "T x, T s", "T y", "float h = x * s;\ndouble e = exp(h);\ny = fmax(e, min(x, s))")
    x, y = np.array([1.0, 2.0]) / 3, np.zeros(2)
    gpu_kernels.emulate_elementwise(kernel, dict(x=x, s=0.5, y=y))
    h = (x * 0.5).astype(np.float32)               # `float` rounds to single precision; exp(float) is a float
    np.testing.assert_array_equal(y, np.fmax(np.exp(h).astype(np.float64), np.minimum(x, 0.5)))
    with pytest.raises(TypeError, match="mismatched"):
        gpu_kernels.emulate_elementwise(kernel, dict(x=x.astype(np.float32), s=0.5, y=y))
    with pytest.raises(TypeError, match="missing arguments"):
        gpu_kernels.emulate_elementwise(kernel, dict(x=x, y=y))
    for body in ("y = x > s ? x : s;", "if (x > s) { y = x; }"):
        with pytest.raises(ValueError, match="outside the C subset"):
            gpu_kernels.emulate_elementwise(Kernel("k", "T x, T s", "T y", body), dict(x=x, s=0.5, y=y))

"""The ops' fused GPU kernels (LeakyReLU, tanh's backward, BCE with logits, BatchNorm's tail) against the CPU
path they replace.

- On the GPU (a real one, or the strict stand-in, whose ElementwiseKernel compiles each kernel with NVRTC and
  runs its body on NumPy), every op runs its kernels (a spy on FusedKernel.__call__ proves it), agrees with
  the CPU path to float tolerance, forward and backward, on hypothesis-drawn shapes and values in float32 and
  float64, and passes float64 gradchecks; ``tinygan.kernels.enabled = False`` turns the kernels off.
- Everywhere, CuPy or not: each kernel body, emulated on NumPy in place of the kernel, gives the CPU path's
  numbers bit for bit (the bodies keep the array ops' order of operations), and the CPU never calls a kernel.
"""
import contextlib

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import gpu_kernels
import tinygan
import tinygan.functional as F
from tinygan import backend, kernels
from tinygan.core import Function
from tinygan.kernels import FusedKernel
from tinygan.ops import elementwise, loss, normalization

with_fixture = settings(suppress_health_check=list(settings.default.suppress_health_check)
                        + [HealthCheck.function_scoped_fixture])
DTYPES = [np.float32, np.float64]
OP_KERNELS = {"tinygan_leaky_relu_forward", "tinygan_leaky_relu_backward", "tinygan_tanh_backward",
              "tinygan_bce_with_logits_forward", "tinygan_bce_with_logits_backward",
              "tinygan_batch_norm_forward", "tinygan_batch_norm_backward"}


# ==================================================================================================
# The ops, each drawn by hypothesis and run on a device: (its results as NumPy arrays, the kernels it must use)
# ==================================================================================================
def on(device, a, dtype, grad=True):
    return tinygan.tensor(np.asarray(a, dtype=dtype), device=device, requires_grad=grad)


def results(**tensors):
    return {name: backend.asnumpy(t.array if isinstance(t, tinygan.Tensor) else t) for name, t in tensors.items()}


@st.composite
def leaky_relu_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=5))
    return dict(shape=shape, slope=draw(st.sampled_from([0.2, 0.01, 0.0, 1.0, 1.5, -0.3])),
                seed=draw(st.integers(0, 2**16)))


def run_leaky_relu(case, device, dtype):
    rng = np.random.default_rng(case["seed"])
    x = on(device, rng.standard_normal(case["shape"]) * 3, dtype)
    y = F.leaky_relu(x, case["slope"])
    y.backward(rng.standard_normal(case["shape"]).astype(dtype))
    return results(y=y, gx=x.grad), {"tinygan_leaky_relu_forward", "tinygan_leaky_relu_backward"}


@st.composite
def tanh_cases(draw):
    return dict(shape=draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=5)),
                scale=draw(st.sampled_from([1.0, 4.0])), seed=draw(st.integers(0, 2**16)))


def run_tanh(case, device, dtype):
    rng = np.random.default_rng(case["seed"])
    x = on(device, rng.standard_normal(case["shape"]) * case["scale"], dtype)
    y = F.tanh(x)
    y.backward(rng.standard_normal(case["shape"]).astype(dtype))
    return results(y=y, gx=x.grad), {"tinygan_tanh_backward"}


@st.composite
def bce_with_logits_cases(draw):
    return dict(shape=draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)),
                reduction=draw(st.sampled_from(["mean", "sum", "none"])), weighted=draw(st.booleans()),
                scale=draw(st.sampled_from([1.0, 3.0, 40.0])), seed=draw(st.integers(0, 2**16)))


def run_bce_with_logits(case, device, dtype):
    rng = np.random.default_rng(case["seed"])
    shape = case["shape"]
    x = on(device, rng.standard_normal(shape) * case["scale"], dtype)
    t = on(device, rng.uniform(0, 1, shape), dtype)                    # its gradient stays on array ops
    w = on(device, rng.uniform(0.5, 2, shape[-1:]), dtype, grad=False) if case["weighted"] else None
    y = F.binary_cross_entropy_with_logits(x, t, w, reduction=case["reduction"])
    y.backward(rng.standard_normal(y.shape).astype(dtype))
    return (results(y=y, gx=x.grad, gt=t.grad),
            {"tinygan_bce_with_logits_forward", "tinygan_bce_with_logits_backward"})


@st.composite
def batch_norm_cases(draw):
    C = draw(st.integers(1, 4))
    shape = (draw(st.integers(2, 4)), C) + tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    return dict(shape=shape, training=draw(st.booleans()), weight=draw(st.booleans()), bias=draw(st.booleans()),
                seed=draw(st.integers(0, 2**16)))


def run_batch_norm(case, device, dtype):
    rng = np.random.default_rng(case["seed"])
    shape, C = case["shape"], case["shape"][1]
    x = on(device, rng.standard_normal(shape) * 2 + 1, dtype)
    w = on(device, rng.standard_normal(C), dtype) if case["weight"] else None
    b = on(device, rng.standard_normal(C), dtype) if case["bias"] else None
    xp = backend.xp_for(device)
    rm, rv = xp.asarray(rng.standard_normal(C).astype(dtype)), xp.asarray(rng.uniform(0.5, 2, C).astype(dtype))
    y = F.batch_norm(x, rm, rv, w, b, training=case["training"])
    y.backward(rng.standard_normal(shape).astype(dtype))
    out = results(y=y, gx=x.grad, running_mean=rm, running_var=rv)
    out.update(results(**{name: p.grad for name, p in (("gw", w), ("gb", b)) if p is not None}))
    used = {"tinygan_batch_norm_forward"} if b is not None else set()
    if case["training"]:
        used.add("tinygan_batch_norm_backward")
    return out, used


OPS = {"leaky_relu": (leaky_relu_cases(), run_leaky_relu), "tanh": (tanh_cases(), run_tanh),
       "bce_with_logits": (bce_with_logits_cases(), run_bce_with_logits),
       "batch_norm": (batch_norm_cases(), run_batch_norm)}


# ==================================================================================================
# Helpers: which kernels ran, tolerances, the GPU devices
# ==================================================================================================
class NumPyInDisguise:
    """NumPy under another name: an op that takes its GPU branch for any array module but NumPy takes it here."""

    def __getattr__(self, name):
        return getattr(np, name)


@contextlib.contextmanager
def kernel_spy(emulate=False):
    """Records the name of every fused kernel called. ``emulate=True``: the ops see NumPy in disguise as their
    array module, so they take their kernel path on NumPy arrays, and each kernel body runs on NumPy
    (gpu_kernels.emulate_elementwise) instead of being compiled."""
    calls = []
    original = FusedKernel.__call__

    def call(self, xp, **args):
        calls.append(self.name)
        if emulate:
            gpu_kernels.emulate_elementwise(self, args)
        else:
            original(self, xp, **args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(FusedKernel, "__call__", call)
        if emulate:
            disguised = NumPyInDisguise()
            for module in (elementwise, loss, normalization):
                mp.setattr(module, "get_array_module", lambda *arrays: disguised)
            mp.setattr(Function, "on_gpu", staticmethod(lambda array: True))   # forward_gpu, backward_gpu
        yield calls


def assert_close(got, expected, dtype, what):
    """Float tolerance of ``dtype`` relative to the largest value (a real GPU's libm and FMAs round otherwise)."""
    rtol = 2e-5 if dtype == np.float32 else 1e-11
    assert got.dtype == expected.dtype and got.shape == expected.shape, what
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * (1 + np.abs(expected).max(initial=0)),
                               err_msg=what)


@pytest.fixture
def gpu(device):
    """The GPU devices of the ``device`` fixture: a real GPU, or the strict stand-in for CuPy."""
    if device == "cpu":
        pytest.skip("the fused kernels run only on the GPU")
    return device


# ==================================================================================================
# On the GPU: the kernels run, and agree with the CPU path
# ==================================================================================================
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("op", sorted(OPS))
@with_fixture
@given(data=st.data())
def test_gpu_kernels_agree_with_the_cpu_path(op, dtype, gpu, data):
    strategy, run = OPS[op]
    case = data.draw(strategy, label="case")
    with kernel_spy() as calls:
        expected, _ = run(case, "cpu", dtype)
        assert calls == [], "the CPU path called a fused kernel"
        got, used = run(case, gpu, dtype)
    assert set(calls) == used, f"{op} ran {calls}, expected {sorted(used)}"
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert_close(got[name], expected[name], dtype, f"{op} {name}")


FIXED_CASES = {
    "leaky_relu": dict(shape=(4, 3, 2), slope=0.2, seed=1),
    "tanh": dict(shape=(5, 3), scale=2.0, seed=2),
    "bce_with_logits": dict(shape=(6, 2), reduction="mean", weighted=True, scale=3.0, seed=3),
    "batch_norm": dict(shape=(4, 3, 2, 2), training=True, weight=True, bias=True, seed=4),
}


@pytest.mark.parametrize("op", sorted(OPS))
def test_kernels_enabled_false_takes_the_array_ops_on_the_gpu(op, gpu, monkeypatch):
    run = OPS[op][1]
    with kernel_spy() as calls:
        fused, used = run(FIXED_CASES[op], gpu, np.float64)
        assert set(calls) == used
        monkeypatch.setattr(kernels, "enabled", False)
        del calls[:]
        plain, _ = run(FIXED_CASES[op], gpu, np.float64)
    assert calls == []
    for name in plain:
        assert_close(fused[name], plain[name], np.float64, f"{op} {name}")


@pytest.mark.parametrize("slope", [0.2, 1.5, -0.3])
def test_leaky_relu_gradcheck_through_the_kernels(slope, gpu):
    x = on(gpu, np.random.default_rng(0).uniform(0.1, 2, (3, 4)) * np.array([1, -1, 1, -1]), np.float64)
    with kernel_spy() as calls:
        assert tinygan.gradcheck(lambda x: F.leaky_relu(x, slope), [x])
    assert {"tinygan_leaky_relu_forward", "tinygan_leaky_relu_backward"} <= set(calls)


def test_tanh_gradcheck_through_the_kernel(gpu):
    x = on(gpu, np.random.default_rng(0).standard_normal((2, 3, 4)) * 2, np.float64)
    with kernel_spy() as calls:
        assert tinygan.gradcheck(F.tanh, [x], mode="full")
    assert "tinygan_tanh_backward" in calls


def test_bce_with_logits_pos_weight_stays_on_array_ops(gpu):
    """pos_weight has no kernel: that variant keeps its array ops on the GPU, and still agrees with the CPU."""
    rng = np.random.default_rng(0)
    x, t, pw = rng.standard_normal((4, 3)) * 3, rng.uniform(0, 1, (4, 3)), rng.uniform(0.5, 3, 3)
    out = {}
    with kernel_spy() as calls:
        for device in ("cpu", gpu):
            tx = on(device, x, np.float32)
            y = F.binary_cross_entropy_with_logits(tx, on(device, t, np.float32, grad=False), pos_weight=pw)
            y.backward()
            out[device] = results(y=y, gx=tx.grad)
    assert calls == []
    for name in out["cpu"]:
        assert_close(out[gpu][name], out["cpu"][name], np.float32, name)


# ==================================================================================================
# Everywhere: the kernel bodies, emulated on NumPy, give the CPU path's numbers bit for bit
# ==================================================================================================
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("op", sorted(OPS))
@given(data=st.data())
def test_emulated_kernel_bodies_give_the_cpu_numbers_exactly(op, dtype, data):
    strategy, run = OPS[op]
    case = data.draw(strategy, label="case")
    expected, _ = run(case, "cpu", dtype)
    with kernel_spy(emulate=True) as calls:
        got, used = run(case, "cpu", dtype)
    assert set(calls) == used, calls
    for name in expected:
        assert got[name].dtype == expected[name].dtype, name
        np.testing.assert_array_equal(got[name], expected[name], err_msg=f"{op} {name}")


def test_every_op_kernel_is_exercised_here():
    """The four ops above cover every kernel tinygan/ops defines, so none escapes these checks."""
    found = {use.name for use in gpu_kernels.all_kernels() if use.where.startswith("tinygan.ops.")}
    assert found == OP_KERNELS
    used = set()
    for op, case in FIXED_CASES.items():
        with kernel_spy(emulate=True) as calls:
            OPS[op][1](case, "cpu", np.float32)
        used |= set(calls)
    assert used == OP_KERNELS


def test_fusable_only_for_gpu_arrays_of_one_float_dtype(monkeypatch):
    a32, a64 = np.ones(3, np.float32), np.ones(3)
    gpu_xp = object()                                   # any array module but NumPy
    assert not kernels.fusable(np, a32)
    assert kernels.fusable(gpu_xp, a32, a32) and kernels.fusable(gpu_xp, a64)
    assert not kernels.fusable(gpu_xp, a32, a64)
    assert not kernels.fusable(gpu_xp, np.ones(3, np.float16))
    monkeypatch.setattr(kernels, "enabled", False)
    assert not kernels.fusable(gpu_xp, a32)


def test_fused_kernel_keeps_its_old_home():
    from tinygan.optim import fused
    assert fused.FusedKernel is kernels.FusedKernel and fused.enabled is True

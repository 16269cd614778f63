"""The backend: CPU always works, the GPU is reported clearly when CuPy is missing or broken, seeding is exact."""
import importlib.abc
import os
import pathlib
import re
import subprocess
import sys
import types

import numpy as np
import pytest

import tinygan
from tinygan import DeviceUnavailableError, allocator, backend, rng
from tinygan.core import array_backend

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def fresh_probe(monkeypatch):
    """Forget what the CuPy probe found, so a test can make it run again against a simulated CuPy."""
    monkeypatch.setattr(array_backend, "_cupy", None)
    monkeypatch.setattr(array_backend, "_cupy_problem", None)
    monkeypatch.setattr(array_backend, "_cupy_hint", array_backend.INSTALL_HINT)
    monkeypatch.setattr(array_backend, "_cupy_probed", False)
    monkeypatch.setattr(rng, "_generators", {})
    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    return monkeypatch


def run_python(code):
    """Run ``code`` in a fresh interpreter with this checkout importable; the test fails on a non-zero exit."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result


class _BrokenCupyFinder(importlib.abc.MetaPathFinder):
    """Makes `import cupy` fail the way a broken CUDA install does: with an OSError, not an ImportError."""

    def find_spec(self, name, path=None, target=None):
        if name == "cupy":
            raise OSError("libcudart.so.12: cannot open shared object file")
        return None


def _expect_unavailable(*fragments, hint='pip install -e ".[gpu]"'):
    """Every way of asking for the GPU raises one error that says what is missing, why, and how to fix it."""
    for ask in (lambda: tinygan.zeros(2, device="gpu"), lambda: tinygan.ones(2).to("gpu"),
                lambda: tinygan.set_default_device("gpu"), lambda: backend.xp_for("cuda"),
                lambda: tinygan.randn(2, device="gpu"), lambda: tinygan.tensor([1.0], device="cuda:0")):
        with pytest.raises(DeviceUnavailableError) as info:
            ask()
        message = str(info.value)
        assert message.startswith("device 'gpu' is not available: ")
        assert hint in message
        for fragment in fragments:
            assert fragment in message
    assert tinygan.device_available("gpu") is False
    assert tinygan.get_default_device() == "cpu"


def test_gpu_unavailable_here_says_what_is_true():
    """What this machine lacks, said as it is: no CuPy (install the extra), or CuPy without a usable driver
    or device (check the driver; installing CuPy again would not help)."""
    if tinygan.device_available("gpu"):
        pytest.skip("CuPy and a GPU are present: nothing missing to report")
    try:
        import cupy  # noqa: F401
    except ImportError:
        _expect_unavailable("CuPy is not installed or failed to import (ModuleNotFoundError: No module named 'cupy')")
    else:
        _expect_unavailable("is installed but no usable CUDA device was found", hint="nvidia-smi")
        with pytest.raises(DeviceUnavailableError) as info:
            tinygan.zeros(1, device="gpu")
        assert "pip install" not in str(info.value)


def test_cupy_not_installed(fresh_probe):
    fresh_probe.setitem(sys.modules, "cupy", None)           # what Python does for a module that is absent
    _expect_unavailable("CuPy is not installed or failed to import (ModuleNotFoundError")


def test_cupy_import_broken(fresh_probe):
    fresh_probe.setattr(sys, "meta_path", [_BrokenCupyFinder()] + sys.meta_path)
    _expect_unavailable("failed to import (OSError: libcudart.so.12: cannot open shared object file)")


def test_cupy_installed_without_a_cuda_device(fresh_probe):
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 0))
    fresh_probe.setitem(sys.modules, "cupy", fake)
    _expect_unavailable("CuPy is installed but no usable CUDA device was found (RuntimeError: no CUDA device found)",
                        hint="nvidia-smi")


def test_cupy_installed_with_a_broken_driver(fresh_probe):
    def no_driver():
        raise RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_driver))
    fresh_probe.setitem(sys.modules, "cupy", fake)
    _expect_unavailable("no usable CUDA device", "cudaErrorInsufficientDriver", hint="nvidia-smi")


@pytest.mark.parametrize("how", ["absent", "broken"])
def test_importing_tinygan_never_fails_without_cupy(how):
    block = {"absent": "sys.modules['cupy'] = None",
             "broken": ("import importlib.abc\n"
                        "class F(importlib.abc.MetaPathFinder):\n"
                        "    def find_spec(self, name, path=None, target=None):\n"
                        "        if name == 'cupy': raise OSError('broken CUDA')\n"
                        "sys.meta_path.insert(0, F())")}[how]
    code = (f"import sys\n{block}\nimport tinygan, tinygan.functional, tinygan.gradcheck\n"
            "x = tinygan.randn(3, requires_grad=True); (x * x).sum().backward()\n"
            "print(tinygan.device_available('cpu'), tinygan.device_available('gpu'))")
    result = run_python(code)
    assert result.stdout.split() == ["True", "False"]


def test_device_available_and_names():
    assert tinygan.device_available("cpu") is True
    assert backend.check_device("CPU") == "cpu"
    assert backend.check_device("cuda") == backend.check_device("cuda:0") == "gpu"
    with pytest.raises(ValueError, match=r"unknown device 'tpu': expected one of \('cpu', 'gpu'\)"):
        tinygan.device_available("tpu")


def test_set_default_device(device):
    try:
        tinygan.set_default_device(device)
        assert tinygan.get_default_device() == device
        assert tinygan.zeros(2).device == device and tinygan.randn(2).device == device
        assert tinygan.tensor([1.0]).device == device
    finally:
        tinygan.set_default_device("cpu")
    assert tinygan.zeros(2).device == "cpu"
    with pytest.raises(ValueError, match="unknown device"):
        tinygan.set_default_device("tpu")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_manual_seed_gives_bit_identical_sequences(device, dtype):
    def draw():
        return [tinygan.randn(3, 4, dtype=dtype, device=device).numpy(),
                tinygan.rand(5, dtype=dtype, device=device).numpy(),
                tinygan.randn(2, dtype=dtype, device=device).numpy(),
                backend.asnumpy(backend.permutation(7, device))]

    tinygan.manual_seed(123)
    first = draw()
    tinygan.manual_seed(123)
    second = draw()
    for a, b in zip(first, second):
        assert a.tobytes() == b.tobytes()
    assert first[0].dtype == dtype and first[1].dtype == dtype
    tinygan.manual_seed(124)
    assert draw()[0].tobytes() != first[0].tobytes()


def test_rng_state_round_trip():
    tinygan.manual_seed(5)
    tinygan.randn(3)
    state = backend.get_rng_state()
    expected = tinygan.randn(4).numpy()
    backend.set_rng_state(state)
    assert tinygan.randn(4).numpy().tobytes() == expected.tobytes()


def test_cpu_array_helpers():
    a = np.arange(4.0)
    assert backend.get_array_module(a) is np and backend.xp_for("cpu") is np
    assert backend.device_of(a) == "cpu"
    assert backend.to_device(a, "cpu") is a and backend.asnumpy(a) is a
    backend.synchronize("cpu")
    target = np.zeros(3)
    backend.scatter_add(target, np.array([0, 2, 0, 0]), np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(target, [8.0, 0.0, 2.0])


def test_only_the_array_backend_imports_cupy_and_no_framework_is_imported():
    pattern = re.compile(r"^\s*(import|from)\s+(cupy|cupyx|torch|jax|tensorflow)\b", re.MULTILINE)
    for path in (REPO / "tinygan").rglob("*.py"):
        for match in pattern.finditer(path.read_text()):
            assert path.name == "array_backend.py" and match.group(2) in ("cupy", "cupyx"), \
                f"{path.relative_to(REPO)} imports {match.group(2)}"


@pytest.mark.parametrize("setting, applied", [(None, True), ("1", True), ("0", False), ("off", False)])
def test_first_cpu_optimizer_keeps_freed_memory_unless_opted_out(monkeypatch, setting, applied):
    calls = []
    monkeypatch.setattr(allocator, "_allocator_default_done", False)
    monkeypatch.setattr(allocator, "keep_freed_memory", lambda: calls.append(1) or True)
    if setting is None:
        monkeypatch.delenv(allocator.KEEP_FREED_MEMORY_ENV, raising=False)
    else:
        monkeypatch.setenv(allocator.KEEP_FREED_MEMORY_ENV, setting)
    net = tinygan.nn.Linear(3, 2)
    tinygan.optim.Adam(net.parameters())
    tinygan.optim.SGD(net.parameters(), lr=0.1)            # once per process, however many optimizers
    assert calls == ([1] if applied else [])


def test_import_tinygan_has_no_process_wide_effects_and_stays_light():
    code = ("import sys, tinygan\n"
            "heavy = [m for m in ('matplotlib', 'scipy', 'cupy', 'torch') if m in sys.modules]\n"
            "print(tinygan.allocator._allocator_default_done, heavy)")
    result = run_python(code)
    assert result.stdout.split() == ["False", "[]"]        # the allocator is left alone; no matplotlib etc.

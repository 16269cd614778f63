"""Shared fixtures: the device fixture (one suite for CPU and GPU) and the hypothesis profiles.

HYPOTHESIS_PROFILE=thorough runs many more examples than CI's default.
"""
import os
import pathlib
import runpy
import socket
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import tinygan

settings.register_profile("ci", max_examples=50, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SHARED_MNIST = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def _device_params():
    return ["cpu", pytest.param("gpu", marks=pytest.mark.gpu), pytest.param("gpu-standin", marks=pytest.mark.gpu)]


def strict_cupy_or_skip():
    """The strict CPU stand-in for CuPy (tests/strict_cupy.py), or a skip where CuPy is not installed."""
    try:
        import strict_cupy
    except ImportError as exc:
        pytest.skip(f"the strict CuPy stand-in needs CuPy installed (its names are the list): {exc}")
    return strict_cupy


@pytest.fixture
def standin():
    """For one test, tinygan's "gpu" is the strict CPU stand-in for CuPy (skipped where CuPy is not installed)."""
    with strict_cupy_or_skip().standing_in() as cupy:
        yield cupy


@pytest.fixture(params=_device_params())
def device(request):
    """Each test using this fixture runs on the CPU; on the GPU where CuPy and a CUDA device exist; and on the
    "gpu" device served by the strict CPU stand-in for CuPy (tests/strict_cupy.py), so CI walks the GPU path
    without a GPU."""
    if request.param == "gpu-standin":
        with strict_cupy_or_skip().standing_in():
            yield "gpu"
        return
    if request.param == "gpu" and not tinygan.device_available("gpu"):
        pytest.skip("no GPU: CuPy or a CUDA device is missing")
    yield request.param


@pytest.fixture
def xp(device):
    """The array module of ``device``: numpy or cupy."""
    from tinygan import backend
    return backend.xp_for(device)


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory):
    """Checkpoints the examples write, one short epoch each: an MLP GAN ("mlp"), a conditional MLP GAN
    ("cmlp"), a conditional DCGAN ("cdcgan") and the toy GAN ("toy"); made once for the whole run."""
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"shared MNIST files not found in {SHARED_MNIST}")
    from tinygan.app import cli
    root = tmp_path_factory.mktemp("ckpts")
    common = ["--data-dir", str(SHARED_MNIST), "--split", "test", "--limit-batches", "1", "--epochs", "1",
              "--device", "cpu", "--no-download", "--quiet"]
    for name, arch, extra in (("mlp", "mlp", []), ("cmlp", "mlp", ["--conditional"]),
                              ("cdcgan", "dcgan", ["--conditional"])):
        assert cli.main(common + extra + ["--out", str(root / name)], arch=arch) == 0
    assert cli.main(["--steps-per-epoch", "3", "--epochs", "1", "--device", "cpu", "--quiet",
                     "--out", str(root / "toy")], arch="toy") == 0
    return {name: root / name / "checkpoint.npz" for name in ("mlp", "cmlp", "cdcgan", "toy")}


@pytest.fixture
def mnist_dir():
    """The genuine MNIST 10k test split shipped beside the project in ../shared/data/mnist."""
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"shared MNIST files not found in {SHARED_MNIST}")
    return SHARED_MNIST


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same seed, so failures reproduce."""
    tinygan.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture
def dead_mirror():
    """A URL on 127.0.0.1 whose port is bound but not listening: connections are refused at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/mnist/"
    sock.close()


def run_script(path, argv):
    """Run ``python path argv`` in this process: the code it exited with, or None when it did not call sys.exit."""
    old = sys.argv
    sys.argv = [str(path)] + [str(a) for a in argv]
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as exc:
        return exc.code
    finally:
        sys.argv = old
    return None

"""The GPU path on the strict CPU stand-in for CuPy (tests/strict_cupy.py): the examples with --device gpu,
sampling a GPU checkpoint on the CPU, and proof by mutation that the stand-in catches what a GPU would reject.

Every test that takes the ``device`` fixture already runs on the stand-in too ("gpu-standin"); this file
adds what those do not cover: whole example runs and the mutations.
"""
import numpy as np
import pytest

import tinygan
import tinygan.functional as F
from tinygan import nn, optim
from tinygan.app import cli, sample
from tinygan.ops import elementwise

strict_cupy = pytest.importorskip("strict_cupy", reason="the strict CuPy stand-in needs CuPy installed "
                                                         "(pip install -e \".[gpucheck]\")")
import gpu_kernels  # noqa: E402  (after the skip: it is the stand-in's compiler)

pytestmark = pytest.mark.gpu


def example_args(mnist_dir, out, *extra):
    return [str(a) for a in ("--device", "gpu", "--data-dir", mnist_dir, "--split", "test", "--no-download",
                             "--epochs", "1", "--limit-batches", "2", "--quiet", "--out", out, *extra)]


# ==================================================================================================
# The examples, --device gpu
# ==================================================================================================
@pytest.mark.parametrize("arch, extra", [("mlp", []), ("dcgan", []), ("dcgan", ["--conditional", "--loss", "wgan"]),
                                         ("mlp", ["--loss", "lsgan", "--d-steps", "2"])])
def test_mnist_examples_train_on_the_gpu_path(standin, mnist_dir, tmp_path, arch, extra):
    out = tmp_path / "run"
    assert cli.main(example_args(mnist_dir, out, *extra), arch=arch) == 0
    ckpt = tinygan.load(out / "checkpoint.npz")
    assert ckpt["step"] == 2 and np.isfinite(ckpt["history"]["d_loss"]).all()
    assert (out / "samples" / "epoch_0001.png").is_file()


def test_toy_example_trains_on_the_gpu_path(standin, tmp_path):
    out = tmp_path / "toy"
    argv = ["--device", "gpu", "--epochs", "1", "--steps-per-epoch", "5", "--quiet", "--out", str(out)]
    assert cli.main(argv, arch="toy") == 0
    assert (out / "modes.csv").is_file()


def test_a_gpu_checkpoint_resumes_on_the_gpu_and_samples_alike_on_both(standin, mnist_dir, tmp_path):
    out = tmp_path / "run"
    assert cli.main(example_args(mnist_dir, out), arch="mlp") == 0
    assert cli.main(["--device", "gpu", "--resume", str(out / "checkpoint.npz"), "--epochs", "2",
                     "--limit-batches", "2", "--quiet"], arch="mlp") == 0
    assert tinygan.load(out / "checkpoint.npz")["epoch"] == 2
    drawn = {}
    for device in ("gpu", "cpu"):
        npy = tmp_path / f"{device}.npy"
        assert sample.main([str(out / "checkpoint.npz"), "--device", device, "--n", "16",
                            "--out", str(tmp_path / f"{device}.png"), "--npy", str(npy)]) == 0
        drawn[device] = np.load(npy)
    np.testing.assert_allclose(drawn["gpu"], drawn["cpu"], rtol=0, atol=1e-6)


# ==================================================================================================
# Mutations: each would fail on a real GPU, so it must fail on the stand-in (and the unmutated code pass)
# ==================================================================================================
def gpu_tanh():
    x = tinygan.randn(4, 3, device="gpu", requires_grad=True)
    y = F.tanh(x)
    y.sum().backward()
    return y


def test_unmutated_tanh_runs_on_the_stand_in(standin):
    assert isinstance(gpu_tanh().array, standin.ndarray)


def test_catches_np_asarray_on_a_gpu_array(standin, monkeypatch):
    monkeypatch.setattr(elementwise.Tanh, "forward", lambda self, x: np.tanh(np.asarray(x)))
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        gpu_tanh()


def test_catches_a_numpy_array_mixed_into_a_gpu_op(standin, monkeypatch):
    original = elementwise.Tanh.backward_gpu                     # what the GPU runs (the fused kernel)
    monkeypatch.setattr(elementwise.Tanh, "backward_gpu",
                        lambda self, gy: original(self, gy) + np.zeros(gy.shape, dtype=gy.dtype))
    with pytest.raises(strict_cupy.NumPyArrayOnGPUPath, match="Unsupported type <class 'numpy.ndarray'>"):
        gpu_tanh()


def test_catches_a_numpy_only_function_on_the_gpu_path(standin, monkeypatch):
    original = elementwise.Tanh.forward

    def forward(self, x):
        with elementwise.get_array_module(x).errstate(over="ignore"):     # CuPy has no errstate
            return original(self, x)
    monkeypatch.setattr(elementwise.Tanh, "forward", forward)
    with pytest.raises(AttributeError, match="has no attribute 'errstate'"):
        gpu_tanh()


@pytest.mark.skipif(not gpu_kernels.nvrtc_available()[0], reason=f"NVRTC: {gpu_kernels.nvrtc_available()[1]}")
def test_catches_a_kernel_body_that_does_not_compile(standin, monkeypatch):
    from tinygan.optim import adam
    model = nn.Linear(3, 2).to("gpu")
    opt = optim.Adam(model.parameters())
    model(tinygan.randn(5, 3, device="gpu")).sum().backward()
    opt.step()                                                       # the real body compiles and runs
    monkeypatch.setattr(adam.ADAM_KERNEL, "body", adam.ADAM_KERNEL.body.replace("weight_decay * param", "weight_decay ** param"))
    monkeypatch.setattr(adam.ADAM_KERNEL, "_kernels", {})
    with pytest.raises(gpu_kernels.KernelCompileError, match="tinygan_adam"):
        opt.step()

"""The three examples end to end on the CPU: smoke runs on the real MNIST test split, the files they write,
resuming bit-identically, a loss that goes NaN, and one clear line for every bad input."""
import csv
import hashlib
import os
import pathlib
import runpy
import subprocess
import sys

import numpy as np
import pytest

import tinygan
from tinygan.app import cli
from tinygan.app.gan import GAN

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = {"mlp": ROOT / "examples" / "mnist_mlp_gan.py", "dcgan": ROOT / "examples" / "mnist_dcgan.py",
            "toy": ROOT / "examples" / "toy_2d_gan.py"}
PNG = b"\x89PNG\r\n\x1a\n"


def run_example(arch, argv):
    """Run examples/<arch>.py in this process as ``python examples/... argv`` would; returns the exit code."""
    old = sys.argv
    sys.argv = [str(EXAMPLES[arch])] + [str(a) for a in argv]
    try:
        runpy.run_path(str(EXAMPLES[arch]), run_name="__main__")
    except SystemExit as exc:
        return exc.code
    finally:
        sys.argv = old
    raise AssertionError("the example did not exit with sys.exit(main(...))")


def mnist_args(mnist_dir, out, *extra, limit=3, epochs=1):
    return ["--data-dir", mnist_dir, "--split", "test", "--limit-batches", limit, "--epochs", epochs,
            "--device", "cpu", "--no-download", "--out", out, *extra]


def check_outputs(out, steps):
    """The files every run writes exist and are what they claim to be."""
    grids = sorted((out / "samples").glob("*.png"))
    assert grids and all(p.read_bytes()[:8] == PNG for p in grids)
    assert (out / "losses.png").read_bytes()[:8] == PNG
    assert (out / "samples.gif").read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["step", "epoch", "d_loss", "g_loss", "d_real", "d_fake"]
    assert [int(r["step"]) for r in rows] == list(range(1, steps + 1))
    assert all(np.isfinite(float(r[k])) for r in rows for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    ckpt = tinygan.load(out / "checkpoint.npz")
    assert ckpt["format"] == cli.CHECKPOINT_FORMAT and ckpt["step"] == steps
    return ckpt


@pytest.mark.parametrize("arch,extra", [("mlp", []), ("dcgan", []), ("mlp", ["--conditional", "--loss", "wgan"]),
                                        ("dcgan", ["--conditional", "--loss", "hinge", "--label-smoothing"])])
def test_mnist_examples_smoke_run(mnist_dir, tmp_path, arch, extra, capsys):
    out = tmp_path / "run"
    assert run_example(arch, mnist_args(mnist_dir, out, *extra)) == 0
    k = 5 if "wgan" in extra else 1
    ckpt = check_outputs(out, steps=3)
    assert ckpt["epoch"] == 1 and ckpt["config"]["arch"] == arch
    assert ckpt["config"]["num_classes"] == (10 if "--conditional" in extra else 0)
    assert ckpt["config"]["d_steps"] == k
    G, _ = cli.models.build(ckpt["config"])
    G.load_state_dict(ckpt["G"])                                 # the stored config rebuilds the model
    assert "epoch 1/1" in capsys.readouterr().out


def test_toy_example_smoke_run(tmp_path, capsys):
    out = tmp_path / "toy"
    assert run_example("toy", ["--steps-per-epoch", 20, "--epochs", 2, "--device", "cpu", "--out", out]) == 0
    check_outputs(out, steps=40)
    with open(out / "modes.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(0 <= int(r["modes"]) <= 8 and int(r["num_modes"]) == 8 for r in rows)
    assert "modes" in capsys.readouterr().out


@pytest.mark.parametrize("arch,extra", [("dcgan", []), ("mlp", ["--conditional", "--loss", "wgan", "--d-steps", "2"])])
def test_resume_is_bit_identical_to_training_straight_through(mnist_dir, tmp_path, arch, extra):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert run_example(arch, mnist_args(mnist_dir, straight, *extra, "--quiet", limit=2, epochs=2)) == 0
    assert run_example(arch, mnist_args(mnist_dir, resumed, *extra, "--quiet", limit=2, epochs=1)) == 0
    first = tinygan.load(resumed / "checkpoint.npz")
    assert first["epoch"] == 1
    resume = ["--resume", resumed / "checkpoint.npz", "--epochs", 2, "--data-dir", mnist_dir, "--limit-batches", 2,
              "--device", "cpu", "--no-download", "--quiet"]
    assert run_example(arch, resume) == 0
    a, b = tinygan.load(straight / "checkpoint.npz"), tinygan.load(resumed / "checkpoint.npz")
    assert a["epoch"] == b["epoch"] == 2 and a["step"] == b["step"] == 4
    for net in ("G", "D"):
        assert list(a[net]) == list(b[net])
        for name in a[net]:
            assert np.array_equal(a[net][name], b[net][name]), f"{net}.{name} differs after resuming"
        assert not all(np.array_equal(first[net][n], b[net][n]) for n in b[net])   # epoch 2 did train
    for opt in ("opt_g", "opt_d"):
        for i, state in a[opt]["state"].items():
            for name, value in state.items():
                assert np.array_equal(value, b[opt]["state"][i][name])
    for name in a["history"]:
        assert np.array_equal(a["history"][name], b["history"][name])


def test_resume_does_not_need_the_saved_generator_state(mnist_dir, tmp_path, monkeypatch):
    """CuPy's generator state cannot be saved, so a GPU resume must not depend on it: even with restoring a
    saved state made a no-op, resuming reproduces the uninterrupted run (each epoch reseeds)."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert run_example("mlp", mnist_args(mnist_dir, straight, "--quiet", limit=2, epochs=2)) == 0
    assert run_example("mlp", mnist_args(mnist_dir, resumed, "--quiet", limit=2, epochs=1)) == 0
    monkeypatch.setattr(tinygan.backend, "set_rng_state", lambda state: None)
    tinygan.manual_seed(12345)                   # a generator left anywhere but where the checkpoint was
    resume = ["--resume", resumed / "checkpoint.npz", "--epochs", 2, "--data-dir", mnist_dir, "--limit-batches", 2,
              "--device", "cpu", "--no-download", "--quiet"]
    assert run_example("mlp", resume) == 0
    a, b = tinygan.load(straight / "checkpoint.npz"), tinygan.load(resumed / "checkpoint.npz")
    for net in ("G", "D"):
        for name in a[net]:
            assert np.array_equal(a[net][name], b[net][name]), f"{net}.{name} differs after resuming"


def test_a_non_finite_loss_stops_training_and_keeps_the_last_checkpoint(mnist_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    train_step = GAN.train_step
    calls = []

    def poisoned(self, batches):
        metrics = train_step(self, batches)
        calls.append(1)
        if len(calls) == 5:                                      # step 5: in epoch 2 (2 steps per epoch)
            metrics["d_loss"] = metrics["d_loss"] * np.float32(np.nan)
        return metrics

    monkeypatch.setattr(GAN, "train_step", poisoned)
    assert run_example("mlp", mnist_args(mnist_dir, out, limit=2, epochs=3)) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "d_loss is nan at step 5" in err
    ckpt = tinygan.load(out / "checkpoint.npz")                  # the checkpoint of epoch 2 is intact
    assert ckpt["epoch"] == 2 and ckpt["step"] == 4
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []   # no temporary files left


@pytest.mark.parametrize("argv,message", [
    (["--batch-size", "-5"], "--batch-size must be a positive integer, got -5"),
    (["--epochs", "0"], "--epochs must be a positive integer, got 0"),
    (["--epochs", "two"], "expected an integer, got 'two'"),
    (["--lr", "-0.001"], "--lr must be a positive number"),
    (["--lr", "nan"], "--lr must be a positive number"),
    (["--beta1", "1.5"], "--beta1 must be in [0, 1)"),
    (["--hidden", "256,abc"], "--hidden must be comma-separated positive integers"),
    (["--loss", "vanilla"], "invalid choice: 'vanilla'"),
    (["--d-steps", "0"], "--d-steps must be a positive integer"),
    (["--limit-batches", "-1"], "--limit-batches must be a positive integer"),
    (["--sample-every", "-2"], "--sample-every must be 0"),
    (["--resume", "/no/such/checkpoint.npz"], "no such checkpoint file"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_options_give_one_clear_line_and_exit_2(tmp_path, argv, message, capsys):
    assert run_example("mlp", argv + ["--out", tmp_path / "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("mnist_mlp_gan.py: error: ") and message in err
    assert not (tmp_path / "x").exists()


def test_help_lists_every_option(capsys):
    assert run_example("dcgan", ["--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--device", "--epochs", "--batch-size", "--lr", "--beta1", "--latent-dim", "--hidden", "--loss",
                   "--d-steps", "--conditional", "--dataset", "--data-dir", "--split", "--out", "--seed", "--resume",
                   "--sample-every", "--limit-batches", "--quiet"):
        assert option in text


def test_missing_or_corrupt_data_is_one_clear_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_example("mlp", ["--data-dir", empty, "--no-download", "--split", "test", "--out", tmp_path / "o"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not found" in err and "t10k-images-idx3-ubyte.gz" in err

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    (corrupt / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07")
    assert run_example("dcgan", ["--data-dir", corrupt, "--split", "test", "--out", tmp_path / "o"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "t10k-images-idx3-ubyte" in err and "truncated" in err


def test_sample_every_saves_pictures_by_step(tmp_path):
    out = tmp_path / "toy"
    assert run_example("toy", ["--steps-per-epoch", 10, "--epochs", 2, "--sample-every", 5, "--device", "cpu",
                               "--out", out, "--quiet"]) == 0
    assert sorted(p.name for p in (out / "samples").iterdir()) == [f"step_{s:07d}.png" for s in (5, 10, 15, 20)]
    assert (out / "samples.gif").read_bytes()[:3] == b"GIF"


def test_resume_refuses_contradicting_options_and_other_examples(mnist_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_example("mlp", mnist_args(mnist_dir, out, "--quiet", limit=1)) == 0
    ckpt = out / "checkpoint.npz"
    assert run_example("mlp", ["--resume", ckpt, "--latent-dim", 64, "--epochs", 2]) == 2
    assert "--latent-dim 64 differs from the checkpoint's 100" in capsys.readouterr().err
    assert run_example("dcgan", ["--resume", ckpt, "--epochs", 2]) == 2
    assert "holds a 'mlp' model" in capsys.readouterr().err
    assert run_example("mlp", ["--resume", ckpt, "--epochs", 1]) == 0          # already done: nothing to train
    assert "nothing to do" in capsys.readouterr().out


def test_errors_in_a_real_process_have_no_traceback(tmp_path):
    """One subprocess: the user's view of a failing run (exit code, one line, no traceback)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if tinygan.device_available("gpu"):
        argv, code, message = ["--batch-size", "-1"], 2, "--batch-size must be a positive integer"
    else:
        argv, code, message = ["--device", "gpu"], 1, "device 'gpu' is not available"
    proc = subprocess.run([sys.executable, str(EXAMPLES["toy"]), *argv, "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == code
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert message in proc.stderr


def test_checkpoint_is_written_atomically(tmp_path, monkeypatch):
    """A crash while saving leaves the previous checkpoint file as it was."""
    out = tmp_path / "toy"
    assert run_example("toy", ["--steps-per-epoch", 5, "--epochs", 1, "--device", "cpu", "--out", out, "--quiet"]) == 0
    before = hashlib.sha256((out / "checkpoint.npz").read_bytes()).hexdigest()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(tinygan.serialization.np.lib.format, "write_array", crash)
    assert run_example("toy", ["--resume", out / "checkpoint.npz", "--epochs", 2, "--quiet"]) == 130
    assert hashlib.sha256((out / "checkpoint.npz").read_bytes()).hexdigest() == before

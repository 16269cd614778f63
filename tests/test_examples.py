"""The three examples end to end on the CPU: smoke runs on the real MNIST test split, the files they write,
resuming bit-identically, a loss that goes NaN, Ctrl-C, an --out that holds an earlier run, and one clear line
for every bad input."""
import argparse
import csv
import hashlib
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

import tinygan
from tinygan.app import checkpoint, cli, data, models, plotting, run_folder
from tinygan.app.factories import make_gan
from tinygan.app.gan import GAN, MetricsLog
from tinygan.app.options import RECIPES
from tinygan.app.training import EVAL_COLUMNS
from tinygan.vision import idx

from conftest import run_script

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = {"mlp": ROOT / "examples" / "mnist_mlp_gan.py", "dcgan": ROOT / "examples" / "mnist_dcgan.py",
            "toy": ROOT / "examples" / "toy_2d_gan.py", "scratch": ROOT / "examples" / "gan_from_scratch.py"}
PNG = b"\x89PNG\r\n\x1a\n"


def run_example(arch, argv):
    """Run examples/<arch>.py in this process as ``python examples/... argv`` would; returns the exit code."""
    code = run_script(EXAMPLES[arch], argv)
    assert code is not None, "the example did not exit with sys.exit(main(...))"
    return code


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
    assert ckpt["format"] == checkpoint.CHECKPOINT_FORMAT and ckpt["step"] == steps
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
    G, _ = models.build(ckpt["config"])
    G.load_state_dict(ckpt["G"])                                 # the stored config rebuilds the model
    assert "epoch 1/1" in capsys.readouterr().out
    strip = label_strip(out / "samples" / "epoch_0001.png", rows=10 if "--conditional" in extra else 8)
    if "--conditional" in extra:                                 # one column per digit, labelled 0..9
        reference = tmp_path / "reference.png"
        plotting.save_grid(np.zeros((10, 1, 28, 28)), reference, nrow=10, column_labels=[str(d) for d in range(10)])
        assert strip is not None and np.array_equal(strip, label_strip(reference, rows=1))
    else:
        assert strip is None


def label_strip(png, rows, size=28, padding=2, scale=2):
    """The strip of column labels above a grid of ``rows`` rows, as an array; None when there is none."""
    from PIL import Image
    with Image.open(png) as picture:
        pixels = np.asarray(picture)
    extra = pixels.shape[0] - (rows * (size + padding) + padding) * scale
    assert extra >= 0
    return pixels[:extra] if extra else None


def test_toy_example_smoke_run(tmp_path, capsys):
    out = tmp_path / "toy"
    assert run_example("toy", ["--steps-per-epoch", 20, "--epochs", 2, "--device", "cpu", "--out", out]) == 0
    check_outputs(out, steps=40)
    with open(out / "modes.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(0 <= int(r["modes"]) <= 8 and int(r["num_modes"]) == 8 for r in rows)
    assert "modes" in capsys.readouterr().out


REMEDIES = {"mlp": ["--pack", "2", "--mbstd", "--spectral-norm", "--diffaugment", "translation,cutout", "--ema", "0.9",
                    "--g-loss", "feature-matching", "--lr-d", "3e-4", "--hidden", "32,64", "--batch-size", "16"],
            "dcgan": ["--conditional", "--pack", "2", "--mbstd", "--mbstd-group", "4", "--spectral-norm",
                      "--diffaugment", "cutout", "--ema", "0.9", "--lr-g", "1e-4", "--hidden", "8,16",
                      "--batch-size", "16"]}                     # small networks and batches: the test is the bits


@pytest.mark.parametrize("arch,extra", [("dcgan", []), ("mlp", ["--conditional", "--loss", "wgan", "--d-steps", "2"]),
                                        ("mlp", ["--log-grad-norms"]), ("mlp", ["--loss", "wgan-gp", "--d-steps", "2"]),
                                        ("mlp", ["--r1", "1.0"]), ("mlp", REMEDIES["mlp"]),
                                        ("dcgan", REMEDIES["dcgan"])])
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
    assert_same_run(a, b, first)
    assert ("G_ema" in a) == ("--ema" in extra)


def assert_same_run(a, b, first):
    """Checkpoints a (straight through) and b (resumed from ``first``) hold the same bits: G, D, G_ema, the
    optimizers' state, the learning-rate schedules and the metrics."""
    for net in ("G", "D", "G_ema"):
        assert (net in a) == (net in b)
        if net not in a:
            continue
        assert list(a[net]) == list(b[net])
        for name in a[net]:
            assert np.array_equal(a[net][name], b[net][name]), f"{net}.{name} differs after resuming"
        assert not all(np.array_equal(first[net][n], b[net][n]) for n in b[net])   # the resumed epochs did train
    for opt in ("opt_g", "opt_d"):
        assert a[opt]["param_groups"] == b[opt]["param_groups"]
        for i, state in a[opt]["state"].items():
            for name, value in state.items():
                assert np.array_equal(value, b[opt]["state"][i][name])
    for key in ("ema_updates", "sched_g", "sched_d"):
        assert a.get(key) == b.get(key)
    for name in a["history"]:
        assert np.array_equal(a["history"][name], b["history"][name])


def test_an_interrupted_run_with_every_toy_remedy_resumes_bit_identically(tmp_path, monkeypatch):
    """A learning-rate schedule ends with the run's --epochs, so this run is cut by Ctrl-C in epoch 2 of 3 and
    resumed, then compared with one trained straight through."""
    options = ["--steps-per-epoch", 4, "--epochs", 3, "--device", "cpu", "--quiet", "--pack", 2, "--mbstd",
               "--mbstd-group", 4, "--spectral-norm", "--ema", 0.9, "--g-loss", "feature-matching", "--lr-d", 2e-3,
               "--lr-schedule", "cosine", "--batch-size", 32]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert run_example("toy", options + ["--out", straight]) == 0
    with monkeypatch.context() as m:
        poison_train_step(m, 6, ctrl_c)                           # step 6: in epoch 2
        assert run_example("toy", options + ["--out", resumed]) == 130
    first = tinygan.load(resumed / "checkpoint.npz")
    assert first["epoch"] == 1 and first["sched_g"]["last_epoch"] == 1
    assert run_example("toy", ["--resume", resumed / "checkpoint.npz", "--epochs", 3, "--device", "cpu",
                               "--quiet"]) == 0
    a, b = tinygan.load(straight / "checkpoint.npz"), tinygan.load(resumed / "checkpoint.npz")
    assert a["epoch"] == b["epoch"] == 3 and a["ema_updates"] == 12
    assert a["opt_d"]["param_groups"][0]["lr"] == 0.0 and b["sched_d"]["base_lrs"] == [2e-3]
    assert_same_run(a, b, first)
    with open(resumed / "modes.csv", newline="") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2, 3]


def test_resume_does_not_need_the_saved_generator_state(mnist_dir, tmp_path, monkeypatch):
    """CuPy's generator state cannot be saved, so a GPU resume must not depend on it: even with restoring a
    saved state made a no-op, resuming reproduces the uninterrupted run (each epoch reseeds)."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert run_example("mlp", mnist_args(mnist_dir, straight, "--quiet", limit=2, epochs=2)) == 0
    assert run_example("mlp", mnist_args(mnist_dir, resumed, "--quiet", limit=2, epochs=1)) == 0
    monkeypatch.setattr(tinygan.rng, "set_rng_state", lambda state: None)
    tinygan.manual_seed(12345)                   # a generator left anywhere but where the checkpoint was
    resume = ["--resume", resumed / "checkpoint.npz", "--epochs", 2, "--data-dir", mnist_dir, "--limit-batches", 2,
              "--device", "cpu", "--no-download", "--quiet"]
    assert run_example("mlp", resume) == 0
    a, b = tinygan.load(straight / "checkpoint.npz"), tinygan.load(resumed / "checkpoint.npz")
    for net in ("G", "D"):
        for name in a[net]:
            assert np.array_equal(a[net][name], b[net][name]), f"{net}.{name} differs after resuming"


def poison_train_step(monkeypatch, at_call, poison):
    """Make GAN.train_step call ``poison(metrics)`` on its ``at_call``-th call (1-based)."""
    train_step, calls = GAN.train_step, []

    def poisoned(self, batches):
        calls.append(1)
        metrics = train_step(self, batches)
        if len(calls) == at_call:
            poison(metrics)
        return metrics

    monkeypatch.setattr(GAN, "train_step", poisoned)


def nan_d_loss(metrics):
    metrics["d_loss"] = metrics["d_loss"] * np.float32(np.nan)


def ctrl_c(metrics):
    raise KeyboardInterrupt


def test_a_non_finite_loss_stops_training_and_keeps_the_last_checkpoint(mnist_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    poison_train_step(monkeypatch, 5, nan_d_loss)               # step 5: in epoch 3 (2 steps per epoch)
    assert run_example("mlp", mnist_args(mnist_dir, out, limit=2, epochs=3)) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err == (f"mnist_mlp_gan.py: error: d_loss is nan at step 5: training stopped (try a lower --lr); "
                   f"the checkpoint {out / 'checkpoint.npz'} (epoch 2) is intact")
    ckpt = tinygan.load(out / "checkpoint.npz")                  # the checkpoint of epoch 2 is intact
    assert ckpt["epoch"] == 2 and ckpt["step"] == 4
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []   # no temporary files left


def test_a_non_finite_loss_in_the_first_epoch_says_nothing_was_saved(mnist_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    poison_train_step(monkeypatch, 1, nan_d_loss)
    assert run_example("mlp", mnist_args(mnist_dir, out, limit=2, epochs=2)) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("mnist_mlp_gan.py: error: d_loss is nan at step 1: training stopped (try a lower --lr); "
                   "no epoch completed, so no checkpoint was saved")
    assert not (out / "checkpoint.npz").exists()


def test_a_diverging_run_prints_one_line_and_no_numpy_warnings(mnist_dir, tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")                           # an overflow warning would now escape
        code = run_example("mlp", mnist_args(mnist_dir, tmp_path / "run", "--lr", "1e30", "--loss", "lsgan", limit=5))
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is nan at step" in err and "no checkpoint was saved" in err


# ==================================================================================================
# Ctrl-C says what is saved and how to resume
# ==================================================================================================
def test_ctrl_c_in_the_first_epoch_says_no_checkpoint_exists(mnist_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    argv = mnist_args(mnist_dir, out, "--sample-every", 1, "--quiet", limit=3, epochs=2)
    poison_train_step(monkeypatch, 2, ctrl_c)                    # step 1's picture is written, then Ctrl-C
    assert run_example("mlp", argv) == 130
    err = capsys.readouterr().err.strip()
    assert err == ("mnist_mlp_gan.py: interrupted in epoch 1 of 2; no checkpoint was saved yet, so there is "
                   "nothing to resume; start again with --overwrite")
    assert not (out / "checkpoint.npz").exists()
    monkeypatch.undo()
    assert run_example("mlp", argv) == 2                         # its picture is a run's output: not overwritten
    err = capsys.readouterr().err.strip()
    assert err == (f"mnist_mlp_gan.py: error: {out} already holds a run's outputs (samples/*.png) but no "
                   f"checkpoint to resume: replace them with --overwrite, or pass another --out")
    assert run_example("mlp", argv + ["--overwrite"]) == 0


def test_ctrl_c_later_names_the_checkpoint_and_the_command_that_resumes(mnist_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    poison_train_step(monkeypatch, 3, ctrl_c)                    # the first step of epoch 2
    assert run_example("mlp", mnist_args(mnist_dir, out, "--quiet", limit=2, epochs=3)) == 130
    err = capsys.readouterr().err.strip()
    command = (f"python {EXAMPLES['mlp']} --resume {out / 'checkpoint.npz'} --epochs 3 --device cpu "
               f"--data-dir {mnist_dir} --limit-batches 2 --no-download --quiet")
    assert err == (f"mnist_mlp_gan.py: interrupted in epoch 2 of 3; the checkpoint {out / 'checkpoint.npz'} "
                   f"(epoch 1) is intact; resume with: {command}")
    assert tinygan.load(out / "checkpoint.npz")["epoch"] == 1
    monkeypatch.undo()
    words = shlex.split(err.split("resume with: ")[1])
    assert words[:2] == ["python", str(EXAMPLES["mlp"])]
    assert run_example("mlp", words[2:]) == 0                    # the printed command does resume
    assert tinygan.load(out / "checkpoint.npz")["epoch"] == 3


def test_resume_command_into_another_folder_names_it():
    args = argparse.Namespace(device="auto", data_dir=None, limit_batches=None, sample_every=None, log_every=None,
                              no_download=False, quiet=False)
    state = run_folder.RunState()
    state.checkpoint, state.epochs, state.out = pathlib.Path("runs/a/checkpoint.npz"), 7, pathlib.Path("runs/b")
    assert run_folder.resume_command("toy_2d_gan.py", args, state) == (
        "python examples/toy_2d_gan.py --resume runs/a/checkpoint.npz --epochs 7 --out runs/b")
    state.out = pathlib.Path("runs/a")
    args.data_dir = "my data"
    assert run_folder.resume_command("toy_2d_gan.py", args, state) == (
        "python examples/toy_2d_gan.py --resume runs/a/checkpoint.npz --epochs 7 --data-dir 'my data'")


# ==================================================================================================
# An --out that holds a run is never overwritten by accident
# ==================================================================================================
def test_a_second_run_into_the_same_out_is_refused(mnist_dir, tmp_path, capsys):
    out = tmp_path / "run"
    argv = mnist_args(mnist_dir, out, "--quiet", limit=1, epochs=2)
    assert run_example("mlp", argv) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert run_example("mlp", argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"mnist_mlp_gan.py: error: {out} already holds a run (trained 2 epochs): continue it with "
                   f"--resume {out / 'checkpoint.npz'}, replace it with --overwrite, or pass another --out")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before    # not a byte changed


@pytest.mark.parametrize("leftover", ["metrics.csv", "samples/epoch_0001.png", "samples.gif"])
def test_a_folder_with_a_runs_outputs_but_no_checkpoint_is_refused(tmp_path, leftover, capsys):
    out = tmp_path / "run"
    (out / "samples").mkdir(parents=True)
    (out / leftover).write_bytes(b"an earlier run")
    assert run_example("toy", ["--steps-per-epoch", 2, "--epochs", 1, "--device", "cpu", "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    shown = "samples/*.png" if leftover.startswith("samples/") else leftover
    assert err == (f"toy_2d_gan.py: error: {out} already holds a run's outputs ({shown}) but no checkpoint to "
                   f"resume: replace them with --overwrite, or pass another --out")
    assert (out / leftover).read_bytes() == b"an earlier run"


def test_overwrite_replaces_only_the_files_a_run_writes(mnist_dir, tmp_path):
    out = tmp_path / "run"
    assert run_example("mlp", mnist_args(mnist_dir, out, "--quiet", limit=1, epochs=2)) == 0
    (out / "notes.txt").write_text("mine")
    (out / "samples" / "favourite.png").write_bytes(PNG + b"mine")
    (out / "modes.csv").write_text("stale")                    # an example's name: it goes too
    assert run_example("mlp", mnist_args(mnist_dir, out, "--quiet", "--overwrite", limit=1, epochs=1)) == 0
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz", "losses.png", "metrics.csv", "notes.txt",
                                                     "samples", "samples.gif"]
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["epoch_0001.png", "favourite.png"]
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "samples" / "favourite.png").read_bytes() == PNG + b"mine"
    from PIL import Image
    with Image.open(out / "samples.gif") as gif:
        assert gif.n_frames == 1                                 # no old picture and no user picture mixed in
    assert tinygan.load(out / "checkpoint.npz")["epoch"] == 1
    check_outputs(out, steps=1)


def test_overwrite_happens_only_once_the_new_run_can_start(mnist_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_example("mlp", mnist_args(mnist_dir, out, "--quiet", limit=1, epochs=1)) == 0
    before = (out / "checkpoint.npz").read_bytes()
    assert run_example("mlp", mnist_args(mnist_dir, out, "--overwrite", "--batch-size", 20000)) == 2
    capsys.readouterr()
    assert (out / "checkpoint.npz").read_bytes() == before


def test_resume_into_its_own_folder_or_an_empty_one_but_not_into_another_run(mnist_dir, tmp_path, capsys):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out in (a, b):
        assert run_example("mlp", mnist_args(mnist_dir, out, "--quiet", limit=1, epochs=1)) == 0
    resume = ["--resume", a / "checkpoint.npz", "--epochs", 2, "--limit-batches", 1, "--device", "cpu",
              "--no-download", "--quiet"]
    before = (b / "checkpoint.npz").read_bytes()
    assert run_example("mlp", resume + ["--out", b]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"mnist_mlp_gan.py: error: {b} already holds a run (trained 1 epoch): continue it with "
                   f"--resume {b / 'checkpoint.npz'}, replace it with --overwrite, or pass another --out")
    assert (b / "checkpoint.npz").read_bytes() == before
    assert run_example("mlp", resume + ["--out", a, "--overwrite"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"mnist_mlp_gan.py: error: --overwrite would delete the run that --resume {a / 'checkpoint.npz'} "
        f"continues; drop --overwrite, or pass another --out")
    assert run_example("mlp", resume + ["--out", c]) == 0       # a new folder: the run continues there
    assert tinygan.load(c / "checkpoint.npz")["epoch"] == 2 and tinygan.load(a / "checkpoint.npz")["epoch"] == 1
    assert run_example("mlp", resume + ["--out", str(a) + "/"]) == 0   # its own folder, however it is spelled
    assert tinygan.load(a / "checkpoint.npz")["epoch"] == 2


# ==================================================================================================
# Where the data comes from, and resuming without --data-dir
# ==================================================================================================
def test_resume_reads_the_data_folder_the_checkpoint_recorded(mnist_dir, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("TINYGAN_DATA", str(empty))               # not where the images are
    monkeypatch.setattr(idx, "MIRRORS", {"mnist": [], "fashion-mnist": []})   # a download attempt fails
    out = tmp_path / "run"
    assert run_example("mlp", mnist_args(mnist_dir, out, "--quiet", limit=1, epochs=1)) == 0
    ckpt = tinygan.load(out / "checkpoint.npz")
    assert ckpt["config"]["data_dir"] == os.path.abspath(mnist_dir)
    assert (ckpt["config"]["dataset"], ckpt["config"]["split"]) == ("mnist", "test")
    resume = ["--resume", out / "checkpoint.npz", "--limit-batches", 1, "--device", "cpu", "--quiet"]
    assert run_example("mlp", resume + ["--epochs", 2]) == 0      # no --data-dir: the recorded folder
    assert run_example("mlp", resume + ["--epochs", 3, "--data-dir", empty]) == 1   # an explicit one wins
    assert f"(in {empty})" in capsys.readouterr().err

    del ckpt["config"]["data_dir"]                               # a checkpoint from before the field
    tinygan.save(ckpt, out / "checkpoint.npz")
    assert run_example("mlp", resume + ["--epochs", 2]) == 1      # falls back to $TINYGAN_DATA...
    assert f"(in {empty})" in capsys.readouterr().err
    monkeypatch.setenv("TINYGAN_DATA", str(mnist_dir))
    assert run_example("mlp", resume + ["--epochs", 2]) == 0      # ...and resumes from there
    assert tinygan.load(out / "checkpoint.npz")["config"]["data_dir"] == os.path.abspath(mnist_dir)

    ckpt = tinygan.load(out / "checkpoint.npz")
    ckpt["config"]["data_dir"] = str(tmp_path / "moved")
    tinygan.save(ckpt, out / "checkpoint.npz")
    assert run_example("mlp", resume + ["--epochs", 3]) == 1
    assert capsys.readouterr().err.strip() == (f"mnist_mlp_gan.py: error: the checkpoint's data folder "
                                               f"{tmp_path / 'moved'} does not exist: pass --data-dir DIR")
    assert not (tmp_path / "moved").exists()


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
    (["--epoch", "1"], "unrecognized arguments: --epoch 1"),         # no prefix matching: not --epochs
    (["--over"], "unrecognized arguments: --over"),
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
                   "--sample-every", "--limit-batches", "--log-every", "--log-grad-norms", "--cuda-graph", "--quiet",
                   "--diffaugment"):
        assert option in text


@pytest.mark.parametrize("arch", ["mlp", "dcgan", "toy"])
def test_help_documents_the_remedies_and_the_recipes(arch, capsys):
    assert run_example(arch, ["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--recipe {plain,best}", "--pack M", "--mbstd", "--mbstd-group G", "--ema DECAY",
                   "--g-loss {default,feature-matching}", "--lr-g", "--lr-d", "--lr-schedule {constant,linear,cosine}",
                   "--spectral-norm", "benchmarks/QUALITY.md", "min(DECAY, (1 + t) / (10 + t))", "once per epoch"):
        assert option in text
    best = ", ".join(f"--{key.replace('_', '-')} {value}" for key, value in RECIPES[arch]["best"].items())
    assert f"best: {best} (what measured best so far" in text
    assert ("--diffaugment POLICY" in text) == (arch != "toy")


@pytest.mark.parametrize("offline", ["--no-download", "mirror down"])
def test_only_the_test_split_offline_says_split_test_uses_it(mnist_dir, tmp_path, monkeypatch, dead_mirror,
                                                            offline, capsys):
    folder = tmp_path / "mnist"
    shutil.copytree(mnist_dir, folder)
    monkeypatch.setattr(idx, "MIRRORS", {"mnist": [dead_mirror], "fashion-mnist": []})
    argv = ["--data-dir", folder, "--device", "cpu", "--out", tmp_path / "o"]
    assert run_example("mlp", argv + (["--no-download"] if offline == "--no-download" else [])) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]         # (a download prints its attempts first)
    tried = "nothing was downloaded (--no-download)" if offline == "--no-download" else "downloading failed"
    assert err == (f"mnist_mlp_gan.py: error: mnist train split: 2 file(s) not found: train-images-idx3-ubyte.gz, "
                   f"train-labels-idx1-ubyte.gz (in {folder}); {tried}; the test split is there: --split test "
                   f"trains on it")
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in mnist_dir.iterdir())
    assert not (tmp_path / "o").exists()


def test_a_missing_data_dir_is_named_and_never_created(tmp_path, capsys):
    missing = tmp_path / "typo"
    for extra in ([], ["--no-download"]):
        assert run_example("dcgan", ["--data-dir", missing, "--split", "test", "--out", tmp_path / "o", *extra]) == 2
        assert capsys.readouterr().err.strip() == f"mnist_dcgan.py: error: --data-dir {missing} does not exist"
    assert not missing.exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv,message", [
    (["--batch-size", 20000], "--batch-size 20000 is larger than the 10000 images of the mnist test split"),
    (["--batch-size", 4000, "--loss", "wgan"],
     "--batch-size 4000 with --d-steps 5 needs 20000 images per step, more than the 10000 images of the mnist "
     "test split"),
])
def test_a_batch_size_larger_than_the_data_names_batch_size(mnist_dir, tmp_path, argv, message, capsys):
    assert run_example("mlp", mnist_args(mnist_dir, tmp_path / "o", *argv)) == 2
    assert capsys.readouterr().err.strip() == f"mnist_mlp_gan.py: error: {message}"
    assert not (tmp_path / "o").exists()


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


# --cuda-graph is GPU-only (tests/test_cuda_graph.py runs it on the stand-in)
@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_the_cpu_refuses_cuda_graph_with_one_line(device, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tinygan.core.array_backend, "device_available", lambda name: name == "cpu")
    code = cli.main(["--device", device, "--cuda-graph", "--epochs", "1", "--steps-per-epoch", "2", "--quiet",
                     "--out", str(tmp_path / "toy")], arch="toy")
    err = capsys.readouterr().err
    assert code == 2 and err == "toy_2d_gan.py: error: --cuda-graph needs --device gpu\n"
    assert not (tmp_path / "toy").exists()


def test_gan_refuses_cuda_graph_on_the_cpu():
    G, D = tinygan.nn.Linear(2, 2), tinygan.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="cuda_graph=True needs device 'gpu'"):
        GAN(G, D, tinygan.optim.Adam(G.parameters()), tinygan.optim.Adam(D.parameters()), 2, cuda_graph=True)


# ==================================================================================================
# examples/gan_from_scratch.py: the PyTorch training loop, written out
# ==================================================================================================
def test_gan_from_scratch_trains_writes_a_grid_and_never_overwrites_it(mnist_dir, tmp_path, capsys):
    source = EXAMPLES["scratch"].read_text()
    assert len(source.splitlines()) <= 85 and "import tinygan\n" in source and "from tinygan import nn, optim" in source
    grid = tmp_path / "grid.png"
    argv = ["--data-dir", mnist_dir, "--split", "test", "--epochs", 1, "--limit-batches", 2, "--out", grid]
    assert run_script(EXAMPLES["scratch"], argv) == 0
    out = capsys.readouterr().out
    assert "epoch 1/1  d_loss " in out and f"wrote {grid}" in out
    from PIL import Image
    with Image.open(grid) as picture:                            # 8 x 8 digits of 28 px, 2 px apart, scaled 2x
        assert picture.format == "PNG" and picture.size == ((8 * 30 + 2) * 2,) * 2
    before = grid.read_bytes()
    assert run_script(EXAMPLES["scratch"], argv) == 2
    assert capsys.readouterr().err == (f"gan_from_scratch.py: error: {grid} exists: pass --overwrite to replace it, "
                                       f"or another --out\n")
    assert grid.read_bytes() == before
    assert run_script(EXAMPLES["scratch"], argv + ["--overwrite"]) == 0
    assert grid.read_bytes()[:8] == PNG and sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]


# ==================================================================================================
# --log-grad-norms: each layer's gradient norm in metrics.csv and grad_norms.png
# ==================================================================================================
MLP_GRAD_COLUMNS = ["grad_G.0", "grad_G.2", "grad_G.4", "grad_D.1", "grad_D.3", "grad_D.5"]   # D.0 is Flatten


def read_metrics(out):
    with open(out / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("arch,extra,columns", [
    ("mlp", [], MLP_GRAD_COLUMNS),
    ("dcgan", ["--conditional"], ["grad_G.net.0", "grad_G.net.2", "grad_G.net.4", "grad_G.net.5", "grad_G.net.7",
                                  "grad_D.net.0", "grad_D.net.2", "grad_D.net.3", "grad_D.net.6"]),
])
def test_log_grad_norms_adds_finite_positive_columns_and_a_plot(mnist_dir, tmp_path, arch, extra, columns, capsys):
    out = tmp_path / "run"
    assert run_example(arch, mnist_args(mnist_dir, out, "--log-grad-norms", *extra, limit=3)) == 0
    assert "logging gradient norms" in capsys.readouterr().out
    rows = read_metrics(out)
    assert list(rows[0]) == ["step", "epoch", "d_loss", "g_loss", "d_real", "d_fake", *columns]
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    values = np.array([[float(r[c]) for c in columns] for r in rows])
    assert np.isfinite(values).all() and (values > 0).all()
    assert (out / "grad_norms.png").read_bytes()[:8] == PNG
    history = tinygan.load(out / "checkpoint.npz")["history"]
    for c in columns:                                            # the checkpoint keeps them for --resume
        np.testing.assert_allclose(history[c], values[:, columns.index(c)], rtol=1e-5)


def test_without_the_flag_there_are_no_grad_columns_and_no_plot(mnist_dir, tmp_path):
    out = tmp_path / "run"
    assert run_example("mlp", mnist_args(mnist_dir, out, "--quiet", limit=1)) == 0
    assert list(read_metrics(out)[0]) == ["step", "epoch", "d_loss", "g_loss", "d_real", "d_fake"]
    assert not (out / "grad_norms.png").exists()


@pytest.mark.parametrize("loss", ["nonsaturating", "wgan"])
def test_grad_norms_are_the_norms_of_the_layers_gradients(mnist_dir, loss):
    """One training step: each logged norm is sqrt(sum of squares) of that layer's weight and bias gradients as
    the model holds them afterwards (G's from the G step; D's from the D step, since D is frozen during G's)."""
    config = models.make_config("mlp", 100)
    config.update(loss=loss, d_steps=1, lr=2e-4, beta1=0.5, label_smoothing=False, clip=0.01,
                  log_grad_norms=True)
    gan = make_gan(config, "cpu")
    assert gan.metric_names[4:] == tuple(MLP_GRAD_COLUMNS)
    images, _ = data.load_mnist(mnist_dir, split="test", download=False)
    real = tinygan.tensor(images[:64].astype(np.float32) / 127.5 - 1.0)
    metrics = gan.train_step([(real, None)])
    for net, module in (("G", gan.G), ("D", gan.D)):
        grads = dict(module.named_parameters())
        for column in MLP_GRAD_COLUMNS:
            if column.startswith(f"grad_{net}."):
                layer = column.split(".", 1)[1]
                g = [grads[f"{layer}.{kind}"].grad.numpy().astype(np.float64) for kind in ("weight", "bias")]
                expected = np.sqrt(sum((a * a).sum() for a in g))
                assert expected > 0
                assert float(metrics[column]) == pytest.approx(expected, rel=1e-5), column
    log = MetricsLog(1, gan.metric_names)
    log.add(1, 1, metrics)
    assert list(log.latest())[2:] == list(gan.metric_names)


def test_resume_keeps_the_checkpoints_grad_norm_columns(mnist_dir, tmp_path, capsys):
    """Resumed without the flag, a run that logged gradient norms goes on logging them; a run that did not
    refuses the flag with one line (its metrics.csv would change columns half-way down)."""
    logged, plain = tmp_path / "logged", tmp_path / "plain"
    assert run_example("mlp", mnist_args(mnist_dir, logged, "--quiet", "--log-grad-norms", limit=2)) == 0
    assert run_example("mlp", mnist_args(mnist_dir, plain, "--quiet", limit=2)) == 0
    resume = ["--epochs", 2, "--limit-batches", 2, "--device", "cpu", "--no-download", "--quiet"]
    assert run_example("mlp", ["--resume", logged / "checkpoint.npz", *resume]) == 0
    rows = read_metrics(logged)
    assert list(rows[0])[6:] == MLP_GRAD_COLUMNS and [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert all(float(r[c]) > 0 for r in rows for c in MLP_GRAD_COLUMNS)
    assert (logged / "grad_norms.png").read_bytes()[:8] == PNG

    before = {p: p.read_bytes() for p in plain.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert run_example("mlp", ["--resume", plain / "checkpoint.npz", "--log-grad-norms", *resume]) == 2
    assert capsys.readouterr().err == (
        "mnist_mlp_gan.py: error: --log-grad-norms: the run in the checkpoint was trained without it, and a "
        "resumed run keeps its metrics.csv columns (drop --log-grad-norms, or start a new run)\n")
    assert {p: p.read_bytes() for p in plain.rglob("*") if p.is_file()} == before


def test_overwrite_deletes_the_grad_norm_plot_too(mnist_dir, tmp_path):
    out = tmp_path / "run"
    assert run_example("mlp", mnist_args(mnist_dir, out, "--quiet", "--log-grad-norms", limit=1)) == 0
    assert (out / "grad_norms.png") in run_folder.run_outputs(out)
    assert run_example("mlp", mnist_args(mnist_dir, out, "--quiet", "--overwrite", limit=1)) == 0
    assert not (out / "grad_norms.png").exists()


@pytest.mark.gpu
def test_log_grad_norms_with_cuda_graph_on_the_gpu_standin(mnist_dir, tmp_path):
    """The norms are device arrays computed inside the captured step: the strict stand-in for CuPy raises on a
    host read during capture, so this run proves the combination needs no synchronisation in the step."""
    from conftest import strict_cupy_or_skip
    out = tmp_path / "run"
    with strict_cupy_or_skip().standing_in():
        argv = ["--device", "gpu", "--data-dir", mnist_dir, "--split", "test", "--no-download", "--epochs", 1,
                "--limit-batches", 4, "--quiet", "--out", out, "--cuda-graph", "--log-grad-norms", "--log-every", 2]
        assert cli.main([str(a) for a in argv], arch="mlp") == 0
    rows = read_metrics(out)
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    values = np.array([[float(r[c]) for c in MLP_GRAD_COLUMNS] for r in rows])
    assert np.isfinite(values).all() and (values > 0).all() and len(np.unique(values[:, 0])) == 4
    assert (out / "grad_norms.png").read_bytes()[:8] == PNG


# ==================================================================================================
# --eval-every: eval.csv and eval.png
# ==================================================================================================
def read_eval(out):
    with open(out / "eval.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_eval_every_writes_eval_csv_and_png_and_resume_continues_it(mnist_dir, tmp_path, capsys):
    out = tmp_path / "run"
    extra = ["--eval-every", 2, "--eval-samples", 200, "--quiet"]
    assert run_example("mlp", mnist_args(mnist_dir, out, *extra, limit=2, epochs=3)) == 0
    rows = read_eval(out)
    assert list(rows[0]) == list(EVAL_COLUMNS) == ["epoch", "step", "fld", "classifier_score", "digits", "kl",
                                                       "precision", "recall"]
    assert [(int(r["epoch"]), int(r["step"])) for r in rows] == [(2, 4), (3, 6)]        # every 2nd and the last
    assert all(float(r["fld"]) > 0 and 1 <= float(r["classifier_score"]) <= 10 and 0 <= int(r["digits"]) <= 10
               and 0 <= float(r["precision"]) <= 1 and 0 <= float(r["recall"]) <= 1 for r in rows)
    assert (out / "eval.png").read_bytes()[:8] == PNG
    assert list(read_eval(out)[0]) and "step" in open(out / "metrics.csv").readline()    # metrics.csv unchanged
    assert open(out / "metrics.csv").readline().strip() == "step,epoch,d_loss,g_loss,d_real,d_fake"
    resume = ["--resume", out / "checkpoint.npz", "--epochs", 4, "--data-dir", mnist_dir, "--limit-batches", 2,
              "--device", "cpu", "--no-download", "--eval-every", 1, "--eval-samples", 200]
    capsys.readouterr()
    assert run_example("mlp", resume) == 0
    printed = capsys.readouterr().out
    assert [int(r["epoch"]) for r in read_eval(out)] == [2, 3, 4] and read_eval(out)[:2] == rows
    assert "FLD" in printed.splitlines()[-3] and printed.splitlines()[-1].startswith("eval: epoch 4 samples (200 vs")
    assert "eval.csv" in run_folder.RUN_FILES and "eval.png" in run_folder.RUN_FILES
    assert run_example("mlp", mnist_args(mnist_dir, out, "--overwrite", "--quiet", limit=1)) == 0
    assert not (out / "eval.csv").exists() and not (out / "eval.png").exists()


def test_eval_every_with_a_conditional_dcgan(mnist_dir, tmp_path):
    out = tmp_path / "run"
    assert run_example("dcgan", mnist_args(mnist_dir, out, "--conditional", "--eval-every", 1, "--eval-samples", 100,
                                           "--quiet", limit=1)) == 0
    assert [int(r["epoch"]) for r in read_eval(out)] == [1]


@pytest.mark.parametrize("arch,argv,message", [
    ("toy", ["--eval-every", 1], "modes.csv"),
    ("mlp", ["--eval-every", 0], "--eval-every must be a positive integer"),
    ("mlp", ["--eval-every", 1, "--eval-samples", 5], "--eval-samples must be at least 10"),
    ("mlp", ["--eval-every", 1, "--dataset", "fashion-mnist"], "MNIST classifier")])
def test_eval_every_refusals_are_one_line(mnist_dir, tmp_path, capsys, arch, argv, message):
    args = argv + ["--device", "cpu", "--out", tmp_path / "run"]
    if arch != "toy":
        args += ["--data-dir", mnist_dir, "--split", "test", "--no-download"]
    assert run_example(arch, args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err, err
    assert not (tmp_path / "run" / "checkpoint.npz").exists()

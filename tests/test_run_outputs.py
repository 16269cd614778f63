"""Issue 20: --overwrite never loses the run already in --out.

The run there stays whole until the new run's first checkpoint, then the new run's files replace it in one
step (renames within --out, Ctrl-C held, put back if one fails); a Ctrl-C, a NaN or a crash before that leaves
it exactly as it was, and the line printed says so and how to go on. Files of the user's in --out are kept.
"""
import errno
import os
import pathlib
import shlex
import signal

import pytest

import tinygan
from tinygan.app import run_folder

from test_examples import EXAMPLES, PNG, ctrl_c, mnist_args, nan_d_loss, poison_train_step, run_example


def snapshot(folder):
    """Every file under ``folder`` (hidden ones too) and its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def hidden(folder):
    return sorted(p.name for p in folder.rglob(".*"))


@pytest.fixture
def old_run(mnist_dir, tmp_path):
    """A finished 2-epoch run in tmp_path/run, with a file of the user's beside it and in samples/."""
    out = tmp_path / "run"
    assert run_example("mlp", mnist_args(mnist_dir, out, "--quiet", limit=1, epochs=2)) == 0
    (out / "notes.txt").write_text("mine")
    (out / "samples" / "favourite.png").write_bytes(PNG + b"mine")
    return out


def overwrite_args(mnist_dir, out, *extra, epochs=3):
    return mnist_args(mnist_dir, out, "--overwrite", "--quiet", *extra, limit=2, epochs=epochs)


def test_ctrl_c_before_the_first_checkpoint_of_an_overwrite_run_leaves_the_old_run_exactly_as_it_was(
        mnist_dir, old_run, monkeypatch, capsys):
    before = snapshot(old_run)
    poison_train_step(monkeypatch, 2, ctrl_c)          # step 1's picture is written (--sample-every 1), then Ctrl-C
    assert run_example("mlp", overwrite_args(mnist_dir, old_run, "--sample-every", 1)) == 130
    err = capsys.readouterr().err.strip()
    checkpoint = old_run / "checkpoint.npz"
    assert err == (f"mnist_mlp_gan.py: interrupted in epoch 1 of 3; no checkpoint was saved yet, so the run "
                   f"already in {old_run} (trained 2 epochs) is untouched: continue it with --resume {checkpoint}, "
                   f"or run again with --overwrite to replace it")
    assert snapshot(old_run) == before and hidden(old_run) == []      # not a byte changed, nothing left behind
    monkeypatch.undo()
    words = shlex.split(err.split("continue it with ")[1].split(",")[0])
    assert run_example("mlp", words + ["--epochs", 3, "--limit-batches", 1, "--quiet"]) == 0   # it does continue
    assert tinygan.load(checkpoint)["epoch"] == 3


def test_a_crash_before_the_first_checkpoint_of_an_overwrite_run_leaves_the_old_run_as_it_was(
        mnist_dir, old_run, monkeypatch):
    before = snapshot(old_run)

    def crash(metrics):
        raise RuntimeError("a bug in a training step")
    poison_train_step(monkeypatch, 2, crash)
    with pytest.raises(RuntimeError, match="a bug in a training step"):
        run_example("mlp", overwrite_args(mnist_dir, old_run, "--sample-every", 1))
    assert snapshot(old_run) == before and hidden(old_run) == []


def test_a_nan_loss_before_the_first_checkpoint_of_an_overwrite_run_says_the_old_run_is_untouched(
        mnist_dir, old_run, monkeypatch, capsys):
    before = snapshot(old_run)
    poison_train_step(monkeypatch, 1, nan_d_loss)
    assert run_example("mlp", overwrite_args(mnist_dir, old_run)) == 1
    assert capsys.readouterr().err.strip() == (
        f"mnist_mlp_gan.py: error: d_loss is nan at step 1: training stopped (try a lower --lr); this run saved no "
        f"checkpoint, so the run already in {old_run} (trained 2 epochs) is untouched")
    assert snapshot(old_run) == before and hidden(old_run) == []


def test_leftover_outputs_without_a_checkpoint_are_kept_too(mnist_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    (out / "samples").mkdir(parents=True)
    (out / "metrics.csv").write_text("an earlier run")
    (out / "samples" / "epoch_0001.png").write_bytes(PNG + b"an earlier run")
    before = snapshot(out)
    poison_train_step(monkeypatch, 1, ctrl_c)
    assert run_example("mlp", overwrite_args(mnist_dir, out)) == 130
    assert capsys.readouterr().err.strip() == (
        f"mnist_mlp_gan.py: interrupted in epoch 1 of 3; no checkpoint was saved yet, so the earlier outputs in "
        f"{out} (metrics.csv, samples/*.png) are untouched: run again with --overwrite to replace them")
    assert snapshot(out) == before and hidden(out) == []


def test_the_first_checkpoint_replaces_the_old_run_and_keeps_the_users_files(mnist_dir, old_run, monkeypatch,
                                                                             capsys):
    old = snapshot(old_run)
    poison_train_step(monkeypatch, 3, ctrl_c)          # the first step of epoch 2
    assert run_example("mlp", overwrite_args(mnist_dir, old_run)) == 130
    checkpoint = old_run / "checkpoint.npz"
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"mnist_mlp_gan.py: interrupted in epoch 2 of 3; the checkpoint {checkpoint} (epoch 1) "
                          f"is intact; resume with: python ")
    now = snapshot(old_run)
    assert sorted(now) == ["checkpoint.npz", "losses.png", "metrics.csv", "notes.txt", "samples.gif",
                           "samples/epoch_0001.png", "samples/favourite.png"]           # old epoch_0002.png: gone
    assert now["notes.txt"] == b"mine" and now["samples/favourite.png"] == PNG + b"mine"
    assert all(now[name] != old[name] for name in ("checkpoint.npz", "metrics.csv", "samples/epoch_0001.png"))
    ckpt = tinygan.load(checkpoint)
    assert ckpt["epoch"] == 1 and ckpt["step"] == 2 and hidden(old_run) == []
    from PIL import Image
    with Image.open(old_run / "samples.gif") as gif:
        assert gif.n_frames == 1                                 # the new run's one picture, none of the old ones
    monkeypatch.undo()
    words = shlex.split(err.split("resume with: ")[1])
    assert run_example("mlp", words[2:]) == 0
    assert tinygan.load(checkpoint)["epoch"] == 3


def swapping(source, target, out):
    """Whether os.replace(source, target) moves one of the new run's staged files into ``out``."""
    return run_folder.STAGING_PREFIX in str(source) and pathlib.Path(target).parent in (out, out / "samples")


def test_a_ctrl_c_during_the_swap_waits_for_it(mnist_dir, old_run, monkeypatch, capsys):
    """Ctrl-C while the old run's files make way for the new one's: the swap finishes, then the run stops."""
    replace = os.replace

    def replace_and_press_ctrl_c(source, target, **kwargs):
        if swapping(source, target, old_run):
            os.kill(os.getpid(), signal.SIGINT)
        return replace(source, target, **kwargs)
    monkeypatch.setattr(os, "replace", replace_and_press_ctrl_c)
    assert run_example("mlp", overwrite_args(mnist_dir, old_run)) == 130
    checkpoint = old_run / "checkpoint.npz"
    assert capsys.readouterr().err.strip().startswith(
        f"mnist_mlp_gan.py: interrupted after epoch 1 of 3; the checkpoint {checkpoint} (epoch 1) is intact; "
        f"resume with: python ")
    assert tinygan.load(checkpoint)["step"] == 2 and hidden(old_run) == []
    assert sorted(snapshot(old_run)) == ["checkpoint.npz", "losses.png", "metrics.csv", "notes.txt", "samples.gif",
                                         "samples/epoch_0001.png", "samples/favourite.png"]


def test_a_failing_swap_puts_the_old_run_back(mnist_dir, old_run, monkeypatch, capsys):
    before = snapshot(old_run)
    replace = os.replace

    def full_disk_for_the_checkpoint(source, target, **kwargs):
        if swapping(source, target, old_run) and pathlib.Path(target).name == "checkpoint.npz":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
        return replace(source, target, **kwargs)
    monkeypatch.setattr(os, "replace", full_disk_for_the_checkpoint)
    assert run_example("mlp", overwrite_args(mnist_dir, old_run)) == 1
    assert capsys.readouterr().err.strip() == (
        f"mnist_mlp_gan.py: error: [Errno 28] No space left on device: '{old_run / 'checkpoint.npz'}'; this run "
        f"saved no checkpoint, so the run already in {old_run} (trained 2 epochs) is untouched")
    assert snapshot(old_run) == before and hidden(old_run) == []


def test_resuming_into_another_runs_folder_with_overwrite_keeps_it_until_the_first_checkpoint(
        mnist_dir, old_run, tmp_path, monkeypatch, capsys):
    a = tmp_path / "a"
    assert run_example("mlp", mnist_args(mnist_dir, a, "--quiet", limit=1, epochs=1)) == 0
    before = snapshot(old_run)
    poison_train_step(monkeypatch, 1, ctrl_c)
    argv = ["--resume", a / "checkpoint.npz", "--epochs", 2, "--limit-batches", 1, "--device", "cpu", "--quiet",
            "--out", old_run, "--overwrite"]
    assert run_example("mlp", argv) == 130
    err = capsys.readouterr().err.strip()
    assert err == (f"mnist_mlp_gan.py: interrupted in epoch 2 of 2; the checkpoint {a / 'checkpoint.npz'} (epoch 1) "
                   f"is intact; the run already in {old_run} (trained 2 epochs) is untouched; resume with: python "
                   f"{EXAMPLES['mlp']} --resume {a / 'checkpoint.npz'} --epochs 2 --out {old_run} --overwrite "
                   f"--device cpu --limit-batches 1 --quiet")
    assert snapshot(old_run) == before and hidden(old_run) == []
    monkeypatch.undo()
    assert run_example("mlp", shlex.split(err.split("resume with: ")[1])[2:]) == 0
    assert tinygan.load(old_run / "checkpoint.npz")["epoch"] == 2 and hidden(old_run) == []


def test_the_opening_line_says_the_old_run_stays_until_the_first_checkpoint(mnist_dir, old_run, capsys):
    argv = mnist_args(mnist_dir, old_run, "--overwrite", limit=1, epochs=1)
    assert run_example("mlp", argv) == 0
    assert (f"; writing to {old_run} (the run there stays until this one saves its first checkpoint)\n"
            in capsys.readouterr().out)

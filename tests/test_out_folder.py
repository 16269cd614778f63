"""Issue 20: an output folder that cannot be written is one line before any work, never a traceback after it.

An --out that is a file, lies under a file, cannot be created or cannot be written (probed by creating and
removing a file) is refused with exit code 2 before the data is loaded; a disk that fails during training is
one line naming the checkpoint that is intact. Read-only folders: tests/read_only.py makes this process see a
folder as a read-only mount (EROFS), since root, which the tests run as, ignores chmod.
"""
import errno
import os
import subprocess
import sys

import pytest

import tinygan
from tinygan.app import plotting
from tinygan.app.gan import GAN

from conftest import run_script
from read_only import make_read_only
from test_examples import EXAMPLES, ROOT, run_example


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if a training step runs."""
    def train_step(self, batches):
        raise AssertionError("training started")
    monkeypatch.setattr(GAN, "train_step", train_step)


TOY = ["--steps-per-epoch", 2, "--epochs", 1, "--device", "cpu", "--quiet"]


def test_an_out_that_is_a_file_is_one_line_before_training(tmp_path, no_training, capsys):
    mine = tmp_path / "results.txt"
    mine.write_text("mine")
    assert run_example("toy", TOY + ["--out", mine]) == 2
    assert capsys.readouterr().err == f"toy_2d_gan.py: error: --out {mine} is a file, not a folder\n"
    assert run_example("toy", TOY + ["--out", mine / "run"]) == 2
    assert capsys.readouterr().err == (f"toy_2d_gan.py: error: --out {mine / 'run'} cannot be created: {mine} is a "
                                       f"file, not a folder\n")
    assert mine.read_text() == "mine"


def test_a_read_only_out_is_one_line_before_training(tmp_path, monkeypatch, no_training, capsys):
    out = tmp_path / "run"
    out.mkdir()
    make_read_only(monkeypatch, out)
    assert run_example("toy", TOY + ["--out", out]) == 2
    assert capsys.readouterr().err == f"toy_2d_gan.py: error: --out {out} cannot be written: Read-only file system\n"
    assert run_example("toy", TOY + ["--out", out / "new" / "deeper"]) == 2
    assert capsys.readouterr().err == (f"toy_2d_gan.py: error: --out {out / 'new' / 'deeper'} cannot be created: "
                                       f"Read-only file system\n")
    assert list(out.iterdir()) == []


def test_the_default_out_in_a_read_only_folder_says_pass_out(tmp_path, monkeypatch, no_training, capsys):
    monkeypatch.chdir(tmp_path)
    make_read_only(monkeypatch, tmp_path)
    assert run_example("toy", TOY) == 2
    assert capsys.readouterr().err == ("toy_2d_gan.py: error: the output folder runs/toy cannot be created: "
                                       "Read-only file system; pass --out DIR\n")


def test_a_file_where_samples_go_is_one_line_before_training(tmp_path, no_training, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "samples").write_text("mine")
    assert run_example("toy", TOY + ["--out", out]) == 2
    assert capsys.readouterr().err == (f"toy_2d_gan.py: error: --out {out}: {out / 'samples'} is a file, not a folder "
                                       f"(the sample pictures go there)\n")


def test_the_probe_leaves_no_folder_behind_when_the_run_is_refused_later(tmp_path, capsys):
    out = tmp_path / "new" / "run"
    assert run_example("toy", TOY + ["--out", out, "--batch-size", 0]) == 2      # refused by the option checks
    assert run_example("toy", TOY + ["--out", out, "--d-steps", 5, "--steps-per-epoch", 2]) == 2   # by train()
    capsys.readouterr()
    assert not (tmp_path / "new").exists()


def test_a_disk_failing_during_training_is_one_line_naming_the_checkpoint(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    write_csv, calls = plotting.write_csv, []

    def full_disk_in_epoch_2(path, *args):
        calls.append(path)
        if len(calls) == 3:                             # metrics.csv, modes.csv of epoch 1; epoch 2's metrics.csv
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return write_csv(path, *args)
    monkeypatch.setattr(plotting, "write_csv", full_disk_in_epoch_2)
    assert run_example("toy", ["--steps-per-epoch", 2, "--epochs", 2, "--device", "cpu", "--quiet", "--out", out]) == 1
    assert capsys.readouterr().err == (f"toy_2d_gan.py: error: [Errno 28] No space left on device: "
                                       f"'{out / 'metrics.csv'}'; the checkpoint {out / 'checkpoint.npz'} (epoch 1) "
                                       f"is intact\n")
    assert tinygan.load(out / "checkpoint.npz")["epoch"] == 1


def test_an_out_that_is_a_file_in_a_real_process(tmp_path):
    """The user's view: exit code 2, one line, no traceback, nothing trained."""
    mine = tmp_path / "results.txt"
    mine.write_text("mine")
    proc = subprocess.run([sys.executable, str(EXAMPLES["toy"]), "--out", str(mine), "--steps-per-epoch", "2",
                           "--epochs", "1"], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert (proc.returncode, proc.stderr) == (2, f"toy_2d_gan.py: error: --out {mine} is a file, not a folder\n")
    assert "epoch" not in proc.stdout


# ==================================================================================================
# examples/mnist_classifier.py: the same check before training
# ==================================================================================================
CLASSIFIER = ROOT / "examples" / "mnist_classifier.py"


def test_the_classifier_refuses_an_out_it_cannot_write_before_training(mnist_dir, tmp_path, monkeypatch):
    from tinygan import nn
    monkeypatch.setattr(nn.CrossEntropyLoss, "forward", lambda *a: pytest.fail("training started"))
    argv = ["--data-dir", mnist_dir, "--split", "test", "--epochs", 1, "--limit-batches", 1, "--quiet"]
    mine = tmp_path / "results.txt"
    mine.write_text("mine")
    assert run_script(CLASSIFIER, argv + ["--out", mine / "lenet"]) == (
        f"mnist_classifier.py: --out {mine / 'lenet'} cannot be created: {mine} is a file, not a folder")
    out = tmp_path / "lenet"
    out.mkdir()
    make_read_only(monkeypatch, out)
    assert run_script(CLASSIFIER, argv + ["--out", out]) == (
        f"mnist_classifier.py: --out {out} cannot be written: Read-only file system")

"""examples/gan_from_scratch.py as a user meets it: nonsense options, a missing --data-dir and Ctrl-C each end in
one line on stderr (exit 2, 2 and 130), never a traceback, and nothing is trained or written before the checks.

(The run that trains and writes its grid is in tests/test_examples.py.)"""
import os
import pathlib
import signal
import subprocess
import sys

import pytest

import tinygan

from conftest import run_script

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "gan_from_scratch.py"


@pytest.mark.parametrize("argv,line", [
    (["--epochs", "0"], "--epochs must be a positive integer, got 0"),
    (["--epochs", "-2"], "--epochs must be a positive integer, got -2"),
    (["--limit-batches", "0"], "--limit-batches must be a positive integer, got 0"),
    (["--limit-batches", "-1"], "--limit-batches must be a positive integer, got -1"),
    (["--epochs", "two"], "argument --epochs: invalid int value: 'two' (see --help)"),
    (["--epoch", "2"], "unrecognized arguments: --epoch 2 (see --help)"),
])
def test_nonsense_values_are_one_line_and_exit_2(argv, line, mnist_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "grid.png"
    code = run_script(SCRIPT, ["--data-dir", mnist_dir, "--split", "test", "--out", out, *argv])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""                      # no epoch trained
    assert captured.err == f"gan_from_scratch.py: error: {line}\n"
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name,line", [
    ("grid.txt", "--out {out}: a grid of images cannot be written as a .txt file; name a .png, .jpg, .jpeg, .gif, "
                 ".bmp, .tif, .tiff or .pdf file"),
    ("folder", "--out {out} is a folder: name a file, such as {out}/grid.png"),
])
def test_an_out_that_cannot_take_the_picture_is_refused_before_training(name, line, tmp_path, capsys):
    # it used to train every epoch and then fail with a traceback when saving the picture
    out = tmp_path / name
    if name == "folder":
        out.mkdir()
    code = run_script(SCRIPT, ["--data-dir", tmp_path, "--out", out])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and captured.err == f"gan_from_scratch.py: error: {line.format(out=out)}\n"


@pytest.mark.parametrize("make", ["missing", "file"])
def test_a_data_dir_that_is_not_a_folder_names_data_dir(make, tmp_path, capsys):
    folder = tmp_path / "nonexist"
    if make == "file":
        folder.write_text("not a folder")
    code = run_script(SCRIPT, ["--data-dir", folder, "--out", tmp_path / "grid.png"])
    err = capsys.readouterr().err
    assert code == 2 and err == f"gan_from_scratch.py: error: --data-dir {folder}: no such folder\n"
    assert "(root)" not in err and not (tmp_path / "grid.png").exists()


def test_missing_files_say_where_and_what_to_pass(mnist_dir, tmp_path, capsys):
    code = run_script(SCRIPT, ["--data-dir", mnist_dir, "--no-download", "--out", tmp_path / "grid.png"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and err.startswith("gan_from_scratch.py: error: mnist train split")
    assert "--split test trains on it" in err                   # the shared folder holds the test split only


def test_ctrl_c_is_one_line_exit_130_and_writes_nothing(mnist_dir, tmp_path, capsys, monkeypatch):
    steps = []

    def step(self):
        steps.append(1)
        if len(steps) == 3:
            raise KeyboardInterrupt
    monkeypatch.setattr(tinygan.optim.Adam, "step", step)
    out = tmp_path / "grid.png"
    code = run_script(SCRIPT, ["--data-dir", mnist_dir, "--split", "test", "--epochs", 2, "--out", out])
    captured = capsys.readouterr()
    assert code == 130 and captured.out == "" and len(steps) == 3
    assert captured.err == (f"gan_from_scratch.py: interrupted before {out} was written (it is saved after the "
                            f"last epoch)\n")
    assert list(tmp_path.iterdir()) == []


def test_a_real_ctrl_c(mnist_dir, tmp_path):
    """SIGINT to the process, as Ctrl-C in a terminal sends it, once the first epoch has printed."""
    out = tmp_path / "grid.png"
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--data-dir", str(mnist_dir), "--split", "test", "--limit-batches", "2",
         "--epochs", "100000", "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))   # a shell's `&` ignores it
    try:
        assert process.stdout.readline().startswith("epoch 1/100000  d_loss ")
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
    assert process.returncode == 130
    assert err == f"gan_from_scratch.py: interrupted before {out} was written (it is saved after the last epoch)\n"
    assert not out.exists()

"""python -m tinygan.sample on checkpoints the examples wrote: grids, raw samples, digits, interpolation,
the moving average G_ema of --ema runs (and --no-ema), and clear errors."""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import tinygan
from tinygan.app import models, plotting, sample
from tinygan.tensor import Tensor

ROOT = pathlib.Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def generator(path):
    ckpt = tinygan.load(path)
    G, _ = models.build(ckpt["config"])
    G.load_state_dict(ckpt["G"])
    G.eval()
    return G


def test_grid_and_raw_samples(checkpoints, tmp_path, capsys):
    grid, raw = tmp_path / "grid.png", tmp_path / "s.npy"
    assert sample.main([str(checkpoints["mlp"]), "--n", "20", "--out", str(grid), "--npy", str(raw)]) == 0
    assert grid.read_bytes()[:8] == PNG
    x = np.load(raw)
    assert x.shape == (20, 1, 28, 28) and x.dtype == np.float32
    assert -1.0 <= x.min() and x.max() <= 1.0 and x.std() > 0
    # the samples are G's output for the seed's latent points
    z = np.random.default_rng(0).standard_normal((20, 100)).astype(np.float32)
    with tinygan.no_grad():
        expected = generator(checkpoints["mlp"])(Tensor(z)).numpy()
    np.testing.assert_allclose(x, expected, rtol=1e-6, atol=1e-6)
    assert "wrote" in capsys.readouterr().out


def test_seed_changes_the_samples(checkpoints, tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    for path, seed in ((a, "1"), (b, "2")):
        assert sample.main([str(checkpoints["mlp"]), "--n", "4", "--seed", seed, "--npy", str(path),
                            "--out", str(tmp_path / f"g{seed}.png")]) == 0
    assert not np.array_equal(np.load(a), np.load(b))


def test_digit_on_a_conditional_model(checkpoints, tmp_path):
    raw = tmp_path / "sevens.npy"
    assert sample.main([str(checkpoints["cdcgan"]), "--n", "6", "--digit", "7", "--out", str(tmp_path / "g.png"),
                        "--npy", str(raw)]) == 0
    z = np.random.default_rng(0).standard_normal((6, 100)).astype(np.float32)
    with tinygan.no_grad():
        sevens = generator(checkpoints["cdcgan"])(Tensor(z), Tensor(np.full(6, 7))).numpy()
        threes = generator(checkpoints["cdcgan"])(Tensor(z), Tensor(np.full(6, 3))).numpy()
    np.testing.assert_allclose(np.load(raw), sevens, rtol=1e-5, atol=1e-5)
    assert not np.allclose(sevens, threes)


def test_digit_errors(checkpoints, tmp_path, capsys):
    assert sample.main([str(checkpoints["mlp"]), "--digit", "7", "--out", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--digit needs a conditional model" in err
    assert sample.main([str(checkpoints["cdcgan"]), "--digit", "12", "--out", str(tmp_path / "g.png")]) == 2
    assert "--digit must be in 0..9" in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists()


def test_interpolation_walks_between_two_latent_points(checkpoints, tmp_path):
    raw = tmp_path / "walk.npy"
    assert sample.main([str(checkpoints["mlp"]), "--n", "16", "--interpolate", "--npy", str(raw),
                        "--out", str(tmp_path / "walk.png")]) == 0
    assert np.load(raw).shape == (16, 1, 28, 28)
    assert (tmp_path / "walk.png").read_bytes()[:8] == PNG
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    path = sample.slerp(a, b, np.linspace(0, 1, 4))
    assert path.shape == (2, 4, 5)
    np.testing.assert_allclose(path[:, 0], a, atol=1e-12)
    np.testing.assert_allclose(path[:, -1], b, atol=1e-12)
    assert not np.allclose(path[:, 1], a + (b - a) / 3)            # a curve, not the straight line


def test_toy_checkpoint_gives_a_scatter_and_points(checkpoints, tmp_path):
    raw = tmp_path / "points.npy"
    assert sample.main([str(checkpoints["toy"]), "--n", "100", "--out", str(tmp_path / "t.png"),
                        "--npy", str(raw)]) == 0
    assert np.load(raw).shape == (100, 2)
    assert (tmp_path / "t.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize("argv,code,message", [
    (["/no/such.npz"], 1, "no such checkpoint file"),
    (["{csv}"], 1, "metrics.csv is not a tinygan checkpoint"),
    (["{mlp}", "--n", "0"], 2, "--n must be a positive integer"),
    (["{mlp}", "--n", "many"], 2, "invalid int value: 'many'"),
    (["{mlp}", "--interp"], 2, "unrecognized arguments: --interp"),      # no prefix matching
])
def test_errors_are_one_line(checkpoints, tmp_path, capsys, argv, code, message):
    names = {"mlp": checkpoints["mlp"], "csv": checkpoints["mlp"].parent / "metrics.csv"}
    argv = [a.format(**names) for a in argv] + ["--out", str(tmp_path / "g.png")]
    assert sample.main(argv) == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("python -m tinygan.sample: error: ") and message in err


def test_runs_as_a_module(checkpoints, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = tmp_path / "grid.png"
    proc = subprocess.run([sys.executable, "-m", "tinygan.sample", str(checkpoints["mlp"]), "--n", "64",
                           "--out", str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == PNG


# ==================================================================================================
# Column labels on conditional grids
# ==================================================================================================
def pixels(path):
    from PIL import Image
    with Image.open(path) as picture:
        return np.asarray(picture)


def test_save_grid_writes_each_column_label_above_its_column(tmp_path):
    images = np.zeros((6, 1, 28, 28), dtype=np.float32)
    plotting.save_grid(images, tmp_path / "plain.png", nrow=3)
    plotting.save_grid(images, tmp_path / "labelled.png", nrow=3, column_labels=["0", "1", "7"])
    plain, labelled = pixels(tmp_path / "plain.png"), pixels(tmp_path / "labelled.png")
    strip = labelled.shape[0] - plain.shape[0]
    assert strip > 0 and labelled.shape[1] == plain.shape[1]
    np.testing.assert_array_equal(labelled[strip:], plain)         # the grid itself is unchanged below
    cell, offset = (28 + 2) * 2, 2 * 2
    columns = [labelled[:strip, offset + k * cell:(k + 1) * cell] for k in range(3)]
    assert all((c > 200).any() for c in columns)                      # ink above every column...
    assert not np.array_equal(columns[0], columns[1]) and not np.array_equal(columns[1], columns[2])   # ...each its own
    assert not (labelled[:strip, :offset] > 200).any()                # and none off the columns


def test_conditional_grids_label_their_columns_with_the_digit(checkpoints, tmp_path):
    grid, reference = tmp_path / "grid.png", tmp_path / "reference.png"
    assert sample.main([str(checkpoints["cdcgan"]), "--n", "30", "--out", str(grid)]) == 0
    plotting.save_grid(np.zeros((30, 1, 28, 28)), reference, nrow=10, column_labels=[str(d) for d in range(10)])
    a, b = pixels(grid), pixels(reference)
    strip = b.shape[0] - (3 * 30 + 2) * 2
    assert strip > 0 and a.shape == b.shape
    np.testing.assert_array_equal(a[:strip], b[:strip])              # labelled 0..9, left to right
    unlabelled = ((5 * 30 + 2) * 2, (6 * 30 + 2) * 2)                 # 30 pictures, 6 a row: 5 rows, no strip
    for argv in (["--digit", "7"], ["--interpolate"]):                # one class, or one class per row
        assert sample.main([str(checkpoints["cdcgan"]), "--n", "30", "--out", str(grid), *argv, "--overwrite"]) == 0
        assert pixels(grid).shape == unlabelled
    assert sample.main([str(checkpoints["mlp"]), "--n", "30", "--out", str(grid), "--overwrite"]) == 0   # unconditional
    assert pixels(grid).shape == unlabelled


@pytest.fixture(scope="module")
def ema_checkpoint(tmp_path_factory):
    """A toy run trained with --ema: its checkpoint holds G and the moving average G_ema."""
    from tinygan.app import cli
    out = tmp_path_factory.mktemp("ema") / "toy"
    assert cli.main(["--steps-per-epoch", "5", "--epochs", "1", "--device", "cpu", "--quiet", "--ema", "0.5",
                     "--out", str(out)], arch="toy") == 0
    return out / "checkpoint.npz"


def test_a_run_with_ema_is_sampled_from_g_ema_unless_no_ema(ema_checkpoint, tmp_path, capsys):
    ckpt = tinygan.load(ema_checkpoint)
    z = np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32)
    drawn = {}
    for key, extra in (("G_ema", []), ("G", ["--no-ema"])):
        path = tmp_path / f"{key}.npy"
        assert sample.main([str(ema_checkpoint), "--n", "16", "--npy", str(path), "--out", str(tmp_path / f"{key}.png")]
                           + extra) == 0
        assert f"from {key} at epoch 1" in capsys.readouterr().out
        G = models.build_generator(ckpt["config"])
        G.load_state_dict(ckpt[key])
        G.eval()
        with tinygan.no_grad():
            np.testing.assert_allclose(np.load(path), G(Tensor(z)).numpy(), rtol=1e-6, atol=1e-6)
        drawn[key] = np.load(path)
    assert not np.array_equal(drawn["G"], drawn["G_ema"])


def test_the_evaluator_scores_g_ema_unless_no_ema(ema_checkpoint, capsys):
    from tinygan.app import evaluate
    reports = {}
    for extra in ([], ["--no-ema"]):
        assert evaluate.main([str(ema_checkpoint), "--json"] + extra) == 0
        report = json.loads(capsys.readouterr().out)
        reports[report["generator"]] = report
    assert set(reports) == {"G", "G_ema"}
    assert evaluate.main([str(ema_checkpoint)]) == 0
    assert "(epoch 1, G_ema, toy ring)" in capsys.readouterr().out


def test_a_checkpoint_without_g_ema_samples_g(checkpoints, tmp_path, capsys):
    assert sample.main([str(checkpoints["toy"]), "--n", "4", "--out", str(tmp_path / "s.png"), "--no-ema"]) == 0
    assert "from G (the run kept no G_ema) at epoch 1" in capsys.readouterr().out


# ==================================================================================================
# Nothing is written over by accident (issue 20): existing files, the format a suffix names, folders
# ==================================================================================================
@pytest.fixture
def no_drawing(monkeypatch):
    """Fail the test if a generator is rebuilt: the checks come before any work."""
    monkeypatch.setattr(sample, "generator_of", lambda *args, **kwargs: pytest.fail("samples were drawn"))


def test_an_existing_file_is_refused_unless_overwrite(checkpoints, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    mine = PNG + b"my own picture"
    pathlib.Path("grid.png").write_bytes(mine)                      # where the default --out writes
    np.save("s.npy", np.arange(3))
    ckpt = str(checkpoints["mlp"])
    with pytest.MonkeyPatch.context() as m:
        m.setattr(sample, "generator_of", lambda *args, **kwargs: pytest.fail("samples were drawn"))
        for argv, line in (([], "grid.png exists: pass --overwrite to replace it, or another --out"),
                           (["--out", "new.png", "--npy", "s.npy"],
                            "s.npy exists: pass --overwrite to replace it, or another --npy"),
                           (["--npy", "s"], "grid.png and s.npy exist: pass --overwrite to replace them, or another "
                                            "--out and --npy")):
            assert sample.main([ckpt, "--n", "4", *argv]) == 2
            assert capsys.readouterr().err == f"python -m tinygan.sample: error: {line}\n"
    assert pathlib.Path("grid.png").read_bytes() == mine and np.load("s.npy").tolist() == [0, 1, 2]
    assert sample.main([ckpt, "--n", "4", "--npy", "s", "--overwrite"]) == 0
    assert pathlib.Path("grid.png").read_bytes()[:8] == PNG and pathlib.Path("grid.png").read_bytes() != mine
    assert np.load("s.npy").shape == (4, 1, 28, 28)
    assert sorted(os.listdir()) == ["grid.png", "s.npy"]              # no temporary file left, no new.png


def test_the_npy_line_names_the_file_numpy_writes(checkpoints, tmp_path, capsys):
    assert sample.main([str(checkpoints["mlp"]), "--n", "4", "--out", str(tmp_path / "g.png"),
                        "--npy", str(tmp_path / "foo")]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {tmp_path / 'g.png'}, {tmp_path / 'foo.npy'} (4, 1, 28, 28) from")
    assert sorted(os.listdir(tmp_path)) == ["foo.npy", "g.png"]


def test_the_picture_is_written_in_the_format_its_suffix_names(checkpoints, tmp_path, capsys):
    magic = {"g.pdf": b"%PDF", "g.jpg": b"\xff\xd8\xff", "g.gif": b"GIF8", "t.svg": b"<?xml", "t.pdf": b"%PDF",
             "t.jpg": b"\xff\xd8\xff", "t.eps": b"%!PS"}
    for name, head in magic.items():
        ckpt = checkpoints["toy" if name.startswith("t") else "mlp"]
        assert sample.main([str(ckpt), "--n", "8", "--out", str(tmp_path / name)]) == 0
        assert (tmp_path / name).read_bytes().startswith(head), name
    assert b"<svg" in (tmp_path / "t.svg").read_bytes()


@pytest.mark.parametrize("arch,name,line", [
    ("mlp", "README.md", "--out {path}: a grid of images cannot be written as a .md file; name a .png, .jpg, .jpeg, "
                         ".gif, .bmp, .tif, .tiff or .pdf file"),
    ("mlp", "o.svg", "--out {path}: a grid of images cannot be written as a .svg file; name a .png, .jpg, .jpeg, "
                     ".gif, .bmp, .tif, .tiff or .pdf file"),
    ("mlp", "grid", "--out {path}: a grid of images cannot be written as a file without a suffix; name a .png, "
                    ".jpg, .jpeg, .gif, .bmp, .tif, .tiff or .pdf file"),
    ("toy", "t.gif", "--out {path}: a plot cannot be written as a .gif file; name a .png, .jpg, .jpeg, .tif, .tiff, "
                     ".pdf, .svg, .eps or .ps file"),
])
def test_a_suffix_that_names_no_picture_format_is_refused(checkpoints, tmp_path, no_drawing, capsys, arch, name,
                                                          line):
    path = tmp_path / name
    if name == "README.md":
        path.write_text("# my project\n")
    assert sample.main([str(checkpoints[arch]), "--out", str(path), "--overwrite"]) == 2
    assert capsys.readouterr().err == f"python -m tinygan.sample: error: {line.format(path=path)}\n"
    assert sorted(os.listdir(tmp_path)) == (["README.md"] if name == "README.md" else [])
    if name == "README.md":
        assert path.read_text() == "# my project\n"


def test_an_output_folder_that_cannot_be_written_is_one_line_before_drawing(checkpoints, tmp_path, monkeypatch,
                                                                           no_drawing, capsys):
    from read_only import make_read_only
    mine = tmp_path / "notes.txt"
    mine.write_text("mine")
    locked = tmp_path / "locked"
    locked.mkdir()
    make_read_only(monkeypatch, locked)
    for argv, line in ((["--out", str(mine / "g.png")], f"--out {mine / 'g.png'}: its folder {mine} is a file, "
                                                        f"not a folder"),
                       (["--out", str(tmp_path)], f"--out {tmp_path} is a folder: name a file, such as "
                                                  f"{tmp_path / 'grid.png'}"),
                       (["--out", str(tmp_path / "g.png"), "--npy", str(locked / "s")],
                        f"--npy {locked / 's.npy'}: its folder {locked} cannot be written: Read-only file system"),
                       (["--out", str(locked / "new" / "g.png")],
                        f"--out {locked / 'new' / 'g.png'}: its folder {locked / 'new'} cannot be created: "
                        f"Read-only file system")):
        assert sample.main([str(checkpoints["mlp"]), *argv]) == 2
        assert capsys.readouterr().err == f"python -m tinygan.sample: error: {line}\n"
    assert sorted(os.listdir(tmp_path)) == ["locked", "notes.txt"] and os.listdir(locked) == []


def test_the_npy_is_written_atomically(checkpoints, tmp_path, monkeypatch, capsys):
    raw = tmp_path / "s.npy"
    np.save(raw, np.arange(3))

    def save_half_then_fill_the_disk(file, array, *args, **kwargs):
        with open(file, "wb") as f:
            f.write(b"\x93NUMPY half an array")
        raise OSError(28, "No space left on device", str(file))
    monkeypatch.setattr(np, "save", save_half_then_fill_the_disk)
    assert sample.main([str(checkpoints["mlp"]), "--out", str(tmp_path / "g.png"), "--npy", str(raw),
                        "--overwrite"]) == 1
    assert capsys.readouterr().err.startswith("python -m tinygan.sample: error: [Errno 28] No space left on device")
    monkeypatch.undo()
    assert np.load(raw).tolist() == [0, 1, 2]                           # the old file, whole
    assert sorted(os.listdir(tmp_path)) == ["g.png", "s.npy"]           # no temporary file left

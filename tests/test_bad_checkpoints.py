"""Every command that reads a checkpoint (or a .npy of samples) reports a bad file in one line that names the
file and what is wrong with it, and never passes on NumPy's advice to load it "unsafely" with allow_pickle.

The loaders: tinygan.load, the examples' --resume (checkpoint.load_checkpoint), python -m tinygan.sample and
python -m tinygan.evaluate (a checkpoint, or a .npy of samples)."""
import json

import numpy as np
import pytest

import tinygan
from tinygan.app import cli, evaluate, sample

UNSAFE_ADVICE = ("allow_pickle", "pickle.load", "trust", "unsafe", "Traceback")


def _truncated(path):
    tinygan.save({"w": np.ones((40, 40), np.float32)}, path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _random(path):
    path.write_bytes(np.random.default_rng(0).bytes(2000))   # np.load: "If you trust the file ... allow_pickle="


def _foreign(path):
    np.savez(path, weights=np.ones(3))


def _pickled(path):
    np.savez(path, x=np.array([{"a": 1}], dtype=object))


def _pickled_with_manifest(path):
    root = {"type": "dict", "items": [["w", {"type": "array", "entry": "w"}]]}
    np.savez(path, manifest=np.array(json.dumps({"format": "tinygan-checkpoint", "version": 1, "root": root})),
             w=np.array([{"a": 1}], dtype=object))


def _empty(path):
    path.write_bytes(b"")


BAD_CHECKPOINTS = {
    "truncated": (_truncated, "is truncated or corrupt"),
    "random": (_random, "is not a tinygan checkpoint: it is not an .npz (zip) archive"),
    "foreign": (_foreign, "is not a tinygan checkpoint: an .npz archive without a 'manifest' entry"),
    "pickled": (_pickled, "is not a tinygan checkpoint: an .npz archive without a 'manifest' entry"),
    "pickled-with-manifest": (_pickled_with_manifest, "is not a tinygan checkpoint: its entry 'w' holds Python objects"),
    "empty": (_empty, "is empty"),
}


def _run_resume(path, tmp_path):
    return cli.main(["--resume", str(path), "--out", str(tmp_path / "out")], arch="mlp")


def _run_sample(path, tmp_path):
    return sample.main([str(path), "--out", str(tmp_path / "grid.png")])


def _run_evaluate(path, tmp_path):
    return evaluate.main([str(path)])


LOADERS = {"--resume": (_run_resume, "mnist_mlp_gan.py: error: "),
           "tinygan.sample": (_run_sample, "python -m tinygan.sample: error: "),
           "tinygan.evaluate": (_run_evaluate, "python -m tinygan.evaluate: error: ")}


def assert_one_clear_line(text, path, problem):
    assert text.endswith("\n") and text.count("\n") == 1, text
    assert str(path) in text and problem in text, text
    assert not any(word in text for word in UNSAFE_ADVICE), text


@pytest.mark.parametrize("kind", BAD_CHECKPOINTS)
def test_tinygan_load(kind, tmp_path):
    make, problem = BAD_CHECKPOINTS[kind]
    path = tmp_path / f"{kind}.npz"
    make(path)
    with pytest.raises(tinygan.CheckpointError) as info:
        tinygan.load(path)
    assert_one_clear_line(str(info.value) + "\n", path, problem)


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("kind", BAD_CHECKPOINTS)
def test_commands(loader, kind, tmp_path, capsys):
    make, problem = BAD_CHECKPOINTS[kind]
    path = tmp_path / f"{kind}.npz"
    make(path)
    run, prefix = LOADERS[loader]
    assert run(path, tmp_path) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(prefix + f"{path} {problem}"), err   # the path once, then what is wrong with it
    assert_one_clear_line(err, path, problem)
    assert not (tmp_path / "out").exists() and not (tmp_path / "grid.png").exists()


def _npy_truncated(path):
    np.save(path, np.zeros((20, 784), np.float32))
    path.write_bytes(path.read_bytes()[:3000])


def _npy_objects(path):
    np.save(path, np.array([{"a": 1}] * 20, dtype=object), allow_pickle=True)


BAD_SAMPLES = {
    "random": (_random, "is not a .npy file: it does not start with NumPy's .npy header"),
    "truncated": (_npy_truncated, "is truncated or corrupt: it is cut short"),
    "header-cut": (lambda p: (np.save(p, np.zeros(3)), p.write_bytes(p.read_bytes()[:40])),
                   "is truncated or corrupt: it has a truncated or damaged .npy header"),
    "objects": (_npy_objects, "is not an array of images: it holds Python objects"),
    "empty": (_empty, "is empty"),
}


@pytest.mark.parametrize("kind", BAD_SAMPLES)
def test_evaluate_bad_sample_files(kind, tmp_path, capsys):
    make, problem = BAD_SAMPLES[kind]
    path = tmp_path / f"{kind}.npy"
    make(path)
    assert evaluate.main([str(path), "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"python -m tinygan.evaluate: error: {path} {problem}"), err
    assert_one_clear_line(err, path, problem)

"""The LeNet judge of generated digits: the shipped weights and their hash, its accuracy on the 2,000 test images
it never saw, what features/probs/predict return, and a smoke run of examples/mnist_classifier.py."""
import csv
import pathlib
import shutil

import numpy as np
import pytest

import tinygan
from tinygan.app import judge as judge_module
from tinygan.app.data import load_mnist
from tinygan.app.judge import JudgeWeightsError, load_judge

from conftest import run_script

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "mnist_classifier.py"


@pytest.fixture(scope="module")
def judge():
    return load_judge("cpu")


@pytest.fixture(scope="module")
def heldout():
    """The last 2,000 MNIST test images in [-1, 1] (the judge never trained on them) and their labels."""
    from conftest import SHARED_MNIST
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"shared MNIST files not found in {SHARED_MNIST}")
    images, labels = load_mnist(SHARED_MNIST, split="test", download=False)
    return images[-2000:].astype(np.float32) / 127.5 - 1, labels[-2000:]


# ==================================================================================================
# The shipped weights
# ==================================================================================================
def test_the_shipped_weights_are_small_and_match_their_recorded_hash(judge):
    path = judge_module.WEIGHTS
    assert path.is_file() and path.stat().st_size < 400_000
    assert judge_module.sha256sum(path) == judge_module.WEIGHTS_SHA256
    assert judge_module.WEIGHTS_SHA256 in (path.parent / "README.md").read_text()
    assert judge_module.WEIGHTS_SHA256 in pathlib.Path(judge_module.__file__).read_text()   # recorded in judge.py
    assert not judge.model.training and repr(judge).startswith("Judge(LeNet-5")


def test_an_altered_weights_file_is_refused_naming_the_file_and_both_hashes(tmp_path, monkeypatch):
    bad = tmp_path / "lenet_mnist.npz"
    shutil.copy(judge_module.WEIGHTS, bad)
    raw = bytearray(bad.read_bytes())
    raw[len(raw) // 2] ^= 0xFF                                   # one byte inside a weight array
    bad.write_bytes(bytes(raw))
    monkeypatch.setattr(judge_module, "WEIGHTS", bad)
    with pytest.raises(JudgeWeightsError) as info:
        load_judge()
    message = str(info.value)
    assert str(bad) in message and judge_module.WEIGHTS_SHA256 in message
    assert judge_module.sha256sum(bad) in message


def test_a_missing_or_foreign_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(JudgeWeightsError, match="not found"):
        load_judge(path=tmp_path / "nothing.npz")
    tinygan.save({"format": "something-else"}, tmp_path / "other.npz")
    with pytest.raises(JudgeWeightsError, match="not a LeNet checkpoint"):
        load_judge(path=tmp_path / "other.npz")


# ==================================================================================================
# What the judge says
# ==================================================================================================
def test_the_judge_classifies_the_held_out_test_images(judge, heldout):
    images, labels = heldout
    accuracy = float((judge.predict(images) == labels).mean())
    assert accuracy >= 0.975
    assert accuracy == pytest.approx(judge_module.HOLDOUT_ACCURACY, abs=1e-3)   # the number recorded in judge.py


def test_features_probs_and_predict_shapes_and_inputs(judge, heldout):
    x = heldout[0][:50]
    features, probs, digits = judge.features(x), judge.probs(x), judge.predict(x)
    assert features.shape == (50, 84) and features.dtype == np.float64 and (features >= 0).all()  # after ReLU
    assert probs.shape == (50, 10) and probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert digits.shape == (50,) and digits.dtype == np.int64
    np.testing.assert_array_equal(digits, probs.argmax(axis=1))
    flat = x.reshape(50, 784)                                    # (N, 784) and Tensors are accepted too
    # exact: the same images in the same batches through the same layers (only batch_size changes the GEMMs)
    np.testing.assert_array_equal(judge.features(flat), features)
    np.testing.assert_array_equal(judge.probs(tinygan.tensor(flat)), probs)
    small = judge_module.Judge(judge.model, batch_size=7)        # batching does not change the answer
    np.testing.assert_allclose(small.features(x), features, rtol=1e-5, atol=1e-5)
    both = judge.features_and_probs(x)                          # one pass gives the same numbers
    np.testing.assert_array_equal(both[0], features)             # exact: the same layers on the same batches
    np.testing.assert_array_equal(both[1], probs)
    assert judge.features(x[:0]).shape == (0, 84) and judge.features_and_probs(x[:0])[1].shape == (0, 10)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\) or \(N, 784\)"):
        judge.probs(np.zeros((3, 28, 28)))


def test_the_judge_on_each_device_agrees_with_the_cpu(device, judge, heldout):
    x = heldout[0][:8]
    on_device = load_judge(device)
    from tinygan import backend
    np.testing.assert_allclose(on_device.features(backend.to_device(x, device)), judge.features(x),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(on_device.probs(x), judge.probs(x), rtol=1e-4, atol=1e-5)


# ==================================================================================================
# examples/mnist_classifier.py
# ==================================================================================================
def run_example(argv):
    code = run_script(EXAMPLE, argv)
    assert code is not None, "the example did not exit through sys.exit(main())"
    return code


def test_the_example_trains_writes_its_outputs_and_refuses_to_overwrite(mnist_dir, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--data-dir", mnist_dir, "--split", "test", "--holdout", 100, "--epochs", 1, "--limit-batches", 3,
            "--batch-size", 32, "--no-download", "--quiet", "--out", out]
    assert run_example(argv) == 0
    assert "accuracy" in capsys.readouterr().out
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "train_loss", "train_acc", "holdout_acc"] and len(rows) == 1
    trained = load_judge(path=out / "lenet.npz")                 # the file the judge's weights are copied from
    assert trained.predict(np.zeros((2, 784), np.float32)).shape == (2,)
    assert tinygan.load(out / "lenet.npz")["holdout_accuracy"] == float(rows[0]["holdout_acc"])

    before = (out / "lenet.npz").read_bytes()
    message = run_example(argv)
    assert isinstance(message, str) and "--overwrite" in message and "\n" not in message
    assert (out / "lenet.npz").read_bytes() == before
    assert run_example(argv + ["--overwrite"]) == 0


@pytest.mark.parametrize("extra,expected", [(["--holdout", "10000"], "--holdout 10000"),
                                            (["--holdout", "0"], "--holdout 0")])
def test_the_example_reports_bad_arguments_in_one_line(mnist_dir, tmp_path, extra, expected):
    message = run_example(["--data-dir", mnist_dir, "--split", "test", "--out", tmp_path / "run", *extra])
    assert isinstance(message, str) and expected in message and "\n" not in message
    assert not (tmp_path / "run" / "lenet.npz").exists()


def test_the_example_reports_missing_data_in_one_line(tmp_path):
    message = run_example(["--data-dir", tmp_path, "--split", "test", "--no-download", "--out", tmp_path / "run"])
    assert isinstance(message, str) and "not found" in message and "\n" not in message

"""python -m tinygan.evaluate: real images score at the floor, noise and one-digit generators do not, checkpoints
are drawn from, --json parses, and every bad input is one line.

Most tests use a stand-in judge (nearest class mean of the real images: quick and good enough to tell digits
apart); the ones marked "real judge" use tinygan/app/judge.py's LeNet and its shipped weights."""
import json
import pathlib
import signal
import subprocess
import sys

import numpy as np
import pytest

from tinygan.app import data, evaluate
from tinygan.vision import idx

from conftest import SHARED_MNIST

ROOT = pathlib.Path(__file__).resolve().parents[1]


class CentroidJudge:
    """A stand-in for the LeNet judge with its API: p(y|x) from the distances to the 10 class means of real
    images, features = those distances and a fixed random projection (84 in all)."""

    def __init__(self, images, labels, temperature=4.0):
        x = self._flat(evaluate.to_unit_range(images))
        self.means = np.stack([x[labels == c].mean(0) for c in range(10)])           # (10, 784)
        self.projection = np.random.default_rng(5).standard_normal((784, 74)) / 28.0
        self.temperature = temperature

    @staticmethod
    def _flat(images):
        x = np.asarray(getattr(images, "data", images), dtype=np.float64)
        return x.reshape(len(x), 784)

    def _distances(self, x):
        return np.sqrt(((x[:, None, :] - self.means[None]) ** 2).sum(-1))              # (N, 10)

    def features(self, images):
        x = self._flat(images)
        return np.concatenate([self._distances(x), np.tanh(x @ self.projection)], axis=1)

    def probs(self, images):
        logits = -self._distances(self._flat(images)) / self.temperature
        e = np.exp(logits - logits.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def features_and_probs(self, images):
        return self.features(images), self.probs(images)

    def predict(self, images):
        return self.probs(images).argmax(1)


@pytest.fixture(scope="module")
def mnist():
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"shared MNIST files not found in {SHARED_MNIST}")
    return data.load_mnist(SHARED_MNIST, split="test", download=False)


@pytest.fixture(scope="module")
def judge(mnist):
    return CentroidJudge(*mnist)


def real_judge():
    try:
        from tinygan.app.judge import load_judge
    except ImportError:
        pytest.skip("tinygan/app/judge.py has not landed yet")
    return load_judge(device="cpu")


@pytest.fixture(scope="module")
def npys(mnist, tmp_path_factory):
    """.npy files: 1,000 real test images, 1,000 noise images, the real images of digit 1."""
    images, labels = mnist
    root = tmp_path_factory.mktemp("npys")
    unit = evaluate.to_unit_range(images)
    order = np.random.default_rng(3).permutation(len(images))[:1000]
    paths = {"real": root / "real.npy", "noise": root / "noise.npy", "ones": root / "ones.npy",
             "flat": root / "flat.npy"}
    np.save(paths["real"], unit[order])
    np.save(paths["flat"], unit[order].reshape(-1, 784))
    np.save(paths["noise"], np.random.default_rng(4).uniform(-1, 1, (1000, 1, 28, 28)).astype(np.float32))
    np.save(paths["ones"], unit[labels == 1][:500])
    return paths


def report(args, judge, capsys):
    assert evaluate.main([str(a) for a in args] + ["--data-dir", str(SHARED_MNIST), "--no-download", "--json"],
                         judge=judge) == 0
    return json.loads(capsys.readouterr().out)


def check_real_near_floor_and_noise_far(judge, npys, capsys):
    real = report([npys["real"]], judge, capsys)
    noise = report([npys["noise"]], judge, capsys)
    g, f = real["generated"], real["real_floor"]
    assert real["n"] == f["n"] == 1000 and real["k"] == 3 and real["splits"] == 10 and real["split"] == "test"
    assert real["real_n"] == 5000 and real["checkpoint"] is None and real["epoch"] is None
    assert g["fld"] < 3 * f["fld"] + 1e-3 * noise["generated"]["fld"]
    assert abs(g["classifier_score"] - f["classifier_score"]) < 0.15 * f["classifier_score"]
    assert g["digits"] == f["digits"] == 10 and g["kl_to_real"] < 0.05
    assert abs(g["precision"] - f["precision"]) < 0.05 and abs(g["recall"] - f["recall"]) < 0.05
    n = noise["generated"]
    assert n["fld"] > 20 * max(g["fld"], f["fld"])
    # precision drops less than recall: the LeNet maps noise to one tight cluster, and a few outlying real
    # images have k-NN balls wide enough to hold much of it; recall (and FLD) see it at once
    assert n["precision"] < g["precision"] and n["recall"] < 0.5 * g["recall"]
    assert n["classifier_score"] < g["classifier_score"] and n["kl_to_real"] > g["kl_to_real"]
    return real, noise


def test_real_images_score_at_the_floor_and_noise_far_worse(judge, npys, capsys):
    check_real_near_floor_and_noise_far(judge, npys, capsys)


def test_flat_images_score_as_the_same_images(judge, npys, capsys):
    a, b = report([npys["real"]], judge, capsys), report([npys["flat"]], judge, capsys)
    assert a["generated"] == b["generated"]


def test_a_one_digit_generator_covers_one_digit_with_a_low_score(judge, npys, capsys):
    r = report([npys["ones"]], judge, capsys)["generated"]
    assert r["digits"] == 1 and r["histogram"][1] > 0.95
    assert r["classifier_score"] < 1.5 and r["kl_to_real"] > 1.5     # log(1 / 0.1135) = 2.18 when all are 1s


def test_the_table_puts_the_floor_beside_each_number(judge, npys, capsys):
    assert evaluate.main([str(npys["real"]), "--data-dir", str(SHARED_MNIST), "--no-download"], judge=judge) == 0
    out = capsys.readouterr().out
    assert "1,000 samples vs 5,000 real MNIST test images" in out and "real floor" in out
    for label, _, _ in evaluate.ROWS:
        line = next(line for line in out.splitlines() if line.strip().startswith(label))
        assert len(line[2 + 28:].split()) in (2, 6)                 # two numbers (or two "a +- b")


@pytest.mark.parametrize("name", ["mlp", "cmlp"])
def test_checkpoints_draw_n_samples(checkpoints, judge, name, capsys):
    r = report([checkpoints[name], "--n", 200], judge, capsys)
    assert r["n"] == 200 and r["epoch"] == 1 and r["checkpoint"] == str(checkpoints[name])
    assert r["conditional"] == (name == "cmlp")
    assert r["generated"]["fld"] > r["real_floor"]["fld"]               # one step of training is not a GAN


def test_same_seed_same_numbers(checkpoints, judge, capsys):
    a = report([checkpoints["mlp"], "--n", 100], judge, capsys)
    b = report([checkpoints["mlp"], "--n", 100], judge, capsys)
    c = report([checkpoints["mlp"], "--n", 100, "--seed", 1], judge, capsys)
    assert a == b and a["generated"]["fld"] != c["generated"]["fld"]


def test_toy_checkpoints_get_the_mode_metrics(checkpoints, capsys):
    assert evaluate.main([str(checkpoints["toy"]), "--json"], judge=object()) == 0      # no judge needed
    r = json.loads(capsys.readouterr().out)
    assert r["n"] == 2500 and r["num_modes"] == 8 and 0 <= r["modes"] <= 8 and r["toy"] == "ring"
    assert evaluate.main([str(checkpoints["toy"]), "--n", "100"]) == 0
    assert "modes captured" in capsys.readouterr().out


def one_line_error(capsys, argv, code, judge, *needles):
    assert evaluate.main([str(a) for a in argv], judge=judge) == code
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == "" and "\n" not in err and err.startswith("python -m tinygan.evaluate: error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def test_errors_are_one_line(tmp_path, checkpoints, npys, judge, capsys):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((20, 28, 28)))
    one_line_error(capsys, [bad], 1, judge, "shape (20, 28, 28)", "(N, 1, 28, 28) or (N, 784)")
    np.save(bad, np.full((20, 784), 255.0))
    one_line_error(capsys, [bad], 1, judge, "[255, 255]", "x / 127.5 - 1")
    np.save(bad, np.full((20, 784), np.nan))
    one_line_error(capsys, [bad], 1, judge, "NaN")
    np.save(bad, np.zeros((5, 784)))
    one_line_error(capsys, [bad], 2, judge, "at least 10")
    np.save(bad, np.zeros((50, 2)))
    one_line_error(capsys, [bad], 1, judge, "2-D points", "toy")
    bad.write_bytes(b"not numpy")
    one_line_error(capsys, [bad], 1, judge, "bad.npy is not a .npy file")
    one_line_error(capsys, [tmp_path / "missing.npy"], 1, judge, "no such file")
    one_line_error(capsys, [tmp_path / "missing.npz"], 1, judge, "no such checkpoint")
    one_line_error(capsys, [npys["real"], "--n", 100], 2, judge, "a .npy is used whole")
    one_line_error(capsys, [checkpoints["mlp"], "--n", 3], 2, judge, "--n must be at least 10")
    one_line_error(capsys, [checkpoints["mlp"], "--n", "many"], 2, judge, "invalid int value")
    one_line_error(capsys, [checkpoints["mlp"], "--split", "val"], 2, judge, "--split")
    one_line_error(capsys, [checkpoints["mlp"], "--data-dir", tmp_path / "nowhere"], 2, judge, "not a folder")
    one_line_error(capsys, [checkpoints["mlp"], "--data-dir", tmp_path, "--no-download", "--n", 20], 1, judge,
                   "not found", "--data-dir")
    one_line_error(capsys, [checkpoints["mlp"], "--split", "train", "--data-dir", SHARED_MNIST, "--no-download",
                            "--n", 20], 1, judge, "--split test compares with it")


def test_a_fashion_checkpoint_is_refused(checkpoints, judge, tmp_path, capsys):
    import tinygan
    ckpt = tinygan.load(checkpoints["mlp"])
    ckpt["config"]["dataset"] = "fashion-mnist"
    tinygan.save(ckpt, tmp_path / "fashion.npz")
    one_line_error(capsys, [tmp_path / "fashion.npz"], 1, judge, "fashion-mnist", "MNIST digit classifier")


def test_a_missing_judge_is_one_line(npys, monkeypatch, capsys):
    def missing(device="cpu"):
        raise evaluate.CLIError("the digit classifier tinygan/app/judge.py is not available: no module")
    monkeypatch.setattr(evaluate, "get_judge", missing)
    one_line_error(capsys, [npys["real"], "--data-dir", SHARED_MNIST], 1, None, "not available")


def test_the_launcher(npys):
    done = subprocess.run([sys.executable, "-m", "tinygan.evaluate", "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "--json" in done.stdout and "floor" in done.stdout
    done = subprocess.run([sys.executable, "-m", "tinygan.evaluate", str(npys["real"]), "--n", "5"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and done.stdout == "" and len(done.stderr.strip().splitlines()) == 1


# ==================================================================================================
# With the real judge (tinygan/app/judge.py)
# ==================================================================================================
def test_real_judge_real_images_at_the_floor_and_noise_far_worse(npys, capsys):
    real, noise = check_real_near_floor_and_noise_far(real_judge(), npys, capsys)
    f = real["real_floor"]
    assert f["classifier_score"] > 8.5 and f["confidence"] > 0.9 and f["kl_to_real"] < 0.01
    assert noise["generated"]["digits"] <= 10 and noise["generated"]["fld"] > 100 * f["fld"]


def test_real_judge_one_digit_generator(npys, capsys):
    r = report([npys["ones"]], real_judge(), capsys)["generated"]
    assert r["digits"] == 1 and r["histogram"][1] > 0.99 and r["classifier_score"] < 1.2


def test_real_judge_through_the_launcher(npys):
    real_judge()
    done = subprocess.run([sys.executable, "-m", "tinygan.evaluate", str(npys["ones"]), "--data-dir",
                           str(SHARED_MNIST), "--no-download", "--json"], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["generated"]["digits"] == 1


# ==================================================================================================
# Ctrl-C, and the real images without --data-dir
# ==================================================================================================
def test_ctrl_c_is_one_line_and_exit_130(npys, monkeypatch, capsys):
    def interrupted(args, config=None):
        raise KeyboardInterrupt
    monkeypatch.setattr(evaluate, "load_real", interrupted)
    assert evaluate.main([str(npys["real"]), "--json"]) == 130
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == (
        f"python -m tinygan.evaluate: interrupted while scoring {npys['real']}; no scores were printed (they come at "
        f"the end); evaluate writes no files\n")


def test_a_real_ctrl_c(npys, tmp_path):
    """SIGINT to the process, as Ctrl-C in a terminal sends it, while it loads the real images."""
    driver = ("import sys, time\nfrom tinygan.app import evaluate\n"
              "def slow(args, config=None):\n    print('ready', file=sys.stderr, flush=True)\n    time.sleep(60)\n"
              "evaluate.load_real = slow\nsys.exit(evaluate.main())\n")
    process = subprocess.Popen([sys.executable, "-c", driver, str(npys["real"]), "--json"], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert process.stderr.readline() == "ready\n"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130 and out == ""
    assert err.startswith("python -m tinygan.evaluate: interrupted while scoring") and err.count("\n") == 1


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty download cache (~/.cache/tinygan/mnist, here under $XDG_CACHE_HOME), no $TINYGAN_DATA, and
    download mirrors that refuse at once (offline)."""
    monkeypatch.delenv("TINYGAN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = data.default_data_dir("mnist")
    return folder


def _dead_mirrors(monkeypatch, dead_mirror):
    monkeypatch.setattr(idx, "MIRRORS", {"mnist": [dead_mirror], "fashion-mnist": [dead_mirror]})


def test_without_data_dir_the_examples_cache_is_used(cache, judge, npys, capsys):
    cache.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (cache / name).write_bytes((SHARED_MNIST / name).read_bytes())
    assert evaluate.main([str(npys["real"]), "--json"], judge=judge) == 0      # README: samples.npy --json
    captured = capsys.readouterr()
    assert json.loads(captured.out)["split"] == "test" and captured.err == ""


def test_a_cache_holding_only_the_train_split_is_used(cache, judge, npys, capsys):
    # the examples download the train split by default: evaluating a .npy afterwards compares with it, offline
    import gzip
    cache.mkdir(parents=True)
    for test_name, train_name in (("t10k-images-idx3-ubyte.gz", "train-images-idx3-ubyte"),
                                  ("t10k-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte")):
        (cache / train_name).write_bytes(gzip.decompress((SHARED_MNIST / test_name).read_bytes()))
    assert evaluate.main([str(npys["real"]), "--json"], judge=judge) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["split"] == "train"
    assert captured.err == (f"python -m tinygan.evaluate: no MNIST test split in {cache}: comparing with its train "
                            f"split (--data-dir DIR --split test for the test split)\n")
    one_line_error(capsys, [npys["real"], "--split", "test", "--no-download"], 1, judge,
                   "the train split is there: --split train compares with it")


def test_no_data_anywhere_says_to_pass_data_dir(cache, judge, npys, capsys, monkeypatch, dead_mirror):
    _dead_mirrors(monkeypatch, dead_mirror)
    one_line_error(capsys, [npys["real"], "--json", "--no-download"], 1, judge,
                   f"not found: t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (in {cache})",
                   "pass --data-dir DIR")
    assert evaluate.main([str(npys["real"]), "--json"], judge=judge) == 1      # offline: the download fails
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert captured.out == "" and lines[-1].startswith("python -m tinygan.evaluate: error: mnist test split")
    assert "downloading failed; pass --data-dir DIR" in lines[-1]
    assert all(line.startswith("tinygan: ") for line in lines[:-1]) and len(lines) == 3   # one file tried

"""Score a GAN's samples with the digit classifier: ``python -m tinygan.evaluate SAMPLES.npy|CHECKPOINT``.

    python -m tinygan.evaluate runs/mlp/checkpoint.npz                    # 10,000 samples vs the MNIST test split
    python -m tinygan.evaluate samples.npy --json                         # (N, 1, 28, 28) or (N, 784) in [-1, 1]
    python -m tinygan.evaluate runs/toy/checkpoint.npz                    # the toy GAN: modes, quality, reverse KL

The numbers (tinygan/app/metrics.py) on the features and class probabilities of the judge, a LeNet digit
classifier (tinygan/app/judge.py):

    FLD                  Frechet distance of the judge's 84-d features, generated vs real (lower is better)
    classifier score     the Inception Score with the judge: mean and std over 10 splits (at most 10)
    digit coverage       digits drawn by >= 1% of the samples, KL(generated || real) of the digit histograms,
                         the judge's mean confidence
    precision, recall    improved precision and recall with k = 3 nearest neighbours, on the judge's features

A checkpoint of a run trained with --ema is scored through its moving average G_ema (``--no-ema``: the raw G).

Every number comes with its real-data floor: the split's images are cut (seeded) into two held-out halves,
A and B, of at most 10,000 images each. Generated samples are compared with half A; the floor is half B
(up to --n of its images) compared with half A the same way, so a perfect generator scores about the floor.
"""
import json
import math
import os
import pathlib
import sys

import numpy as np

from tinygan.app import metrics, toy
from tinygan.app.checkpoint import generator_of, load_checkpoint
from tinygan.app.cli import run_command
from tinygan.app.errors import CLIError, OneLineParser
from tinygan.app.factories import resolve_device
from tinygan.core import array_backend as backend
from tinygan.core import Tensor, array_of, no_grad
from tinygan.serialization import NpyError, read_npy

K = 3                       # nearest neighbours of precision and recall
SPLITS = 10                 # parts of the classifier score
DEFAULT_N = 10_000
MAX_HALF = 10_000           # real images per held-out half at most (the train split's halves would be 30,000)
CHUNK = 1_000               # images per pass through G or the judge


# ==================================================================================================
# The judge and the real data
# ==================================================================================================
def get_judge(device="cpu"):
    """The digit classifier (tinygan/app/judge.py) with its shipped weights; CLIError when it cannot load."""
    try:
        from tinygan.app.judge import load_judge
    except ImportError as exc:
        raise CLIError(f"the digit classifier tinygan/app/judge.py is not available: {exc}") from None
    try:
        return load_judge(device=device)
    except (OSError, KeyError, ValueError, RuntimeError) as exc:
        raise CLIError(f"cannot load the digit classifier's weights: {' '.join(str(exc).split())}") from None


def _host(x):
    """A NumPy float64 array from an array or a Tensor, on the host."""
    x = array_of(x)
    return np.asarray(backend.asnumpy(x), dtype=np.float64)


def judge_outputs(judge, images, chunk=CHUNK):
    """(features (N, 84), probabilities (N, 10)) of images in [-1, 1], ``chunk`` images at a time."""
    features, probs = [], []
    for start in range(0, len(images), chunk):
        f, p = judge.features_and_probs(images[start:start + chunk])     # one pass of the network
        features.append(_host(f))
        probs.append(_host(p))
    return np.concatenate(features), np.concatenate(probs)


def to_unit_range(images):
    """uint8 images 0..255 -> float32 in [-1, 1] (as the examples train on them); float images unchanged."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 127.5 - 1.0
    return images.astype(np.float32, copy=False)


class Reference:
    """The real split cut into two held-out halves: A, which samples are compared with (scored once by the
    judge), and B, the real images that give the floor. ``max_half`` caps each half; ``seed`` the cut."""

    def __init__(self, judge, images, labels, seed=0, max_half=MAX_HALF, name="real"):
        order = np.random.default_rng([seed, 7]).permutation(len(images))
        half = min(len(images) // 2, max_half)
        if half <= K:
            raise ValueError(f"{name} has {len(images)} images: too few to cut into two halves of more than {K}")
        a, b = order[:half], order[half:2 * half]
        self.judge, self.name, self.size = judge, name, half
        self.features, self.probs = judge_outputs(judge, to_unit_range(images[a]))
        self.histogram = metrics.class_histogram(np.asarray(labels))          # the whole split's digits
        self.held_out = to_unit_range(images[b])

    def score(self, images=None, features=None, probs=None, k=K, splits=SPLITS):
        """The metrics of images (or of their judge outputs) against half A."""
        if features is None:
            features, probs = judge_outputs(self.judge, images)
        return score(features, probs, self, k, splits)

    def floor(self, n=None, k=K, splits=SPLITS):
        """The metrics of up to ``n`` real images of half B against half A: what a perfect generator scores."""
        return self.score(self.held_out[:n], k=k, splits=splits)


def score(features, probs, reference, k=K, splits=SPLITS):
    """FLD, classifier score, digit coverage, precision and recall of one set of judge outputs."""
    cs, cs_std = metrics.classifier_score(probs, splits)
    coverage = metrics.digit_coverage(probs, reference.histogram)
    # On the judge's raw features uniform noise scored precision 0.77 against 0.79 for real digits (noise maps
    # to short feature vectors, inside the wide k-NN balls of a few ambiguous digits); compared by direction
    # (rows scaled to length 1) noise scores 0.18 and real digits 0.72 (2,000 vs 2,000 test images, k = 3).
    precision, recall = metrics.precision_recall(metrics.unit_rows(reference.features), metrics.unit_rows(features), k)
    return {"n": len(features), "fld": metrics.frechet_distance_of(features, reference.features),
            "classifier_score": cs, "classifier_score_std": cs_std, "digits": coverage["digits"],
            "kl_to_real": coverage["kl_to_real"], "confidence": coverage["confidence"],
            "histogram": [float(h) for h in coverage["histogram"]], "precision": precision, "recall": recall}


def check_count(n, what="--n"):
    """Enough samples for every metric: the classifier score's splits and k + 1 neighbours."""
    least = max(SPLITS, K + 1)
    if n < least:
        raise CLIError(f"{what} must be at least {least} (the classifier score's {SPLITS} splits), got {n}", 2)


# ==================================================================================================
# Samples: from a .npy or drawn from a checkpoint
# ==================================================================================================
def load_samples(path):
    """(N, 1, 28, 28) float32 images in [-1, 1] from a .npy; CLIError naming what is wrong otherwise."""
    try:
        with open(path, "rb") as f:
            if not f.read(1):
                raise CLIError(f"{path} is empty (0 bytes), not a .npy array of images")
            f.seek(0)
            x = read_npy(f)          # never unpickles; np.load's errors advise loading "unsafely"
    except NpyError as exc:
        what = {"not npy": "is not a .npy file", "objects": "is not an array of images"}.get(
            exc.kind, "is truncated or corrupt")
        raise CLIError(f"{path} {what}: it {exc}") from None
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from None
    if x.ndim == 2 and x.shape[1] == 2:
        raise CLIError(f"{path} holds 2-D points {x.shape}: evaluate the toy GAN's checkpoint instead "
                       f"(its modes are in the checkpoint)")
    if not ((x.ndim == 4 and x.shape[1:] == (1, 28, 28)) or (x.ndim == 2 and x.shape[1] == 784)):
        raise CLIError(f"{path} holds an array of shape {x.shape}; expected (N, 1, 28, 28) or (N, 784) images")
    if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        raise CLIError(f"{path} holds {x.dtype} values; expected numbers in [-1, 1]")
    x = x.astype(np.float32).reshape(len(x), 1, 28, 28)
    if not np.isfinite(x).all():
        raise CLIError(f"{path} holds NaN or infinite values")
    low, high = (float(x.min()), float(x.max())) if len(x) else (0.0, 0.0)
    if low < -1.001 or high > 1.001:
        hint = " (0..255 pixels? scale them: x / 127.5 - 1)" if high > 1.001 and low >= 0 else ""
        raise CLIError(f"{path} holds values in [{low:.3g}, {high:.3g}]; expected images in [-1, 1]{hint}")
    return np.clip(x, -1.0, 1.0)


def latent_inputs(config, n, rng):
    """n latent points (and, for conditional models, the classes 0..9 in turn) as NumPy arrays."""
    z = rng.standard_normal((n, int(config["latent_dim"]))).astype(np.float32)
    classes = int(config.get("num_classes", 0) or 0)
    return z, (np.arange(n, dtype=np.int64) % classes if classes else None)


def draw(G, z, labels=None, device="cpu", chunk=CHUNK):
    """G's outputs for the latent points (in eval mode, without a graph), ``chunk`` at a time, as NumPy."""
    was_training = G.training
    G.eval()
    out = []
    try:
        with no_grad():
            for start in range(0, len(z), chunk):
                inputs = [Tensor(z[start:start + chunk], device=device)]
                if labels is not None:
                    inputs.append(Tensor(labels[start:start + chunk], device=device))
                out.append(backend.asnumpy(G(*inputs).array))
    finally:
        G.train(was_training)
    return np.concatenate(out).astype(np.float32, copy=False)


# ==================================================================================================
# The command
# ==================================================================================================
def build_parser():
    p = OneLineParser(prog="python -m tinygan.evaluate", allow_abbrev=False,
                      description="Score a GAN's MNIST samples with a LeNet digit classifier: FLD, classifier "
                                  "score, digit coverage, precision and recall, each beside the score of real "
                                  "images (the floor). A toy 2-D checkpoint gets the mode metrics instead.")
    p.add_argument("source", help="a checkpoint.npz written by examples/*.py (its G draws --n samples), or a .npy "
                                  "of (N, 1, 28, 28) or (N, 784) images in [-1, 1] (python -m tinygan.sample --npy)")
    p.add_argument("--n", type=int, default=None,
                   help=f"samples to draw from a checkpoint (default: {DEFAULT_N:,}; {toy.NUM_EVAL_SAMPLES:,} for the "
                        f"toy GAN); a .npy is used whole")
    p.add_argument("--data-dir", default=None,
                   help="the folder with the MNIST IDX files (default: the checkpoint's data folder, else "
                        "$TINYGAN_DATA, else ~/.cache/tinygan/mnist, where the examples download MNIST; missing "
                        "files are downloaded there)")
    p.add_argument("--split", choices=("train", "test"), default=None,
                   help="the real images to compare with (default: test, the 10k images no model trained on "
                        "unless it was given --split test; the train split when only it is in the data folder, "
                        "as after the examples' first download)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the latent points and of the cut of the real split into halves (default: 0)")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="cpu",
                   help="where to run G and the classifier (default: cpu)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--no-ema", action="store_true",
                   help="score the raw G of a run trained with --ema (default: its moving average G_ema)")
    return p


def _data_root(args, config):
    if args.data_dir is not None:
        root = pathlib.Path(args.data_dir).expanduser()
        if not root.is_dir():
            raise CLIError(f"--data-dir {args.data_dir} is not a folder", 2)
        return root
    recorded = (config or {}).get("data_dir")
    return pathlib.Path(recorded) if recorded and pathlib.Path(recorded).is_dir() else None


def load_real(args, config=None):
    """The real split's images (uint8) and labels; sets ``args.split`` to the split used.

    Without --split: the test split, else the train split when only it is in the folder (the examples download
    the train split into the same cache, ~/.cache/tinygan/mnist), else the test split is downloaded."""
    from tinygan.app import data
    root = _data_root(args, config)
    try:
        if args.split is None:
            args.split = "test"
            try:
                return data.load_mnist(root, split="test", dataset="mnist", download=False)
            except data.DatasetError as exc:
                if not exc.missing:                     # corrupt files: say so
                    raise
                if exc.other_split == "train":
                    images, labels = data.load_mnist(root, split="train", dataset="mnist", download=False)
                    args.split = "train"
                    print(f"python -m tinygan.evaluate: no MNIST test split in {exc.path}: comparing with its "
                          f"train split (--data-dir DIR --split test for the test split)", file=sys.stderr)
                    return images, labels
        return data.load_mnist(root, split=args.split, dataset="mnist", download=not args.no_download)
    except data.DatasetError as exc:
        raise CLIError(data.data_error_line(exc, args, "compares with it")) from None


def evaluate_toy(ckpt, args, device):
    config = ckpt["config"]
    n = args.n or toy.NUM_EVAL_SAMPLES
    G = generator_of(ckpt, args.source, device, ema=not args.no_ema)
    z, labels = latent_inputs(config, n, np.random.default_rng(args.seed))
    modes, std = toy.mixture(config["dataset"])
    m = metrics.mode_metrics(draw(G, z, labels, device), modes, std)
    return {"source": str(args.source), "checkpoint": str(args.source), "epoch": int(ckpt["epoch"]),
            "generator": generator_name(ckpt, args), "toy": config["dataset"], "n": n, "seed": args.seed, **m}


def generator_name(ckpt, args):
    """"G_ema" or "G": which generator of the checkpoint was scored."""
    return "G_ema" if "G_ema" in ckpt and not args.no_ema else "G"


def evaluate(args, judge=None):
    """The report dict of ``python -m tinygan.evaluate`` (see build_parser)."""
    if args.n is not None:
        check_count(args.n)
    ckpt = config = None
    if str(args.source).endswith(".npy"):
        if not os.path.isfile(args.source):
            raise CLIError(f"no such file: {args.source}")
        if args.n is not None:
            raise CLIError("--n draws samples from a checkpoint; a .npy is used whole", 2)
        samples = load_samples(args.source)
        check_count(len(samples), f"{args.source}: the number of images")
    else:
        ckpt = load_checkpoint(args.source)
        config = ckpt["config"]
    device = resolve_device(args.device, quiet=True)
    if config is not None and config.get("arch") == "toy":
        return evaluate_toy(ckpt, args, device)
    if config is not None:
        if config.get("dataset", "mnist") != "mnist":
            raise CLIError(f"{args.source} is a {config.get('dataset')} model; the judge is an MNIST digit "
                           f"classifier, so only MNIST models can be scored")
        z, labels = latent_inputs(config, args.n or DEFAULT_N, np.random.default_rng(args.seed))
        samples = draw(generator_of(ckpt, args.source, device, ema=not args.no_ema), z, labels, device)
    images, real_labels = load_real(args, config)
    judge = judge if judge is not None else get_judge(device)
    reference = Reference(judge, images, real_labels, seed=args.seed, name=f"the MNIST {args.split} split")
    generated = reference.score(samples)
    floor = reference.floor(len(samples))
    return {"source": str(args.source), "checkpoint": None if ckpt is None else str(args.source),
            "epoch": None if ckpt is None else int(ckpt["epoch"]),
            "generator": None if ckpt is None else generator_name(ckpt, args),
            "conditional": None if config is None else bool(config.get("num_classes")),
            "n": len(samples), "k": K, "splits": SPLITS, "split": args.split, "seed": args.seed,
            "real_n": reference.size, "floor_n": floor["n"], "generated": generated, "real_floor": floor}


ROWS = (("FLD (lower is better)", "fld", "{:.3f}"),
        ("classifier score (max 10)", "classifier_score", None),
        ("digits drawn (>= 1%)", "digits", "{}/10"),
        ("KL to real digit histogram", "kl_to_real", "{:.4f}"),
        ("mean confidence", "confidence", "{:.3f}"),
        ("precision (k=3)", "precision", "{:.3f}"),
        ("recall (k=3)", "recall", "{:.3f}"))


def _cell(scores, key, fmt):
    if fmt is None:
        return f"{scores['classifier_score']:.2f} +- {scores['classifier_score_std']:.2f}"
    return fmt.format(scores[key])


def format_table(report):
    """The report as a table: each number beside the real-data floor."""
    if "toy" in report:
        return (f"{report['source']} (epoch {report['epoch']}, {report['generator']}, toy {report['toy']}), "
                f"{report['n']:,} samples:\n"
                f"  modes captured      {report['modes']}/{report['num_modes']}\n"
                f"  high quality        {report['high_quality']:.1f}%\n"
                f"  reverse KL          {report['reverse_kl']:.4f}")
    epoch = f" (epoch {report['epoch']}, {report['generator']})" if report["epoch"] is not None else ""
    lines = [f"{report['source']}{epoch}: {report['n']:,} samples vs {report['real_n']:,} real MNIST "
             f"{report['split']} images",
             f"  {'metric':<28}{'generated':>16}{'real floor':>16}"]
    for label, key, fmt in ROWS:
        lines.append(f"  {label:<28}{_cell(report['generated'], key, fmt):>16}{_cell(report['real_floor'], key, fmt):>16}")
    lines.append(f"  digit histogram  {' '.join(f'{h:.2f}' for h in report['generated']['histogram'])}")
    lines.append(f"  real floor: {report['floor_n']:,} other real {report['split']} images vs the same "
                 f"{report['real_n']:,}")
    return "\n".join(lines)


def _json_safe(value):
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def main(argv=None, judge=None):
    """Returns the exit code: 0 ok, 1 a run error, 2 bad options. ``judge``: a classifier to use instead of
    tinygan/app/judge.py's (anything with features_and_probs, features, probs and predict)."""
    def body(args):
        report = evaluate(args, judge)
        print(json.dumps(_json_safe(report)) if args.json else format_table(report))
    return run_command("python -m tinygan.evaluate", build_parser(), body, argv, interrupted=_interrupted)


def _interrupted(args):
    """What Ctrl-C stopped: the scores are printed at the end, and scoring writes no file."""
    return f"while scoring {args.source}; no scores were printed (they come at the end); evaluate writes no files"


if __name__ == "__main__":
    sys.exit(main())

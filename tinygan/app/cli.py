"""The command-line driver behind the three examples: options, checks, the training loop and its outputs.

examples/mnist_mlp_gan.py, examples/mnist_dcgan.py and examples/toy_2d_gan.py each call ``main(argv, arch)``
with their architecture ("mlp", "dcgan", "toy"); everything else is shared:

    parse and check the options -> pick the device -> load the data -> build G, D and their optimizers
    (or rebuild them from --resume) -> for each epoch: train steps (tinygan.app.gan.GAN.train_step), then write
    the sample grid, metrics.csv, the loss curves, the GIF and the checkpoint.

Errors a user can cause (bad options, no GPU, missing or corrupt data, a loss that became NaN, a bad
checkpoint) end the program with one line on stderr and a non-zero exit code, never a traceback:
2 for bad options, 1 for everything else.

No run is ever lost: an --out folder that holds an earlier run is refused (continue that run with --resume,
or replace its outputs with --overwrite, which replaces only the files the examples write, and only once the
new run's first checkpoint is saved: until then the new run writes into a hidden folder in --out, so stopping
before it leaves the earlier run as it was), an --out that cannot be written is refused before any training,
and Ctrl-C or a NaN loss says which checkpoint, if any, holds the last complete epoch and how to resume from it.
"""
import argparse
import contextlib
import math
import os
import pathlib
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time

import numpy as np

import tinygan
from tinygan import backend, optim
from tinygan.app import augment, models, plotting, toy
from tinygan.app.gan import G_LOSSES, LOSSES, WASSERSTEIN, GAN, MetricsLog, NonFiniteLossError
from tinygan.fileio import fsync_folder, unwritable_reason
from tinygan.tensor import Tensor, no_grad

CHECKPOINT_FORMAT = "tinygan-gan-checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.npz"
# what a run writes in --out: --overwrite replaces these and nothing else
RUN_FILES = (CHECKPOINT_NAME, "metrics.csv", "modes.csv", "losses.png", "grad_norms.png", "samples.gif", "eval.csv",
             "eval.png")
EVAL_COLUMNS = ("epoch", "step", "fld", "classifier_score", "digits", "kl", "precision", "recall")   # eval.csv
EVAL_SAMPLES = 2000                 # generated samples per --eval-every evaluation
EVAL_REAL = 5000                    # real images they are compared with (and as many others for the floor)
SAMPLE_PATTERNS = ("epoch_*.png", "step_*.png")          # in --out/samples/
# --overwrite: hidden folders in --out holding the new run's files until its first checkpoint, and the earlier
# run's files for the instant they make way
STAGING_PREFIX, REPLACED_PREFIX = ".tinygan-new-run-", ".tinygan-old-run-"

DESCRIPTIONS = {
    "mlp": "Train the fully connected GAN of Goodfellow et al. (2014) on MNIST or Fashion-MNIST: "
           "G 100-256-512-784 (LeakyReLU, Tanh), D 784-512-256-1 (LeakyReLU, logits).",
    "dcgan": "Train a small DCGAN (Radford et al. 2015) on MNIST or Fashion-MNIST: G upsamples 7x7 -> 28x28 "
             "with transposed convolutions and batch norm, D downsamples with strided convolutions.",
    "toy": "Train a GAN on a 2-D mixture of Gaussians (PacGAN's 8-Gaussian ring or 25-Gaussian grid) and "
           "count the modes it captures. Needs no download; about a minute on a CPU.",
}

# Defaults that depend on the example. None in the parser means "not given", so a resumed run can tell
# an option the user typed from a default, and the loss can pick its own learning rate.
DEFAULTS = {
    "mlp": {"epochs": 50, "batch_size": 64, "latent_dim": 100, "dataset": "mnist", "split": "train",
            "sample_every": 0},
    "dcgan": {"epochs": 20, "batch_size": 64, "latent_dim": 100, "dataset": "mnist", "split": "train",
              "sample_every": 0},
    "toy": {"epochs": 10, "batch_size": 256, "latent_dim": 8, "dataset": "ring", "split": "train",
            "sample_every": 0, "steps_per_epoch": 500, "clip": 0.05},
}
ADAM_LR, WGAN_LR = 2e-4, 5e-5
WGAN_GP_LR, WGAN_GP_BETAS = 1e-4, (0.0, 0.9)    # Gulrajani et al. 2017, Algorithm 1
TOY_ADAM_LR, TOY_WGAN_LR = 1e-3, 1e-3

SCHEDULES = ("constant", "linear", "cosine")

# --recipe: named bundles of options. "plain" is the examples' own defaults, unchanged. "best" is what measured
# best so far (benchmarks/QUALITY.md). For the toy: the R1 penalty (gamma 0.5) on D's real points, which found
# every mode of the ring and the grid on every seed, plus G's moving average and a learning rate decaying to 0
# for precision, four hidden layers of 64 instead of two of 128 (sharper jumps between modes), a 2-D latent
# and 25,000 steps (packing, mbstd, spectral norm and feature matching did not help there). For the MLP GAN
# the R1 penalty too (gamma 10): FLD 52 against the plain recipe's 219 +- 55 at 60 epochs, every digit, at
# the plain recipe's speed, where the WGAN-GP critic reached 133 at 4x the time and the toy's average-and-decay
# made it worse (387 +- 50). For the DCGAN: R1 (gamma 10, so its D takes LayerNorm instead of BatchNorm) with
# batches of 8 (eight times the steps an epoch): FLD 48 +- 17 at 10 epochs against the plain recipe's 170 +- 20,
# every digit >= 5% of samples (batch 16: 58 +- 12, batch 32: 80 +- 6, with rarer digits); EMA, a higher lr,
# mbstd and the toy's average-and-decay did not help. An option given on the command line wins.
RECIPES = {
    "toy": {"plain": {}, "best": {"r1": 0.5, "ema": 0.999, "lr_schedule": "linear", "hidden": "64,64,64,64",
                                  "latent_dim": 2, "steps_per_epoch": 2500}},
    "mlp": {"plain": {}, "best": {"r1": 10.0}},
    "dcgan": {"plain": {}, "best": {"r1": 10.0, "batch_size": 8}},
}

# config keys fixed by the checkpoint when resuming (the option that sets each)
RESUME_FIXED = {"recipe": "--recipe",
                "latent_dim": "--latent-dim", "hidden": "--hidden", "loss": "--loss", "d_steps": "--d-steps",
                "lr": "--lr", "beta1": "--beta1", "batch_size": "--batch-size", "dataset": "--dataset",
                "split": "--split", "seed": "--seed", "label_smoothing": "--label-smoothing",
                "clip": "--clip", "steps_per_epoch": "--steps-per-epoch", "conditional": "--conditional",
                "log_grad_norms": "--log-grad-norms", "gp_weight": "--gp-weight", "r1": "--r1",
                "pack": "--pack", "mbstd": "--mbstd", "mbstd_group": "--mbstd-group", "ema": "--ema",
                "g_loss": "--g-loss", "lr_g": "--lr-g", "lr_d": "--lr-d", "lr_schedule": "--lr-schedule",
                "spectral_norm": "--spectral-norm", "diffaugment": "--diffaugment"}
# what a checkpoint written before the remedies ran with
REMEDY_DEFAULTS = {"recipe": "plain", "pack": 1, "mbstd": False, "mbstd_group": 0, "ema": 0.0, "g_loss": "default",
                   "lr_schedule": "constant", "spectral_norm": False, "diffaugment": ""}


class CLIError(Exception):
    """An error to report as one line on stderr, with an exit code."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad option is one line on stderr (exit 2) instead of the usage block."""

    def error(self, message):
        raise CLIError(f"{message} (see --help)", 2)


# ==================================================================================================
# Options
# ==================================================================================================
def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def build_parser(arch, prog=None):
    """The argument parser of one example."""
    d = DEFAULTS[arch]
    image = arch != "toy"
    p = OneLineParser(prog=prog, description=DESCRIPTIONS[arch], allow_abbrev=False,
                epilog="Outputs in --out: samples/*.png (fixed-noise samples per epoch or every --sample-every "
                       "steps), samples.gif, losses.png, metrics.csv" + ("" if image else ", modes.csv")
                       + " (grad_norms.png with --log-grad-norms" + (", eval.csv and eval.png with --eval-every"
                                                                      if image else "") + ")"
                       + f" and {CHECKPOINT_NAME} (written atomically after every epoch; "
                       "draw from it with python -m tinygan.sample).")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                   help="where to train; auto picks the GPU when CuPy and a CUDA device are usable (default: auto)")
    p.add_argument("--epochs", type=_int, default=None,
                   help=f"total epochs to train; with --resume, training continues up to this many "
                        f"(default: {d['epochs']})")
    p.add_argument("--batch-size", type=_int, default=None, help=f"images per batch (default: {d['batch_size']})")
    p.add_argument("--lr", type=_float, default=None,
                   help=f"learning rate of both optimizers (default: {TOY_ADAM_LR if not image else ADAM_LR} for "
                        f"Adam, {TOY_WGAN_LR if not image else WGAN_LR} for RMSprop with --loss wgan)")
    p.add_argument("--beta1", type=_float, default=None,
                   help="Adam's beta1 (default: 0.5 and beta2 0.999; with --loss wgan-gp 0.0 and 0.9)")
    p.add_argument("--latent-dim", type=_int, default=None,
                   help=f"size of the noise vector z (default: {d['latent_dim']})")
    p.add_argument("--hidden", default=None,
                   help={"mlp": "G's hidden widths, comma-separated; D uses them reversed (default: 256,512)",
                         "dcgan": "D's two conv channel counts; G uses them reversed (default: 64,128)",
                         "toy": "G's hidden widths; D uses them reversed (default: 128,128)"}[arch])
    p.add_argument("--loss", choices=LOSSES, default=None,
                   help="nonsaturating (default): G maximises log D(G(z)); minimax: the original log(1 - D(G(z))); "
                        "lsgan: least squares; hinge; wgan: Wasserstein critic with weight clipping, trained "
                        "with RMSprop; wgan-gp: Wasserstein critic with a gradient penalty (Gulrajani et al. "
                        "2017: Adam lr 1e-4, betas (0.0, 0.9), 5 critic steps; the DCGAN critic's BatchNorm becomes LayerNorm)")
    p.add_argument("--d-steps", type=_int, default=None,
                   help="discriminator steps per generator step, each on a new real batch (default: 1, 5 for wgan "
                        "and wgan-gp)")
    p.add_argument("--gp-weight", type=_float, default=None, metavar="LAMBDA",
                   help="wgan-gp: weight of the gradient penalty (default: 10)")
    p.add_argument("--r1", type=_float, default=None, metavar="GAMMA",
                   help="add the R1 penalty (GAMMA/2) mean ||dD(x)/dx||^2 on real batches to D's loss "
                        "(Mescheder et al. 2018; not with wgan/wgan-gp; D's BatchNorm becomes LayerNorm)")
    p.add_argument("--label-smoothing", action="store_true", default=None,
                   help="one-sided label smoothing: real targets 0.9 instead of 1")
    p.add_argument("--clip", type=_float, default=None,
                   help=f"wgan: clip the critic's weights to [-CLIP, CLIP] after each step "
                        f"(default: {d.get('clip', 0.01)})")
    if image:
        p.add_argument("--conditional", action="store_true", default=None,
                       help="condition G and D on the digit class (one-hot labels joined to their inputs)")
        p.add_argument("--dataset", choices=("mnist", "fashion-mnist"), default=None,
                       help="which dataset (default: mnist)")
        p.add_argument("--data-dir", default=None,
                       help="an existing folder with the IDX files (default: with --resume, the folder the "
                            "checkpoint's data came from; else $TINYGAN_DATA, else ~/.cache/tinygan/<dataset>; "
                            "missing files are downloaded there)")
        p.add_argument("--split", choices=("train", "test"), default=None,
                       help="train on the 60k train split (default) or the 10k test split")
        p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
        p.add_argument("--eval-every", type=_int, default=None, metavar="N",
                       help=f"after every N-th epoch and the last, score --eval-samples samples with the LeNet "
                            f"digit classifier (FLD, classifier score, digits drawn, KL to the real digit "
                            f"histogram, precision, recall, against {EVAL_REAL:,} images of the split trained on: "
                            f"a few seconds on a CPU); rows go to eval.csv, curves to eval.png (MNIST only)")
        p.add_argument("--eval-samples", type=_int, default=None, metavar="N",
                       help=f"samples per --eval-every evaluation (default: {EVAL_SAMPLES:,})")
    else:
        p.add_argument("--eval-every", type=_int, default=None, help=argparse.SUPPRESS)   # refused: modes.csv
        p.add_argument("--dataset", choices=toy.DATASETS, default=None,
                       help="ring: 8 Gaussians on a circle (default); grid: 25 Gaussians on a 5x5 grid")
        p.add_argument("--steps-per-epoch", type=_int, default=None,
                       help=f"training steps per epoch (default: {d['steps_per_epoch']})")
    _add_remedies(p, arch)
    p.add_argument("--out", default=None,
                   help=f"output folder (default: runs/{arch}; with --resume, the checkpoint's folder); one that "
                        f"holds another run is refused unless --overwrite is given")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out: its samples/*.png, samples.gif, losses.png, "
                        "grad_norms.png, metrics.csv, modes.csv, eval.csv, eval.png and checkpoint.npz give way to "
                        "this run's once its first checkpoint is saved; until then they are untouched, and stay so "
                        "if this run stops first (other files there are kept)")
    p.add_argument("--seed", type=_int, default=None, help="random seed (default: 0)")
    p.add_argument("--resume", metavar="CHECKPOINT", default=None,
                   help="continue training from a checkpoint this example wrote, up to --epochs in total")
    p.add_argument("--sample-every", type=_int, default=None,
                   help="save a sample picture every N steps instead of once per epoch (default: per epoch)")
    p.add_argument("--limit-batches", type=_int, default=None, metavar="N",
                   help="stop each epoch after N steps (for quick smoke runs)")
    p.add_argument("--log-every", type=_int, default=None,
                   help="read losses back from the GPU every N steps (default: 1 on the CPU, 50 on the GPU)")
    p.add_argument("--log-grad-norms", action="store_true", default=None,
                   help="also log, every step, the L2 norm of each layer's gradient in G and D (columns "
                        "grad_G.0, ..., grad_D.1, ... of metrics.csv, named after the layers' parameters; read "
                        "back every --log-every steps like the losses) and plot them in grad_norms.png, on a "
                        "log scale: G's gradients vanishing while D wins shows there. A resumed run keeps the "
                        "checkpoint's choice; works with --cuda-graph")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no per-epoch lines")
    p.add_argument("--cuda-graph", action="store_true",
                   help="GPU only: record each training step once as a CUDA graph and replay it (one launch per "
                        "step; the noise is drawn on the GPU, so runs differ from runs without it)")
    return p


def _add_remedies(p, arch):
    """The options for mode collapse and instability (issue 14), each off by default."""
    g = p.add_argument_group("remedies for mode collapse and instability (all off by default; --recipe bundles them)")
    best = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in RECIPES[arch]["best"].items())
    g.add_argument("--recipe", choices=tuple(RECIPES[arch]), default=None,
                   help=f"plain (default): the options' defaults as above; best: "
                        + (f"{best} (what measured best so far, benchmarks/QUALITY.md)" if best else
                           "the same as plain (no remedy has beaten it yet, benchmarks/QUALITY.md)")
                        + "; options given explicitly win")
    g.add_argument("--pack", type=_int, default=None, metavar="M",
                   help="PacGAN (Lin et al. 2018): D scores M samples at a time, joined along the "
                        + ("channels" if arch == "dcgan" else "features") + " (D's input is M times wider); "
                        "--batch-size must be a multiple of M (default: 1, no packing)")
    g.add_argument("--mbstd", action="store_true", default=None,
                   help="minibatch standard deviation (Karras et al. 2018): before D's last layer, append the "
                        "standard deviation over the batch of each feature, averaged to one number")
    g.add_argument("--mbstd-group", type=_int, default=None, metavar="G",
                   help="--mbstd: take the standard deviation over groups of G samples (default: the whole batch)")
    g.add_argument("--ema", type=_float, default=None, metavar="DECAY",
                   help="keep an exponential moving average of G's weights (e.g. 0.999) with a warm-up: decay "
                        "min(DECAY, (1 + t) / (10 + t)) at step t; BatchNorm buffers are copied from G. It is "
                        "saved as G_ema and draws the sample pictures"
                        + (", modes.csv" if arch == "toy" else ", eval.csv") + ", python -m tinygan.sample and "
                        "python -m tinygan.evaluate (--no-ema there for the raw G)")
    g.add_argument("--g-loss", choices=G_LOSSES, default=None,
                   help="default: the --loss's generator loss; feature-matching (Salimans et al. 2016): "
                        "||mean f(real) - mean f(G(z))||^2 over D's features f before its last layer (D keeps "
                        "its loss)")
    g.add_argument("--lr-g", type=_float, default=None, metavar="LR",
                   help="G's learning rate (TTUR, Heusel et al. 2017; default: --lr)")
    g.add_argument("--lr-d", type=_float, default=None, metavar="LR", help="D's learning rate (TTUR; default: --lr)")
    g.add_argument("--lr-schedule", choices=SCHEDULES, default=None,
                   help="constant (default); linear or cosine: both learning rates decay to 0 over --epochs "
                        "(optim.lr_scheduler.LinearLR / CosineAnnealingLR, stepped once per epoch: epoch e of E "
                        "trains at lr * (1 - (e-1)/E) for linear); a resumed run may not train past those epochs")
    g.add_argument("--spectral-norm", action="store_true", default=None,
                   help="spectral normalisation (Miyato et al. 2018) of every Linear and Conv2d of D "
                        "(tinygan.nn.utils.spectral_norm, one power iteration per forward)")
    if arch == "toy":
        g.add_argument("--diffaugment", default=None, help=argparse.SUPPRESS)        # refused: images only
    else:
        g.add_argument("--diffaugment", default=None, metavar="POLICY",
                       help="DiffAugment (Zhao et al. 2020): translate (by up to 1/8 of the side) and/or cut out "
                            "(a square of half the side) every batch D sees, real and fake, with differentiable "
                            "ops: translation, cutout or translation,cutout")


def apply_recipe(args, arch):
    """Fill the options the user did not give from --recipe's bundle. A --loss wgan or wgan-gp given with it wins
    over the bundle's R1 penalty too (their critics keep Lipschitz their own way; --r1 with them is refused)."""
    for key, value in RECIPES[arch][args.recipe or "plain"].items():
        if key == "r1" and args.loss in WASSERSTEIN:
            continue
        if getattr(args, key) is None:
            setattr(args, key, value)


def _check(ok, message):
    if not ok:
        raise CLIError(message, 2)


def _validate(args, prog):
    """Every number in range, with one clear line naming the option otherwise."""
    def positive(name, value):
        _check(value is None or value >= 1, f"--{name} must be a positive integer, got {value}")

    for name in ("epochs", "batch_size", "latent_dim", "d_steps", "limit_batches", "log_every"):
        positive(name.replace("_", "-"), getattr(args, name))
    if getattr(args, "steps_per_epoch", None) is not None:
        positive("steps-per-epoch", args.steps_per_epoch)
    if not hasattr(args, "eval_samples"):
        _check(args.eval_every is None, f"{prog} counts the modes it captured after every epoch already (modes.csv); "
                                        f"--eval-every scores the MNIST examples' digits")
    else:
        positive("eval-every", args.eval_every)
        _check(args.eval_samples is None or args.eval_samples >= 10,
               f"--eval-samples must be at least 10 (the classifier score's 10 splits), got {args.eval_samples}")
    _check(args.sample_every is None or args.sample_every >= 0,
           f"--sample-every must be 0 (once per epoch) or a positive number of steps, "
           f"got {args.sample_every}")
    _check(args.lr is None or (math.isfinite(args.lr) and args.lr > 0),
           f"--lr must be a positive number, got {args.lr}")
    _check(args.gp_weight is None or (math.isfinite(args.gp_weight) and args.gp_weight >= 0),
           f"--gp-weight must be a number >= 0, got {args.gp_weight}")
    _check(args.gp_weight is None or args.loss == "wgan-gp", "--gp-weight goes with --loss wgan-gp")
    _check(args.r1 is None or (math.isfinite(args.r1) and args.r1 >= 0), f"--r1 must be a number >= 0, got {args.r1}")
    _check(args.r1 is None or args.loss not in WASSERSTEIN,
           f"--r1 is for the other losses; --loss {args.loss} keeps its critic Lipschitz its own way")
    for name in ("lr_g", "lr_d"):
        value = getattr(args, name)
        _check(value is None or (math.isfinite(value) and value > 0),
               f"--{name.replace('_', '-')} must be a positive number, got {value}")
    positive("pack", args.pack)
    positive("mbstd-group", args.mbstd_group)
    _check(args.mbstd_group is None or args.mbstd, "--mbstd-group goes with --mbstd")
    _check(args.ema is None or (math.isfinite(args.ema) and 0.0 < args.ema < 1.0),
           f"--ema must be a decay in (0, 1) such as 0.999, got {args.ema}")
    if args.diffaugment is not None:
        _check(hasattr(args, "eval_samples"), f"--diffaugment transforms images; {prog} trains on 2-D points")
        try:
            augment.parse_policy(args.diffaugment)
        except ValueError as exc:
            raise CLIError(f"{exc}", 2) from None
    _check(args.beta1 is None or 0.0 <= args.beta1 < 1.0,
           f"--beta1 must be in [0, 1), got {args.beta1}")
    _check(args.clip is None or (math.isfinite(args.clip) and args.clip > 0),
           f"--clip must be a positive number, got {args.clip}")
    _check(args.seed is None or args.seed >= 0, f"--seed must be >= 0, got {args.seed}")
    if args.hidden is not None:
        try:
            models.parse_sizes(args.hidden)
        except ValueError as exc:
            raise CLIError(f"{exc}", 2) from None
    _check(not (args.cuda_graph and args.device == "cpu"), "--cuda-graph needs --device gpu")
    if args.resume is not None:
        _check(os.path.isfile(args.resume), f"--resume: no such checkpoint file: {args.resume}")
    data_dir = getattr(args, "data_dir", None)
    if data_dir is not None:
        _check(os.path.exists(os.path.expanduser(data_dir)), f"--data-dir {data_dir} does not exist")
        _check(os.path.isdir(os.path.expanduser(data_dir)), f"--data-dir {data_dir} is not a folder")


def _config_from_args(arch, args):
    """The run's full config (model and training settings: numbers and strings) from the options."""
    d = DEFAULTS[arch]
    loss = args.loss or "nonsaturating"
    if arch == "toy":
        lr = args.lr or (TOY_WGAN_LR if loss == "wgan" else TOY_ADAM_LR)
    else:
        lr = args.lr or {"wgan": WGAN_LR, "wgan-gp": WGAN_GP_LR}.get(loss, ADAM_LR)
    penalised = loss == "wgan-gp" or bool(args.r1)
    conditional = bool(getattr(args, "conditional", None))
    out_shape = (2,) if arch == "toy" else (1, 28, 28)
    try:
        config = models.make_config(arch, args.latent_dim or d["latent_dim"], args.hidden,
                                    10 if conditional else 0, out_shape,
                                    d_norm="layer" if penalised else "batch", pack=args.pack or 1,
                                    mbstd=bool(args.mbstd), mbstd_group=args.mbstd_group or 0,
                                    spectral_norm=bool(args.spectral_norm))
    except ValueError as exc:
        raise CLIError(f"{exc}", 2) from None
    config.update({
        "recipe": args.recipe or "plain",
        "loss": loss, "d_steps": args.d_steps or (5 if loss in WASSERSTEIN else 1), "lr": float(lr),
        "lr_g": float(args.lr_g or lr), "lr_d": float(args.lr_d or lr),
        "lr_schedule": args.lr_schedule or "constant", "schedule_epochs": int(args.epochs or d["epochs"]),
        "ema": float(args.ema or 0.0), "g_loss": args.g_loss or "default",
        "diffaugment": ",".join(augment.parse_policy(args.diffaugment)) if args.diffaugment else "",
        "beta1": (WGAN_GP_BETAS[0] if loss == "wgan-gp" else 0.5) if args.beta1 is None else float(args.beta1),
        "beta2": WGAN_GP_BETAS[1] if loss == "wgan-gp" else 0.999,
        "gp_weight": 10.0 if args.gp_weight is None else float(args.gp_weight),
        "r1": 0.0 if args.r1 is None else float(args.r1),
        "batch_size": args.batch_size or d["batch_size"], "dataset": args.dataset or d["dataset"],
        "split": getattr(args, "split", None) or d["split"], "seed": 0 if args.seed is None else args.seed,
        "label_smoothing": bool(args.label_smoothing),
        "clip": d.get("clip", 0.01) if args.clip is None else float(args.clip),
        "conditional": conditional,
        "steps_per_epoch": getattr(args, "steps_per_epoch", None) or d.get("steps_per_epoch", 0),
        "log_grad_norms": bool(args.log_grad_norms),
    })
    return config


def _merge_resumed_config(config, args, prog):
    """A resumed run keeps the checkpoint's settings; an option that contradicts them is an error."""
    config.setdefault("log_grad_norms", False)       # checkpoints from before --log-grad-norms did not log them
    for key, value in (("beta2", 0.999), ("gp_weight", 10.0), ("r1", 0.0), ("d_norm", "batch")):
        config.setdefault(key, value)                # checkpoints from before wgan-gp and --r1
    for key, value in REMEDY_DEFAULTS.items():
        config.setdefault(key, value)                # checkpoints from before the remedies
    config.setdefault("lr_g", config["lr"])
    config.setdefault("lr_d", config["lr"])
    for key, option in RESUME_FIXED.items():
        given = getattr(args, key, None)
        if given is None or key not in config:
            continue
        stored = config[key]
        if key == "hidden":
            given = ",".join(map(str, models.parse_sizes(given)))
        if key == "diffaugment":
            given = ",".join(augment.parse_policy(given))
        if type(stored) is bool:
            given = bool(given)
        if key == "log_grad_norms" and given != stored:      # its columns would appear half-way down metrics.csv
            raise CLIError(f"{option}: the run in the checkpoint was trained without it, and a resumed run keeps "
                           f"its metrics.csv columns (drop {option}, or start a new run)", 2)
        if given != stored and not (isinstance(stored, float) and math.isclose(float(given), stored)):
            raise CLIError(f"{option} {given} differs from the checkpoint's {stored}; "
                           f"a resumed run keeps its settings (drop {option}, or start a new run)", 2)
    return config


# ==================================================================================================
# Checkpoints
# ==================================================================================================
def save_checkpoint(path, gan, config, epoch, step, history, extra=None):
    """Everything needed to continue training or to draw samples, in one .npz written atomically
    (tinygan.save copies GPU arrays to the host, so a checkpoint loads on any device)."""
    tinygan.save({
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
        "config": dict(config), "epoch": int(epoch), "step": int(step),
        "G": gan.G.state_dict(), "D": gan.D.state_dict(),
        "opt_g": gan.opt_g.state_dict(), "opt_d": gan.opt_d.state_dict(),
        "rng": backend.get_rng_state(),            # for the record: each epoch reseeds from (seed, epoch)
        "history": history,
        **({"G_ema": gan.G_ema.state_dict(), "ema_updates": gan.ema.updates} if gan.ema is not None else {}),  # --ema
        **(extra or {}),
    }, path)


def load_checkpoint(path):
    """The checkpoint dict written by ``save_checkpoint``; CLIError for anything unreadable."""
    try:
        ckpt = tinygan.load(path)
    except FileNotFoundError:
        raise CLIError(f"no such checkpoint file: {path}") from None
    except tinygan.CheckpointError as exc:  # "<path> is truncated or corrupt: ...", "... is not a tinygan checkpoint"
        raise CLIError(f"{path} {exc.problem}" if exc.problem else f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CLIError(f"{path} is not a checkpoint written by the tinygan examples")
    return ckpt


def generator_of(ckpt, path, device, ema=True):
    """The checkpoint's generator, rebuilt from its config, on ``device``: the moving average G_ema when the run
    kept one (--ema) and ``ema``, else G."""
    try:
        G = models.build_generator(ckpt["config"])
        G.load_state_dict(ckpt["G_ema"] if ema and "G_ema" in ckpt else ckpt["G"])
    except (KeyError, ValueError, RuntimeError) as exc:
        raise CLIError(f"{path}: the generator's weights do not match its config: "
                       f"{' '.join(str(exc).split())}") from None
    return G.to(device)


# ==================================================================================================
# The output folder: never destroy an earlier run
# ==================================================================================================
def run_outputs(out):
    """The files in ``out`` that a run of the examples wrote (anything else there is not ours)."""
    out = pathlib.Path(out)
    found = [out / name for name in RUN_FILES if (out / name).is_file()]
    for pattern in SAMPLE_PATTERNS:
        found += sorted((out / "samples").glob(pattern))
    return found


def _same_folder(a, b):
    return pathlib.Path(a).resolve() == pathlib.Path(b).resolve()


def _describe_run(checkpoint):
    """"trained 3 epochs", read from the run's checkpoint."""
    try:
        epoch = int(load_checkpoint(checkpoint)["epoch"])
    except (CLIError, KeyError, TypeError, ValueError):
        return "its checkpoint cannot be read"
    return f"trained {epoch} epoch{'' if epoch == 1 else 's'}"


def check_writable(out, args):
    """Refuse an output folder that cannot take the run's files now, not when the first epoch's are saved:
    a file, a folder under a file, or one that cannot be created or written (a probe file is created and
    removed; a folder created for it is removed again)."""
    name = f"--out {out}" if args.out else f"the output folder {out}"
    again = "" if args.out else "; pass --out DIR"
    reason = unwritable_reason(out)
    if reason is not None:
        raise CLIError(f"{name} {reason}{again}", 2)
    samples = out / "samples"
    reason = unwritable_reason(samples) if os.path.lexists(samples) else None
    if reason is not None:
        raise CLIError(f"{name}: {samples} {reason} (the sample pictures go there){again}", 2)


def _output_names(out, outputs):
    return sorted({p.name if p.parent == out else "samples/*.png" for p in outputs})


def check_out(out, args, ckpt):
    """Refuse an --out that cannot be written, or that holds a run this one would overwrite, unless
    --overwrite; a --resume into its checkpoint's own folder continues that run."""
    check_writable(out, args)
    if ckpt is not None and _same_folder(out, pathlib.Path(args.resume).parent):
        _check(not args.overwrite, f"--overwrite would delete the run that --resume {args.resume} continues; "
                                   f"drop --overwrite, or pass another --out")
        return
    outputs = run_outputs(out)
    if not outputs or args.overwrite:
        return
    checkpoint = out / CHECKPOINT_NAME
    if checkpoint.is_file():
        raise CLIError(f"{out} already holds a run ({_describe_run(checkpoint)}): continue it with --resume "
                       f"{checkpoint}, replace it with --overwrite, or pass another --out", 2)
    raise CLIError(f"{out} already holds a run's outputs ({', '.join(_output_names(out, outputs))}) but no "
                   f"checkpoint to resume: replace them with --overwrite, or pass another --out", 2)


def kept_run(out):
    """What --overwrite leaves whole in ``out`` until the new run's first checkpoint, as (what, what to do),
    for the line an interrupted or failed run prints; None when ``out`` holds no run."""
    outputs = run_outputs(out)
    if not outputs:
        return None
    checkpoint = out / CHECKPOINT_NAME
    if checkpoint.is_file():
        return (f"the run already in {out} ({_describe_run(checkpoint)}) is untouched",
                f"continue it with --resume {checkpoint}, or run again with --overwrite to replace it")
    return (f"the earlier outputs in {out} ({', '.join(_output_names(out, outputs))}) are untouched",
            "run again with --overwrite to replace them")


def stage_run(out):
    """--overwrite into a folder holding a run: the hidden folder in ``out`` the new run writes into until
    its first checkpoint (``replace_run``); until then the earlier run is not touched."""
    return pathlib.Path(tempfile.mkdtemp(dir=out, prefix=STAGING_PREFIX))


def replace_run(out, staging):
    """--overwrite, once the new run's first checkpoint is in ``staging``: the earlier run's files
    (``run_outputs``) are renamed out of the way and the staged ones into ``out`` (the checkpoint last), all
    within ``out``, then the earlier ones are deleted. A rename that fails puts back those done, so ``out``
    holds one whole run or the other; anything else in ``out`` is not touched. Run it with Ctrl-C held
    (``ctrl_c_held``): the renames take a moment, and none of them may be left half done."""
    old = run_outputs(out)
    new = sorted((p for p in staging.rglob("*") if p.is_file()), key=lambda p: p.name == CHECKPOINT_NAME)
    aside = pathlib.Path(tempfile.mkdtemp(dir=out, prefix=REPLACED_PREFIX))
    moves = [(p, aside / p.relative_to(out)) for p in old] + [(p, out / p.relative_to(staging)) for p in new]
    done, made = [], []
    try:
        for source, target in moves:
            if not target.parent.is_dir():          # samples/, in the folder aside or in an --out without one
                target.parent.mkdir()
                made.append(target.parent)
            os.replace(source, target)
            done.append((source, target))
    except OSError:
        for source, target in reversed(done):       # whatever cannot be put back stays in the folder aside
            with contextlib.suppress(OSError):
                os.replace(target, source)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        with contextlib.suppress(OSError):
            aside.rmdir()
        raise
    for folder in (out, out / "samples"):
        fsync_folder(folder)                        # the renames themselves on disk before the old files go
    shutil.rmtree(aside, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def ctrl_c_held():
    """Ctrl-C during the block takes effect when the block ends (in the main thread; elsewhere there is none)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed and callable(previous):
        previous(signal.SIGINT, None)               # Python's own handler raises KeyboardInterrupt
    elif pressed and previous != signal.SIG_IGN:
        raise KeyboardInterrupt


# ==================================================================================================
# Building the run
# ==================================================================================================
def resolve_device(name, quiet=False):
    """"cpu", "gpu", or for "auto" the GPU when usable (and say which was picked)."""
    if name == "auto":
        device = "gpu" if backend.device_available("gpu") else "cpu"
        if not quiet:
            print(f"device: {device} (auto{'' if device == 'gpu' else ': no usable GPU'})")
        return device
    if name == "gpu":
        try:
            backend.require_gpu()
        except backend.DeviceUnavailableError as exc:
            raise CLIError(f"{exc}") from None
    return name


def make_gan(config, device, cuda_graph=False):
    """G, D (built from the config and moved to ``device``), their optimizers, wrapped in a GAN (which
    replays its training step as a CUDA graph with ``cuda_graph``: --cuda-graph)."""
    G, D = models.build(config)
    G.to(device)
    D.to(device)                                   # before the optimizers: they hold the arrays in flat buffers
    lr_g, lr_d = config.get("lr_g", config["lr"]), config.get("lr_d", config["lr"])
    if config["loss"] == "wgan":
        opt_g = optim.RMSprop(G.parameters(), lr=lr_g)
        opt_d = optim.RMSprop(D.parameters(), lr=lr_d)
    else:
        betas = (config["beta1"], config.get("beta2", 0.999))
        opt_g = optim.Adam(G.parameters(), lr=lr_g, betas=betas)
        opt_d = optim.Adam(D.parameters(), lr=lr_d, betas=betas)
    G_ema = models.build_generator(config).to(device) if config.get("ema", 0.0) else None
    diffaugment = config.get("diffaugment", "")
    return GAN(G, D, opt_g, opt_d, config["latent_dim"], loss=config["loss"], d_steps=config["d_steps"],
               label_smoothing=0.1 if config["label_smoothing"] else 0.0, clip_value=config["clip"],
               num_classes=config["num_classes"] or None, device=device, cuda_graph=cuda_graph,
               log_grad_norms=config.get("log_grad_norms", False), gp_weight=config.get("gp_weight", 10.0),
               r1_gamma=config.get("r1", 0.0), g_loss=config.get("g_loss", "default"),
               diffaugment=tuple(diffaugment.split(",")) if diffaugment else (), G_ema=G_ema,
               ema_decay=config.get("ema", 0.0) or 0.999)


def make_schedulers(config, gan):
    """--lr-schedule: [G's, D's] schedulers, decaying to 0 over the run's epochs, stepped once per epoch
    ([] for constant)."""
    kind, epochs = config.get("lr_schedule", "constant"), int(config.get("schedule_epochs", 1))
    if kind == "constant":
        return []
    if kind == "linear":
        return [optim.lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters=epochs)
                for opt in (gan.opt_g, gan.opt_d)]
    return [optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=0.0) for opt in (gan.opt_g, gan.opt_d)]


def data_root(config, args):
    """The folder to read the images from: --data-dir, else the one a resumed checkpoint recorded, else None
    (load_mnist's choice: $TINYGAN_DATA, then the cache)."""
    from tinygan.app import data
    if args.data_dir is not None:
        return pathlib.Path(args.data_dir).expanduser()
    recorded = config.get("data_dir")                # absent from checkpoints older than the field
    if recorded is None:
        return None
    recorded = pathlib.Path(recorded)
    if not recorded.is_dir() and recorded != data.default_data_dir(config["dataset"]):
        raise CLIError(f"the checkpoint's data folder {recorded} does not exist: pass --data-dir DIR")
    return recorded


def load_batches(config, args, device):
    """The epoch iterable of (real, labels) batches: MNIST on the device, or fresh toy samples. For MNIST it
    records in config["data_dir"] the folder the images came from (absolute), so --resume reads them again."""
    if config["arch"] == "toy":
        return toy.Batches(config["dataset"], config["batch_size"], config["steps_per_epoch"], device)
    from tinygan.app import data
    root = data_root(config, args)
    dataset, split, batch_size = config["dataset"], config["split"], config["batch_size"]
    try:
        images, labels = data.load_mnist(root, split=split, dataset=dataset, download=not args.no_download)
    except data.DatasetError as exc:
        raise CLIError(data_error_line(exc, args)) from None
    except ValueError as exc:                       # a dataset or split name from a foreign checkpoint
        raise CLIError(f"{exc}") from None
    if batch_size > len(images):
        raise CLIError(f"--batch-size {batch_size} is larger than the {len(images)} images of the {dataset} "
                       f"{split} split", 2)
    config["data_dir"] = os.path.abspath(data.data_dir(root, dataset))
    return data.MNISTBatches(images, labels, batch_size=batch_size, device=device,
                             shuffle=True, drop_last=True)               # yields (images, labels)


def data_error_line(exc, args, use="trains on it"):
    """load_mnist's message in one line: what is missing and where, and what to do about it (``use``: what
    --split OTHER would do with the other split, when it is there)."""
    lines = str(exc).splitlines()
    where = f" (in {exc.path})" if exc.path is not None and str(exc.path) not in lines[0] else ""
    if "not found" not in lines[0]:                 # corrupt files: the first line names the file and the fix
        return f"{lines[0]}{where}"
    tried = ("; nothing was downloaded (--no-download)" if args.no_download else
             "; downloading failed" if any("every mirror" in line for line in lines) else "")
    if exc.other_split:
        return (f"{lines[0]}{where}{tried}; the {exc.other_split} split is there: --split {exc.other_split} "
                f"{use}")
    return (f"{lines[0]}{where}{tried}; pass --data-dir DIR (a folder holding the MNIST IDX files, gzipped or "
            f"not) or set TINYGAN_DATA=DIR")


def fixed_inputs(config, device, n=None):
    """Noise (and labels) for the sample pictures, drawn from their own generator seeded by --seed: the same
    every epoch, and drawing them never disturbs the training's random stream."""
    if config["arch"] == "toy":
        n = n or toy.NUM_EVAL_SAMPLES
    else:
        n = n or (100 if config["num_classes"] else 64)
    rng = np.random.default_rng([config["seed"], 1])
    z = Tensor(rng.standard_normal((n, config["latent_dim"]), dtype=np.float32), device=device)
    labels = None
    if config["num_classes"]:
        labels = Tensor(np.arange(n, dtype=np.int64) % config["num_classes"], device=device)
    return z, labels


def generate(gan, z, labels=None):
    """The samples of G (or of G_ema when the run keeps one) for the given noise in eval mode (batch norm uses
    its running statistics), as NumPy."""
    G = gan.sampler
    was_training = G.training
    G.eval()
    try:
        with no_grad():
            return (G(z, labels) if gan.conditional else G(z)).numpy()
    finally:
        G.train(was_training)


# ==================================================================================================
# Progress
# ==================================================================================================
class _Progress:
    """A tqdm bar per epoch (live losses and images/s) when stderr is a terminal; else nothing."""

    def __init__(self, total, desc, enabled):
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=total, desc=desc, unit="step", leave=False, dynamic_ncols=True)

    def update(self, row, images_per_s):
        if self.bar is None:
            return
        if row is not None:
            self.bar.set_postfix_str(_summary(row, images_per_s), refresh=False)

    def advance(self, n=1):
        if self.bar is not None:
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _summary(row, images_per_s=None):
    text = (f"d_loss {row['d_loss']:.3f}  g_loss {row['g_loss']:.3f}  D(x) {row['d_real']:.3f}  "
            f"D(G(z)) {row['d_fake']:.3f}")
    if images_per_s:
        text += f"  {images_per_s:,.0f} img/s"
    return text


# ==================================================================================================
# The run
# ==================================================================================================
def _sample_picture(gan, config, fixed, out, name):
    """Draw the fixed noise through G and save the picture (grid, or scatter for the toy problem)."""
    samples = generate(gan, *fixed)
    path = out / "samples" / f"{name}.png"
    if config["arch"] == "toy":
        modes, std = toy.mixture(config["dataset"])
        m = toy.mode_metrics(samples, modes, std)
        plotting.save_scatter(samples, modes, path, title=f"{name}: {m['modes']}/{m['num_modes']} modes, "
                                                          f"{m['high_quality']:.0f}% high quality")
        return m
    if config["num_classes"]:                      # fixed_inputs draws the classes in turn: one per column
        plotting.save_grid(samples, path, nrow=config["num_classes"],
                           column_labels=[str(c) for c in range(config["num_classes"])])
    else:
        plotting.save_grid(samples, path, nrow=8)
    return None


class Evaluator:
    """--eval-every: the judge, the real split cut into a reference half and held-out images (scored once)
    and fixed latent points (their own seeded generator: the training's random stream is not touched), set
    up before training; ``row(gan, epoch, step)`` scores G's samples as one eval.csv row."""

    def __init__(self, config, args, device):
        from tinygan.app import data, evaluate
        self.every, self.n, self.device = args.eval_every, args.eval_samples or EVAL_SAMPLES, device
        judge = evaluate.get_judge(device)
        try:
            images, labels = data.load_mnist(config.get("data_dir"), split=config["split"], dataset="mnist",
                                             download=False)
        except data.DatasetError as exc:
            raise CLIError(data_error_line(exc, args)) from None
        self.split = config["split"]
        self.reference = evaluate.Reference(judge, images, labels, seed=config["seed"], max_half=EVAL_REAL,
                                            name=f"the MNIST {config['split']} split")
        self.z, self.labels = evaluate.latent_inputs(config, self.n, np.random.default_rng([config["seed"], 2]))
        floor = self.reference.floor(self.n)
        self.floor = {"fld": floor["fld"], "classifier_score": floor["classifier_score"], "digits": floor["digits"],
                      "kl": floor["kl_to_real"], "precision": floor["precision"], "recall": floor["recall"]}

    def due(self, epoch, last):
        return epoch % self.every == 0 or epoch == last

    def row(self, gan, epoch, step, chunk=500):
        from tinygan.app import evaluate
        s = self.reference.score(evaluate.draw(gan.sampler, self.z, self.labels, self.device, chunk))
        return [epoch, step, s["fld"], s["classifier_score"], s["digits"], s["kl_to_real"], s["precision"],
                s["recall"]]

    def summary(self, row):
        """The last row's numbers, each with the real-data floor in brackets."""
        values = dict(zip(EVAL_COLUMNS, row))
        f = self.floor
        return (f"epoch {int(values['epoch'])} samples ({self.n:,} vs {self.reference.size:,} real MNIST {self.split} "
                f"images; real images' floor in brackets): FLD {values['fld']:.2f} ({f['fld']:.2f}), classifier "
                f"score {values['classifier_score']:.2f} ({f['classifier_score']:.2f}), digits "
                f"{int(values['digits'])}/10 ({f['digits']}/10), KL {values['kl']:.3f} ({f['kl']:.3f}), precision "
                f"{values['precision']:.3f} ({f['precision']:.3f}), recall {values['recall']:.3f} "
                f"({f['recall']:.3f})")


def _short_eval(row):
    values = dict(zip(EVAL_COLUMNS, row))
    return (f"  FLD {values['fld']:.2f}  digits {int(values['digits'])}/10  precision {values['precision']:.2f}  "
            f"recall {values['recall']:.2f}")


def _write_tables(out, log, toy_rows, gan, eval_rows=(), eval_floor=None):
    history = log.as_arrays()
    rows = [[int(r[0]), int(r[1])] + r[2:] for r in log.rows]
    plotting.write_csv(out / "metrics.csv", ["step", "epoch", *log.columns], rows)
    if len(rows):
        plotting.save_loss_curves(history, out / "losses.png")
        if gan.log_grad_norms:
            plotting.save_grad_norms(history, gan.grad_norm_labels(), out / "grad_norms.png")
    if toy_rows:
        plotting.write_csv(out / "modes.csv", ["epoch", "step", "modes", "num_modes", "high_quality", "reverse_kl"],
                           toy_rows)
    if len(eval_rows):
        rows = [[int(r[0]), int(r[1]), *r[2:4], int(r[4]), *r[5:]] for r in eval_rows]
        plotting.write_csv(out / "eval.csv", EVAL_COLUMNS, rows)
        columns = {name: [r[i] for r in eval_rows] for i, name in enumerate(EVAL_COLUMNS)}
        plotting.save_eval_curves(columns, out / "eval.png", floor=eval_floor)
    frames = sorted(p for pattern in SAMPLE_PATTERNS for p in (out / "samples").glob(pattern))
    plotting.save_gif(frames, out / "samples.gif")
    return history


class RunState:
    """What this run has safely on disk, for the line an interrupted or failed run prints."""

    def __init__(self):
        self.checkpoint = None      # the newest checkpoint this run can resume from (at first the --resume one)
        self.saved_epoch = None     # the epoch that checkpoint holds
        self.epoch = None           # the epoch being trained; None before training starts
        self.epochs = None          # --epochs: the total to train
        self.out = None
        self.kept = None            # --overwrite: (the run in --out, still untouched; what to do), see kept_run


def train(arch, args, prog, state=None):
    """Run (or resume) training as the options say; returns the output folder. ``state`` (a RunState) is
    kept up to date with the newest checkpoint written."""
    state = state if state is not None else RunState()
    quiet = args.quiet
    epochs = state.epochs = args.epochs or DEFAULTS[arch]["epochs"]
    state.checkpoint = pathlib.Path(args.resume) if args.resume else None
    ckpt = load_checkpoint(args.resume) if args.resume else None
    if ckpt is not None:
        state.saved_epoch = int(ckpt["epoch"])
        config = ckpt["config"]
        if config.get("arch") != arch:
            raise CLIError(f"{args.resume} holds a {config.get('arch')!r} model; this example "
                           f"trains {arch!r} models", 2)
        config = _merge_resumed_config(config, args, prog)
    else:
        config = _config_from_args(arch, args)
    out = state.out = pathlib.Path(args.out) if args.out else (
        pathlib.Path(args.resume).parent if ckpt is not None else pathlib.Path("runs") / arch)
    if ckpt is not None and ckpt["epoch"] >= epochs:
        if not quiet:
            print(f"{args.resume} has already trained {ckpt['epoch']} epochs (--epochs {epochs}): nothing to do")
        return out
    _check_remedies(config, epochs, resumed=ckpt is not None)
    if getattr(args, "eval_every", None) and config["dataset"] != "mnist":
        raise CLIError(f"--eval-every scores digits with an MNIST classifier; this run trains on "
                       f"{config['dataset']}", 2)
    check_out(out, args, ckpt)
    state.kept = kept_run(out) if args.overwrite else None     # untouched until this run's first checkpoint
    device = resolve_device(args.device, quiet)
    _check(not args.cuda_graph or device == "gpu", "--cuda-graph needs --device gpu")
    log_every = args.log_every or (50 if device == "gpu" else 1)

    tinygan.manual_seed(config["seed"])            # weight initialisation, then shuffles and noise
    batches = load_batches(config, args, device)
    gan = make_gan(config, device, cuda_graph=args.cuda_graph)
    log = MetricsLog(log_every, gan.metric_names)
    evaluator = Evaluator(config, args, device) if getattr(args, "eval_every", None) else None
    start_epoch, step, toy_rows, eval_rows = 0, 0, [], []
    schedulers = []
    if ckpt is not None:
        try:
            gan.G.load_state_dict(ckpt["G"])
            gan.D.load_state_dict(ckpt["D"])
            gan.opt_g.load_state_dict(ckpt["opt_g"])
            gan.opt_d.load_state_dict(ckpt["opt_d"])
            if gan.ema is not None:
                gan.ema.load_state_dict({"G_ema": ckpt["G_ema"], "updates": ckpt["ema_updates"]})
            schedulers = make_schedulers(config, gan)         # after the optimizers: their lr is the saved one
            for scheduler, key in zip(schedulers, ("sched_g", "sched_d")):
                scheduler.load_state_dict(ckpt[key])
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise CLIError(f"checkpoint {args.resume} does not match the model it describes: "
                           f"{' '.join(str(exc).split())}") from None
        start_epoch, step = int(ckpt["epoch"]), int(ckpt["step"])
        try:
            log.load_arrays(ckpt["history"])
        except KeyError as exc:
            raise CLIError(f"checkpoint {args.resume}: its history has no column {exc}") from None
        toy_rows = [list(r) for r in np.asarray(ckpt.get("toy_history", np.zeros((0, 6)))).reshape(-1, 6)]
        eval_rows = [list(r) for r in np.asarray(ckpt.get("eval_history", np.zeros((0, 8)))).reshape(-1, 8)]

    else:
        schedulers = make_schedulers(config, gan)
    fixed = fixed_inputs(config, device)
    k = config["d_steps"]
    per_epoch = len(batches) // k
    if args.limit_batches:
        per_epoch = min(per_epoch, args.limit_batches)
    if per_epoch < 1 and config["arch"] == "toy":
        raise CLIError(f"--steps-per-epoch {len(batches)} is fewer than --d-steps {k}: an epoch would have no "
                       f"generator step", 2)
    if per_epoch < 1:
        raise CLIError(f"--batch-size {config['batch_size']} with --d-steps {k} needs {config['batch_size'] * k} "
                       f"images per step, more than the {batches.num_samples} images of the {config['dataset']} "
                       f"{config['split']} split", 2)
    out.mkdir(parents=True, exist_ok=True)
    # --overwrite into a folder holding a run: this run writes into a hidden folder there until its first
    # checkpoint, and only then do the earlier run's files make way for its own (replace_run); a run that
    # stops before that removes its folder and leaves the earlier run as it was
    staging = stage_run(out) if state.kept is not None else None
    work = staging or out                           # where this run's files go now
    if not quiet:
        print(f"{prog}: {config['arch']} GAN, loss {config['loss']}, {models.num_parameters(gan.G):,} G and "
              f"{models.num_parameters(gan.D):,} D parameters, {per_epoch} steps per epoch, on {device}"
              f"{', logging gradient norms' if gan.log_grad_norms else ''}{remedies_line(config)}; writing to {out}"
              f"{' (the run there stays until this one saves its first checkpoint)' if staging else ''}")
    show_bar = not quiet and sys.stderr.isatty()
    ckpt_path = out / CHECKPOINT_NAME
    try:
        for epoch in range(start_epoch + 1, epochs + 1):
            state.epoch = epoch
            # Each epoch's shuffle and noise come from a seed derived from (--seed, epoch), so a resumed run
            # draws what an uninterrupted one would, on the GPU too (CuPy's generator state cannot be saved).
            tinygan.manual_seed(config["seed"] * 100_003 + epoch)
            gan.manual_seed(config["seed"] * 100_003 + epoch)    # the in-graph noise of --cuda-graph
            bar = _Progress(per_epoch, f"epoch {epoch}/{epochs}", show_bar)
            started, images = time.perf_counter(), 0
            data = iter(batches)
            try:
                for _ in range(per_epoch):
                    group = [next(data) for _ in range(k)]
                    metrics = gan.train_step(group)
                    step += 1
                    images += sum(real.shape[0] for real, _ in group)
                    if log.add(step, epoch, metrics):
                        bar.update(log.latest(), images / max(time.perf_counter() - started, 1e-9))
                    bar.advance()
                    if args.sample_every and step % args.sample_every == 0:
                        _sample_picture(gan, config, fixed, work, f"step_{step:07d}")
                log.flush()
                if backend.check_device(device) == "gpu":
                    backend.synchronize(device)
            finally:
                bar.close()
            elapsed = time.perf_counter() - started
            for scheduler in schedulers:                    # --lr-schedule: the next epoch's learning rates
                scheduler.step()
            m = _sample_picture(gan, config, fixed, work, f"epoch_{epoch:04d}") if not args.sample_every else None
            if config["arch"] == "toy":
                if m is None:
                    m = toy.mode_metrics(generate(gan, *fixed), *toy.mixture(config["dataset"]))
                toy_rows.append([epoch, step, m["modes"], m["num_modes"], m["high_quality"], m["reverse_kl"]])
            evaluated = evaluator is not None and evaluator.due(epoch, epochs)
            if evaluated:
                eval_rows.append(evaluator.row(gan, epoch, step))
            history = _write_tables(work, log, toy_rows, gan, eval_rows, evaluator and evaluator.floor)
            save_checkpoint(work / CHECKPOINT_NAME, gan, config, epoch, step, history,
                            {"toy_history": np.asarray(toy_rows, dtype=np.float64).reshape(-1, 6),
                             "eval_history": np.asarray(eval_rows, dtype=np.float64).reshape(-1, 8),
                             **{key: sch.state_dict() for key, sch in zip(("sched_g", "sched_d"), schedulers)}})
            with ctrl_c_held():                     # the files and what the Ctrl-C line says change together
                if staging is not None:             # this run's first checkpoint: now it replaces the old run
                    replace_run(out, staging)
                    staging, work, state.kept = None, out, None
                state.checkpoint, state.saved_epoch = ckpt_path, epoch
            if not quiet:
                line = (f"epoch {epoch}/{epochs}  step {step}  "
                        f"{_summary(log.latest(), images / max(elapsed, 1e-9))}")
                if m is not None:
                    line += (f"  modes {m['modes']}/{m['num_modes']}  high quality {m['high_quality']:.1f}%  "
                             f"reverse KL {m['reverse_kl']:.3f}")
                if evaluated:
                    line += _short_eval(eval_rows[-1])
                print(line, flush=True)
        if not quiet:
            print(f"wrote {out}/: samples/, samples.gif, losses.png, "
                  f"{'grad_norms.png, ' if gan.log_grad_norms else ''}metrics.csv{', modes.csv' if toy_rows else ''}"
                  f"{', eval.csv, eval.png' if eval_rows else ''}, {CHECKPOINT_NAME}")
            if evaluator is not None:
                print(f"eval: {evaluator.summary(eval_rows[-1])}")
    finally:
        if staging is not None:                     # stopped before its first checkpoint: the old run stays
            shutil.rmtree(staging, ignore_errors=True)
    return out


def _check_remedies(config, epochs, resumed):
    """What the options cannot check alone: batch sizes that packs and groups divide, and a schedule's end."""
    batch, pack, group = config["batch_size"], config.get("pack", 1), config.get("mbstd_group", 0)
    _check(batch % pack == 0, f"--batch-size {batch} is not a multiple of --pack {pack}: D sees the batch in packs "
                              f"of {pack} samples")
    _check(not group or (batch // pack) % group == 0,
           f"--mbstd-group {group} does not divide the {batch // pack} " + ("packs" if pack > 1 else "samples")
           + f" D sees per batch (--batch-size {batch}" + (f", --pack {pack}" if pack > 1 else "") + ")")
    schedule, last = config.get("lr_schedule", "constant"), config.get("schedule_epochs", epochs)
    if resumed and schedule != "constant" and epochs > last:
        raise CLIError(f"--epochs {epochs}: the run's --lr-schedule {schedule} brings the learning rates to 0 at "
                       f"epoch {last}; train at most {last} epoch{'' if last == 1 else 's'} in all, or start a "
                       f"new run", 2)


def remedies_line(config):
    """"; R1 penalty 10, pack 2, ema 0.999" for the run's opening line ("" for a plain run)."""
    parts = [f"R1 penalty {config['r1']:g}" if config.get("r1") else "",
             f"pack {config['pack']}" if config.get("pack", 1) > 1 else "",
             ("mbstd" + (f" (groups of {config['mbstd_group']})" if config.get("mbstd_group") else ""))
             if config.get("mbstd") else "",
             "spectral norm" if config.get("spectral_norm") else "",
             f"DiffAugment {config['diffaugment']}" if config.get("diffaugment") else "",
             "feature matching" if config.get("g_loss", "default") != "default" else "",
             f"ema {config['ema']:g}" if config.get("ema") else "",
             (f"lr G {config['lr_g']:g}, D {config['lr_d']:g}" if config.get("lr_g", config["lr"]) != config.get(
                 "lr_d", config["lr"]) else ""),
             f"{config['lr_schedule']} lr schedule" if config.get("lr_schedule", "constant") != "constant" else ""]
    parts = [p for p in parts if p]
    recipe = config.get("recipe", "plain")
    return (f"; recipe {recipe}" if recipe != "plain" else "") + (f"; {', '.join(parts)}" if parts else "")


def resume_command(prog, args, state):
    """The command line that continues this run from its newest checkpoint, with the options it was given
    that the checkpoint does not record."""
    script = sys.argv[0] if os.path.basename(sys.argv[0]) == prog else f"examples/{prog}"
    words = ["python", script, "--resume", str(state.checkpoint), "--epochs", str(state.epochs)]
    if state.out is not None and not _same_folder(state.out, state.checkpoint.parent):
        words += ["--out", str(state.out)]          # resumed into another folder that has no checkpoint yet
        if run_outputs(state.out):
            words.append("--overwrite")             # its pictures of the unfinished epoch
    if args.device != "auto":
        words += ["--device", args.device]
    for name in ("data_dir", "limit_batches", "sample_every", "log_every", "eval_every", "eval_samples"):
        if getattr(args, name, None) is not None:
            words += ["--" + name.replace("_", "-"), str(getattr(args, name))]
    for name in ("no_download", "quiet", "cuda_graph"):
        if getattr(args, name, False):
            words.append("--" + name.replace("_", "-"))
    return " ".join(shlex.quote(word) for word in words)


def _saved(state):
    """Which checkpoint of this run is intact, or that there is none (and, with --overwrite before this run's
    first checkpoint, that the run it was to replace is untouched)."""
    if state.checkpoint is None:
        if state.kept is not None:
            return f"this run saved no checkpoint, so {state.kept[0]}"
        return "no epoch completed, so no checkpoint was saved"
    held = "" if state.saved_epoch is None else f" (epoch {state.saved_epoch})"
    return f"the checkpoint {state.checkpoint}{held} is intact" + ("" if state.kept is None else f"; {state.kept[0]}")


def _interrupted(prog, args, state):
    """The line Ctrl-C prints: where training stopped, what is saved, and how to go on."""
    where = ("before training started" if state.epoch is None else
             f"after epoch {state.epoch} of {state.epochs}" if state.saved_epoch == state.epoch else
             f"in epoch {state.epoch} of {state.epochs}")
    if state.checkpoint is not None:
        return f"{prog}: interrupted {where}; {_saved(state)}; resume with: {resume_command(prog, args, state)}"
    if state.kept is not None:                      # --overwrite, before this run's first checkpoint
        return f"{prog}: interrupted {where}; no checkpoint was saved yet, so {state.kept[0]}: {state.kept[1]}"
    again = "; start again with --overwrite" if state.out is not None and run_outputs(state.out) else ""
    return f"{prog}: interrupted {where}; no checkpoint was saved yet, so there is nothing to resume{again}"


def run_command(prog, parser, body, argv=None, interrupted=None):
    """Parse ``argv`` and call ``body(args)``; what a user can cause ends as one line on stderr and an exit code
    (0 ok, 1 a run error, 2 bad options, 130 Ctrl-C). The small commands (python -m tinygan.sample, .evaluate,
    examples/gan_from_scratch.py) use it. ``interrupted(args)``: what Ctrl-C stopped and what was or was not
    written, for the line "<prog>: interrupted <that>" once the options are parsed."""
    args = None
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:       # --help
            return exc.code or 0
        body(args)
        return 0
    except KeyboardInterrupt:
        detail = interrupted(args) if interrupted is not None and args is not None else None
        print(f"{prog}: interrupted{' ' + detail if detail else ''}", file=sys.stderr)
        return 130
    except CLIError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.code
    except (backend.DeviceUnavailableError, OSError) as exc:
        print(f"{prog}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


def main(argv=None, arch="mlp", prog=None):
    """Entry point of the examples: returns the exit code (0 ok, 1 run error, 2 bad options, 130 Ctrl-C)."""
    prog = prog or {"mlp": "mnist_mlp_gan.py", "dcgan": "mnist_dcgan.py", "toy": "toy_2d_gan.py"}[arch]
    args, state = None, RunState()
    try:
        parser = build_parser(arch, prog)
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:                   # --help
            return exc.code or 0
        apply_recipe(args, arch)
        _validate(args, prog)
        backend.keep_freed_memory()                 # no page faults on each step's fresh arrays
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # a NaN loss is reported below
            train(arch, args, prog, state)
        return 0
    except CLIError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.code
    except NonFiniteLossError as exc:
        print(f"{prog}: error: {exc}; {_saved(state)}", file=sys.stderr)
        return 1
    except OSError as exc:                          # a disk that fills up or goes away while training
        print(f"{prog}: error: {' '.join(str(exc).split())}; {_saved(state)}", file=sys.stderr)
        return 1
    except backend.DeviceUnavailableError as exc:
        print(f"{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args is None:
            print(f"{prog}: interrupted", file=sys.stderr)
        else:
            print(_interrupted(prog, args, state), file=sys.stderr)
        return 130

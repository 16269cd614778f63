"""The examples' command-line options: the parser, --recipe's bundles, the checks, and the run's config.

``build_parser(arch)`` makes the parser of one example ("mlp", "dcgan" or "toy"); an option not given is None,
so a resumed run can tell an option the user typed from a default, and the loss can pick its own learning
rate. ``apply_recipe`` fills the options not given from --recipe's bundle, ``validate`` checks each option on
its own, ``config_from_args`` turns them into the run's config (what the checkpoint records), and
``merge_resumed_config`` checks the options given to a resumed run against its checkpoint's config.
``check_config`` checks what needs the whole config.
"""
import argparse
import math
import os

from tinygan.app import augment, models, toy
from tinygan.app.checkpoint import CHECKPOINT_NAME
from tinygan.app.errors import CLIError, OneLineParser, check
from tinygan.app.gan import G_LOSSES, LOSSES, WASSERSTEIN

EVAL_SAMPLES = 2000                 # generated samples per --eval-every evaluation
EVAL_REAL = 5000                    # real images they are compared with (and as many others for the floor)

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

# --recipe: named bundles of options; an option given on the command line wins. "plain" is the examples' own
# defaults. "best" is what measured best so far, with what each remedy did and what did not help in
# benchmarks/QUALITY.md: for the toy, the R1 penalty on D's real points with G's moving average, a learning rate
# decaying to 0, four hidden layers of 64, a 2-D latent and 25,000 steps; for the MLP GAN, the R1 penalty; for the
# DCGAN, the R1 penalty (so its D takes LayerNorm instead of BatchNorm) with batches of 8.
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
# the remedies' settings of a checkpoint that does not record them: all off
REMEDY_DEFAULTS = {"recipe": "plain", "pack": 1, "mbstd": False, "mbstd_group": 0, "ema": 0.0, "g_loss": "default",
                   "lr_schedule": "constant", "spectral_norm": False, "diffaugment": ""}


# ==================================================================================================
# The parser
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
    image = arch != "toy"
    p = OneLineParser(prog=prog, description=DESCRIPTIONS[arch], allow_abbrev=False,
                      epilog="Outputs in --out: samples/*.png (fixed-noise samples per epoch or every --sample-every "
                             "steps), samples.gif, losses.png, metrics.csv" + ("" if image else ", modes.csv")
                             + " (grad_norms.png with --log-grad-norms"
                             + (", eval.csv and eval.png with --eval-every" if image else "") + ")"
                             + f" and {CHECKPOINT_NAME} (written atomically after every epoch; "
                             "draw from it with python -m tinygan.sample).")
    _add_training(p, arch)
    if image:
        _add_images(p)
    else:
        _add_points(p)
    _add_remedies(p, arch)
    _add_run(p, arch)
    return p


def _add_training(p, arch):
    """The device, the length of training, the networks' sizes, the loss and the optimizers."""
    d = DEFAULTS[arch]
    image = arch != "toy"
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
                        "2017: Adam lr 1e-4, betas (0.0, 0.9), 5 critic steps; the DCGAN critic's BatchNorm becomes "
                        "LayerNorm)")
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


def _add_images(p):
    """MNIST or Fashion-MNIST: which images, where they are, and --eval-every's digit scores."""
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


def _add_points(p):
    """The toy's 2-D mixtures of Gaussians (its --eval-every is refused: it writes modes.csv every epoch)."""
    d = DEFAULTS["toy"]
    p.add_argument("--eval-every", type=_int, default=None, help=argparse.SUPPRESS)   # refused: modes.csv
    p.add_argument("--dataset", choices=toy.DATASETS, default=None,
                   help="ring: 8 Gaussians on a circle (default); grid: 25 Gaussians on a 5x5 grid")
    p.add_argument("--steps-per-epoch", type=_int, default=None,
                   help=f"training steps per epoch (default: {d['steps_per_epoch']})")


def _add_run(p, arch):
    """Where the run's files go, resuming, and what is logged and shown while it trains."""
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


def _add_remedies(p, arch):
    """The options for mode collapse and instability, each off by default."""
    g = p.add_argument_group("remedies for mode collapse and instability (all off by default; --recipe bundles them)")
    best = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in RECIPES[arch]["best"].items())
    g.add_argument("--recipe", choices=tuple(RECIPES[arch]), default=None,
                   help="plain (default): the options' defaults as above; best: "
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


# ==================================================================================================
# Filling in and checking the options
# ==================================================================================================
def apply_recipe(args, arch):
    """Fill the options the user did not give from --recipe's bundle. A --loss wgan or wgan-gp given with it wins
    over the bundle's R1 penalty too (their critics keep Lipschitz their own way; --r1 with them is refused)."""
    for key, value in RECIPES[arch][args.recipe or "plain"].items():
        if key == "r1" and args.loss in WASSERSTEIN:
            continue
        if getattr(args, key) is None:
            setattr(args, key, value)


def validate(args, prog):
    """Every number in range, with one clear line naming the option otherwise."""
    def positive(name, value):
        check(value is None or value >= 1, f"--{name} must be a positive integer, got {value}")

    for name in ("epochs", "batch_size", "latent_dim", "d_steps", "limit_batches", "log_every"):
        positive(name.replace("_", "-"), getattr(args, name))
    if getattr(args, "steps_per_epoch", None) is not None:
        positive("steps-per-epoch", args.steps_per_epoch)
    if not hasattr(args, "eval_samples"):
        check(args.eval_every is None, f"{prog} counts the modes it captured after every epoch already (modes.csv); "
                                       f"--eval-every scores the MNIST examples' digits")
    else:
        positive("eval-every", args.eval_every)
        check(args.eval_samples is None or args.eval_samples >= 10,
              f"--eval-samples must be at least 10 (the classifier score's 10 splits), got {args.eval_samples}")
    check(args.sample_every is None or args.sample_every >= 0,
          f"--sample-every must be 0 (once per epoch) or a positive number of steps, "
          f"got {args.sample_every}")
    check(args.lr is None or (math.isfinite(args.lr) and args.lr > 0),
          f"--lr must be a positive number, got {args.lr}")
    check(args.gp_weight is None or (math.isfinite(args.gp_weight) and args.gp_weight >= 0),
          f"--gp-weight must be a number >= 0, got {args.gp_weight}")
    check(args.gp_weight is None or args.loss == "wgan-gp", "--gp-weight goes with --loss wgan-gp")
    check(args.r1 is None or (math.isfinite(args.r1) and args.r1 >= 0), f"--r1 must be a number >= 0, got {args.r1}")
    check(args.r1 is None or args.loss not in WASSERSTEIN,
          f"--r1 is for the other losses; --loss {args.loss} keeps its critic Lipschitz its own way")
    for name in ("lr_g", "lr_d"):
        value = getattr(args, name)
        check(value is None or (math.isfinite(value) and value > 0),
              f"--{name.replace('_', '-')} must be a positive number, got {value}")
    positive("pack", args.pack)
    positive("mbstd-group", args.mbstd_group)
    check(args.mbstd_group is None or args.mbstd, "--mbstd-group goes with --mbstd")
    check(args.ema is None or (math.isfinite(args.ema) and 0.0 < args.ema < 1.0),
          f"--ema must be a decay in (0, 1) such as 0.999, got {args.ema}")
    if args.diffaugment is not None:
        check(hasattr(args, "eval_samples"), f"--diffaugment transforms images; {prog} trains on 2-D points")
        try:
            augment.parse_policy(args.diffaugment)
        except ValueError as exc:
            raise CLIError(f"{exc}", 2) from None
    check(args.beta1 is None or 0.0 <= args.beta1 < 1.0,
          f"--beta1 must be in [0, 1), got {args.beta1}")
    check(args.clip is None or (math.isfinite(args.clip) and args.clip > 0),
          f"--clip must be a positive number, got {args.clip}")
    check(args.seed is None or args.seed >= 0, f"--seed must be >= 0, got {args.seed}")
    if args.hidden is not None:
        try:
            models.parse_sizes(args.hidden)
        except ValueError as exc:
            raise CLIError(f"{exc}", 2) from None
    check(not (args.cuda_graph and args.device == "cpu"), "--cuda-graph needs --device gpu")
    if args.resume is not None:
        check(os.path.isfile(args.resume), f"--resume: no such checkpoint file: {args.resume}")
    data_dir = getattr(args, "data_dir", None)
    if data_dir is not None:
        check(os.path.exists(os.path.expanduser(data_dir)), f"--data-dir {data_dir} does not exist")
        check(os.path.isdir(os.path.expanduser(data_dir)), f"--data-dir {data_dir} is not a folder")


def config_from_args(arch, args):
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


def merge_resumed_config(config, args, prog):
    """A resumed run keeps the checkpoint's settings; an option that contradicts them is an error."""
    config.setdefault("log_grad_norms", False)       # a checkpoint without the key did not log them
    for key, value in (("beta2", 0.999), ("gp_weight", 10.0), ("r1", 0.0), ("d_norm", "batch")):
        config.setdefault(key, value)                # a checkpoint without wgan-gp's and --r1's keys
    for key, value in REMEDY_DEFAULTS.items():
        config.setdefault(key, value)                # a checkpoint without the remedies' keys
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


def check_config(config, args, epochs, resumed):
    """What the options cannot check alone: batch sizes that packs and groups divide, a schedule's end, and
    --eval-every's MNIST classifier on the run's dataset."""
    batch, pack, group = config["batch_size"], config.get("pack", 1), config.get("mbstd_group", 0)
    check(batch % pack == 0, f"--batch-size {batch} is not a multiple of --pack {pack}: D sees the batch in packs "
                             f"of {pack} samples")
    check(not group or (batch // pack) % group == 0,
          f"--mbstd-group {group} does not divide the {batch // pack} " + ("packs" if pack > 1 else "samples")
          + f" D sees per batch (--batch-size {batch}" + (f", --pack {pack}" if pack > 1 else "") + ")")
    schedule, last = config.get("lr_schedule", "constant"), config.get("schedule_epochs", epochs)
    if resumed and schedule != "constant" and epochs > last:
        raise CLIError(f"--epochs {epochs}: the run's --lr-schedule {schedule} brings the learning rates to 0 at "
                       f"epoch {last}; train at most {last} epoch{'' if last == 1 else 's'} in all, or start a "
                       f"new run", 2)
    if getattr(args, "eval_every", None) and config["dataset"] != "mnist":
        raise CLIError(f"--eval-every scores digits with an MNIST classifier; this run trains on "
                       f"{config['dataset']}", 2)

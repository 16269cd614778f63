"""The command-line driver behind the three examples: options, checks, the training loop and its outputs.

examples/mnist_mlp_gan.py, examples/mnist_dcgan.py and examples/toy_2d_gan.py each call ``main(argv, arch)``
with their architecture ("mlp", "dcgan", "toy"); everything else is shared:

    parse and check the options -> pick the device -> load the data -> build G, D and their optimizers
    (or rebuild them from --resume) -> for each epoch: train steps (tinygan.app.gan.GAN.train_step), then write
    the sample grid, metrics.csv, the loss curves, the GIF and the checkpoint.

Errors a user can cause (bad options, no GPU, missing or corrupt data, a loss that became NaN, a bad
checkpoint) end the program with one line on stderr and a non-zero exit code, never a traceback:
2 for bad options, 1 for everything else.
"""
import argparse
import math
import os
import pathlib
import sys
import time

import numpy as np

import tinygan
from tinygan import backend, optim
from tinygan.app import models, plotting, toy
from tinygan.app.gan import LOSSES, GAN, MetricsLog, NonFiniteLossError
from tinygan.tensor import Tensor, no_grad

CHECKPOINT_FORMAT = "tinygan-gan-checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.npz"

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
TOY_ADAM_LR, TOY_WGAN_LR = 1e-3, 1e-3

# config keys fixed by the checkpoint when resuming (the option that sets each)
RESUME_FIXED = {"latent_dim": "--latent-dim", "hidden": "--hidden", "loss": "--loss", "d_steps": "--d-steps",
                "lr": "--lr", "beta1": "--beta1", "batch_size": "--batch-size", "dataset": "--dataset",
                "split": "--split", "seed": "--seed", "label_smoothing": "--label-smoothing",
                "clip": "--clip", "steps_per_epoch": "--steps-per-epoch", "conditional": "--conditional"}


class CLIError(Exception):
    """An error to report as one line on stderr, with an exit code."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
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
    p = _Parser(prog=prog, description=DESCRIPTIONS[arch],
                epilog="Outputs in --out: samples/*.png (fixed-noise samples per epoch or every --sample-every "
                       "steps), samples.gif, losses.png, metrics.csv" + ("" if image else ", modes.csv")
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
    p.add_argument("--beta1", type=_float, default=None, help="Adam's beta1 (default: 0.5; beta2 is 0.999)")
    p.add_argument("--latent-dim", type=_int, default=None,
                   help=f"size of the noise vector z (default: {d['latent_dim']})")
    p.add_argument("--hidden", default=None,
                   help={"mlp": "G's hidden widths, comma-separated; D uses them reversed (default: 256,512)",
                         "dcgan": "D's two conv channel counts; G uses them reversed (default: 64,128)",
                         "toy": "G's hidden widths; D uses them reversed (default: 128,128)"}[arch])
    p.add_argument("--loss", choices=LOSSES, default=None,
                   help="nonsaturating (default): G maximises log D(G(z)); minimax: the original log(1 - D(G(z))); "
                        "lsgan: least squares; hinge; wgan: Wasserstein critic with weight clipping, trained "
                        "with RMSprop")
    p.add_argument("--d-steps", type=_int, default=None,
                   help="discriminator steps per generator step, each on a new real batch (default: 1, 5 for wgan)")
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
                       help="folder with the IDX files (default: $TINYGAN_DATA, else ~/.cache/tinygan/<dataset>; "
                            "missing files are downloaded there)")
        p.add_argument("--split", choices=("train", "test"), default=None,
                       help="train on the 60k train split (default) or the 10k test split")
        p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
    else:
        p.add_argument("--dataset", choices=toy.DATASETS, default=None,
                       help="ring: 8 Gaussians on a circle (default); grid: 25 Gaussians on a 5x5 grid")
        p.add_argument("--steps-per-epoch", type=_int, default=None,
                       help=f"training steps per epoch (default: {d['steps_per_epoch']})")
    p.add_argument("--out", default=None,
                   help=f"output folder (default: runs/{arch}; with --resume, the checkpoint's folder)")
    p.add_argument("--seed", type=_int, default=None, help="random seed (default: 0)")
    p.add_argument("--resume", metavar="CHECKPOINT", default=None,
                   help="continue training from a checkpoint this example wrote, up to --epochs in total")
    p.add_argument("--sample-every", type=_int, default=None,
                   help="save a sample picture every N steps instead of once per epoch (default: per epoch)")
    p.add_argument("--limit-batches", type=_int, default=None, metavar="N",
                   help="stop each epoch after N steps (for quick smoke runs)")
    p.add_argument("--log-every", type=_int, default=None,
                   help="read losses back from the GPU every N steps (default: 1 on the CPU, 50 on the GPU)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no per-epoch lines")
    return p


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
    _check(args.sample_every is None or args.sample_every >= 0,
           f"--sample-every must be 0 (once per epoch) or a positive number of steps, "
           f"got {args.sample_every}")
    _check(args.lr is None or (math.isfinite(args.lr) and args.lr > 0),
           f"--lr must be a positive number, got {args.lr}")
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
    if args.resume is not None:
        _check(os.path.isfile(args.resume), f"--resume: no such checkpoint file: {args.resume}")


def _config_from_args(arch, args):
    """The run's full config (model and training settings: numbers and strings) from the options."""
    d = DEFAULTS[arch]
    loss = args.loss or "nonsaturating"
    if arch == "toy":
        lr = args.lr or (TOY_WGAN_LR if loss == "wgan" else TOY_ADAM_LR)
    else:
        lr = args.lr or (WGAN_LR if loss == "wgan" else ADAM_LR)
    conditional = bool(getattr(args, "conditional", None))
    out_shape = (2,) if arch == "toy" else (1, 28, 28)
    try:
        config = models.make_config(arch, args.latent_dim or d["latent_dim"], args.hidden,
                                    10 if conditional else 0, out_shape)
    except ValueError as exc:
        raise CLIError(f"{exc}", 2) from None
    config.update({
        "loss": loss, "d_steps": args.d_steps or (5 if loss == "wgan" else 1), "lr": float(lr),
        "beta1": 0.5 if args.beta1 is None else float(args.beta1),
        "batch_size": args.batch_size or d["batch_size"], "dataset": args.dataset or d["dataset"],
        "split": getattr(args, "split", None) or d["split"], "seed": 0 if args.seed is None else args.seed,
        "label_smoothing": bool(args.label_smoothing),
        "clip": d.get("clip", 0.01) if args.clip is None else float(args.clip),
        "conditional": conditional,
        "steps_per_epoch": getattr(args, "steps_per_epoch", None) or d.get("steps_per_epoch", 0),
    })
    return config


def _merge_resumed_config(config, args, prog):
    """A resumed run keeps the checkpoint's settings; an option that contradicts them is an error."""
    for key, option in RESUME_FIXED.items():
        given = getattr(args, key, None)
        if given is None or key not in config:
            continue
        stored = config[key]
        if key == "hidden":
            given = ",".join(map(str, models.parse_sizes(given)))
        if type(stored) is bool:
            given = bool(given)
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
        "history": history, **(extra or {}),
    }, path)


def load_checkpoint(path):
    """The checkpoint dict written by ``save_checkpoint``; CLIError for anything unreadable."""
    try:
        ckpt = tinygan.load(path)
    except FileNotFoundError:
        raise CLIError(f"no such checkpoint file: {path}") from None
    except Exception as exc:  # CheckpointError: corrupt, truncated or not an .npz at all
        raise CLIError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CLIError(f"{path} is not a checkpoint written by the tinygan examples")
    return ckpt


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


def make_gan(config, device):
    """G, D (built from the config and moved to ``device``), their optimizers, wrapped in a GAN."""
    G, D = models.build(config)
    G.to(device)
    D.to(device)                                   # before the optimizers: they hold the arrays in flat buffers
    if config["loss"] == "wgan":
        opt_g = optim.RMSprop(G.parameters(), lr=config["lr"])
        opt_d = optim.RMSprop(D.parameters(), lr=config["lr"])
    else:
        betas = (config["beta1"], 0.999)
        opt_g = optim.Adam(G.parameters(), lr=config["lr"], betas=betas)
        opt_d = optim.Adam(D.parameters(), lr=config["lr"], betas=betas)
    return GAN(G, D, opt_g, opt_d, config["latent_dim"], loss=config["loss"], d_steps=config["d_steps"],
               label_smoothing=0.1 if config["label_smoothing"] else 0.0, clip_value=config["clip"],
               num_classes=config["num_classes"] or None, device=device)


def load_batches(config, args, device):
    """The epoch iterable of (real, labels) batches: MNIST on the device, or fresh toy samples."""
    if config["arch"] == "toy":
        return toy.Batches(config["dataset"], config["batch_size"], config["steps_per_epoch"], device)
    from tinygan.app import data
    try:
        images, labels = data.load_mnist(args.data_dir, split=config["split"], dataset=config["dataset"],
                                         download=not args.no_download)
        return data.MNISTBatches(images, labels, batch_size=config["batch_size"], device=device,
                                 shuffle=True, drop_last=True)           # yields (images, labels)
    except data.DatasetError as exc:
        lines = str(exc).splitlines()
        where = f" (in {exc.path})" if exc.path is not None and str(exc.path) not in lines[0] else ""
        hint = ""
        if "not found" in lines[0]:                 # the full message lists mirrors; one line says what to do
            failed = "; downloading failed" if any("every mirror" in line for line in lines) else ""
            hint = (f"{failed}; pass --data-dir DIR (a folder holding the MNIST IDX files, gzipped or not) "
                    f"or set TINYGAN_DATA=DIR")
        raise CLIError(f"{lines[0]}{where}{hint}") from None
    except ValueError as exc:
        raise CLIError(f"{exc}") from None


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
    """G's samples for the given noise in eval mode (batch norm uses its running statistics), as NumPy."""
    gan.G.eval()
    try:
        with no_grad():
            return gan.generate(z, labels).numpy()
    finally:
        gan.G.train()


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
    plotting.save_grid(samples, path, nrow=10 if config["num_classes"] else 8)
    return None


def _write_tables(out, log, toy_rows):
    history = log.as_arrays()
    rows = [[int(r[0]), int(r[1])] + r[2:] for r in log.rows]
    plotting.write_csv(out / "metrics.csv", ["step", "epoch", "d_loss", "g_loss", "d_real", "d_fake"], rows)
    if len(rows):
        plotting.save_loss_curves(history, out / "losses.png")
    if toy_rows:
        plotting.write_csv(out / "modes.csv", ["epoch", "step", "modes", "num_modes", "high_quality", "reverse_kl"],
                           toy_rows)
    frames = sorted((out / "samples").glob("*.png"))
    plotting.save_gif(frames, out / "samples.gif")
    return history


def train(arch, args, prog):
    """Run (or resume) training as the options say; returns the output folder."""
    quiet = args.quiet
    ckpt = load_checkpoint(args.resume) if args.resume else None
    if ckpt is not None:
        config = ckpt["config"]
        if config.get("arch") != arch:
            raise CLIError(f"{args.resume} holds a {config.get('arch')!r} model; this example "
                           f"trains {arch!r} models", 2)
        config = _merge_resumed_config(config, args, prog)
    else:
        config = _config_from_args(arch, args)
    epochs = args.epochs or DEFAULTS[arch]["epochs"]
    out = pathlib.Path(args.out) if args.out else (
        pathlib.Path(args.resume).parent if ckpt is not None else pathlib.Path("runs") / arch)
    if ckpt is not None and ckpt["epoch"] >= epochs:
        if not quiet:
            print(f"{args.resume} has already trained {ckpt['epoch']} epochs (--epochs {epochs}): nothing to do")
        return out
    device = resolve_device(args.device, quiet)
    log_every = args.log_every or (50 if device == "gpu" else 1)

    tinygan.manual_seed(config["seed"])            # weight initialisation, then shuffles and noise
    batches = load_batches(config, args, device)
    gan = make_gan(config, device)
    log = MetricsLog(log_every)
    start_epoch, step, toy_rows = 0, 0, []
    if ckpt is not None:
        try:
            gan.G.load_state_dict(ckpt["G"])
            gan.D.load_state_dict(ckpt["D"])
            gan.opt_g.load_state_dict(ckpt["opt_g"])
            gan.opt_d.load_state_dict(ckpt["opt_d"])
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise CLIError(f"checkpoint {args.resume} does not match the model it describes: "
                           f"{' '.join(str(exc).split())}") from None
        start_epoch, step = int(ckpt["epoch"]), int(ckpt["step"])
        log.load_arrays(ckpt["history"])
        toy_rows = [list(r) for r in np.asarray(ckpt.get("toy_history", np.zeros((0, 6)))).reshape(-1, 6)]

    out.mkdir(parents=True, exist_ok=True)
    fixed = fixed_inputs(config, device)
    k = config["d_steps"]
    per_epoch = len(batches) // k
    if args.limit_batches:
        per_epoch = min(per_epoch, args.limit_batches)
    if per_epoch < 1:
        raise CLIError(f"an epoch has {len(batches)} batches, fewer than --d-steps {k}", 2)
    if not quiet:
        print(f"{prog}: {config['arch']} GAN, loss {config['loss']}, {models.num_parameters(gan.G):,} G and "
              f"{models.num_parameters(gan.D):,} D parameters, {per_epoch} steps per epoch, on {device}; "
              f"writing to {out}")
    show_bar = not quiet and sys.stderr.isatty()
    ckpt_path = out / CHECKPOINT_NAME

    for epoch in range(start_epoch + 1, epochs + 1):
        # Each epoch's shuffle and noise come from a seed derived from (--seed, epoch), so a resumed run
        # draws what an uninterrupted one would, on the GPU too (CuPy's generator state cannot be saved).
        tinygan.manual_seed(config["seed"] * 100_003 + epoch)
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
                    _sample_picture(gan, config, fixed, out, f"step_{step:07d}")
            log.flush()
            if backend.check_device(device) == "gpu":
                backend.synchronize(device)
        finally:
            bar.close()
        elapsed = time.perf_counter() - started
        m = _sample_picture(gan, config, fixed, out, f"epoch_{epoch:04d}") if not args.sample_every else None
        if config["arch"] == "toy":
            if m is None:
                m = toy.mode_metrics(generate(gan, *fixed), *toy.mixture(config["dataset"]))
            toy_rows.append([epoch, step, m["modes"], m["num_modes"], m["high_quality"], m["reverse_kl"]])
        history = _write_tables(out, log, toy_rows)
        save_checkpoint(ckpt_path, gan, config, epoch, step, history,
                        {"toy_history": np.asarray(toy_rows, dtype=np.float64).reshape(-1, 6)})
        if not quiet:
            line = f"epoch {epoch}/{epochs}  step {step}  {_summary(log.latest(), images / max(elapsed, 1e-9))}"
            if m is not None:
                line += (f"  modes {m['modes']}/{m['num_modes']}  high quality {m['high_quality']:.1f}%  "
                         f"reverse KL {m['reverse_kl']:.3f}")
            print(line, flush=True)
    if not quiet:
        print(f"wrote {out}/: samples/, samples.gif, losses.png, metrics.csv"
              f"{', modes.csv' if toy_rows else ''}, {CHECKPOINT_NAME}")
    return out


def main(argv=None, arch="mlp", prog=None):
    """Entry point of the examples: returns the exit code (0 ok, 1 run error, 2 bad options, 130 Ctrl-C)."""
    prog = prog or {"mlp": "mnist_mlp_gan.py", "dcgan": "mnist_dcgan.py", "toy": "toy_2d_gan.py"}[arch]
    try:
        parser = build_parser(arch, prog)
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:                   # --help
            return exc.code or 0
        _validate(args, prog)
        backend.keep_freed_memory()                 # no page faults on each step's fresh arrays
        train(arch, args, prog)
        return 0
    except CLIError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.code
    except NonFiniteLossError as exc:
        print(f"{exc}", file=sys.stderr)
        return 1
    except backend.DeviceUnavailableError as exc:
        print(f"{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; the checkpoint of the last complete epoch is intact", file=sys.stderr)
        return 130

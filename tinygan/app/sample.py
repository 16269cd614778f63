"""Draw samples from a checkpoint written by the examples: ``python -m tinygan.sample CHECKPOINT``.

    python -m tinygan.sample runs/mlp/checkpoint.npz --n 64 --out grid.png
    python -m tinygan.sample runs/mlp/checkpoint.npz --npy samples.npy          # raw (N, 1, 28, 28) in [-1, 1]
    python -m tinygan.sample runs/cgan/checkpoint.npz --digit 7                   # conditional models only
    python -m tinygan.sample runs/dcgan/checkpoint.npz --interpolate              # walks between latent points
    python -m tinygan.sample runs/toy/checkpoint.npz --out toy.svg                # the toy GAN: a scatter plot

The generator is rebuilt from the config stored in the checkpoint (tinygan/app/models.py), so any checkpoint the
examples write works, the toy 2-D GAN's included (its picture is a scatter plot over the true modes, and
its .npy holds (N, 2) points). A run trained with --ema draws from the moving average of G's weights (G_ema);
``--no-ema`` draws from the raw G instead.

Nothing is ever written over by accident: an --out or --npy file that exists is refused unless --overwrite is
given, a picture is written in the format its suffix names (a suffix that neither Pillow nor matplotlib writes
is refused), both are checked, with the folders they go to, before any sample is drawn, and every file is
written to a temporary name and renamed, so a failure never leaves half of one.
"""
import math
import os
import pathlib
import sys

import numpy as np

from tinygan.app import plotting, toy
from tinygan.app.checkpoint import generator_of, load_checkpoint
from tinygan.app.cli import run_command
from tinygan.app.errors import CLIError, OneLineParser
from tinygan.app.factories import resolve_device
from tinygan.core import array_backend as backend
from tinygan.core import Tensor, no_grad
from tinygan.fileio import unwritable_reason, write_atomically


def build_parser():
    p = OneLineParser(prog="python -m tinygan.sample", allow_abbrev=False,
                description="Draw samples from a GAN checkpoint written by the tinygan examples.")
    p.add_argument("checkpoint", help="a checkpoint.npz written by examples/*.py")
    p.add_argument("--n", type=int, default=64, help="number of samples (default: 64)")
    p.add_argument("--out", default="grid.png",
                   help="the picture to write, in the format its suffix names: a grid of images (.png, .jpg, .gif, "
                        ".bmp, .tif, .pdf), or a scatter plot for the toy GAN (.png, .jpg, .tif, .pdf, .svg, .eps, "
                        ".ps) (default: grid.png)")
    p.add_argument("--npy", default=None,
                   help="also save the raw samples as a .npy file, (N, 1, 28, 28) in [-1, 1] (the toy GAN's: (N, 2) "
                        "points); like numpy.save, .npy is added to a name that does not end in it")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --out and --npy files that exist (without it they are refused, before any work)")
    p.add_argument("--digit", type=int, default=None,
                   help="conditional models: draw only this class (default: classes 0-9 in turn)")
    p.add_argument("--interpolate", action="store_true",
                   help="each row walks (spherically) from one random latent point to another")
    p.add_argument("--seed", type=int, default=0, help="random seed of the latent points (default: 0)")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="cpu", help="where to run G (default: cpu)")
    p.add_argument("--no-ema", action="store_true",
                   help="draw from the raw G of a run trained with --ema (default: its moving average G_ema)")
    return p


def which_generator(ckpt, no_ema):
    """How a report names the generator drawn from: "G_ema", "G" or "G (no G_ema in the checkpoint)"."""
    if "G_ema" in ckpt:
        return "G" if no_ema else "G_ema"
    return "G (the run kept no G_ema)" if no_ema else "G"


def slerp(a, b, t):
    """Points on the great circle from a to b (rows), at fractions t: (n, d), (n, d), (k,) -> (n, k, d)."""
    na = a / np.linalg.norm(a, axis=1, keepdims=True)
    nb = b / np.linalg.norm(b, axis=1, keepdims=True)
    omega = np.arccos(np.clip((na * nb).sum(1, keepdims=True), -1.0, 1.0))[:, None, :]   # (n, 1, 1)
    t = t[None, :, None]                                                                 # (1, k, 1)
    so = np.sin(omega)
    linear = so < 1e-6                                    # (nearly) parallel: fall back to a straight line
    safe = np.where(linear, 1.0, so)
    wa = np.where(linear, 1.0 - t, np.sin((1.0 - t) * omega) / safe)
    wb = np.where(linear, t, np.sin(t * omega) / safe)
    return wa * a[:, None, :] + wb * b[:, None, :]


def latent_points(n, dim, rng, interpolate):
    """n latent vectors, and the number of pictures per grid row; walks fill rows when interpolating."""
    if not interpolate:
        return rng.standard_normal((n, dim)).astype(np.float32), None
    steps = max(2, math.ceil(math.sqrt(n)))
    walks = math.ceil(n / steps)
    a, b = rng.standard_normal((walks, dim)), rng.standard_normal((walks, dim))
    z = slerp(a, b, np.linspace(0.0, 1.0, steps)).reshape(walks * steps, dim)   # (walks, steps, d) -> (walks*steps, d)
    return z[:n].astype(np.float32), steps


def npy_path(name):
    """Where numpy.save(name) writes: ``name``, with ".npy" added unless it ends in it."""
    return pathlib.Path(name if str(name).endswith(".npy") else f"{name}.npy")


def output_paths(args, kind):
    """The picture's path and the .npy's (or None), checked before any work: a suffix the picture (``kind``:
    "grid" or "plot") can be written as, no folder in the way, no existing file without --overwrite, and
    folders that can be written. CLIError (exit 2) naming the option otherwise."""
    for option, given, example in (("--out", args.out, "grid.png"), ("--npy", args.npy, "samples.npy")):
        if given is not None and os.path.isdir(given):
            raise CLIError(f"{option} {given} is a folder: name a file, such as {pathlib.Path(given) / example}", 2)
    out = pathlib.Path(args.out)
    try:
        plotting.picture_format(out, kind)
    except ValueError as exc:
        raise CLIError(f"--out {exc}", 2) from None
    paths = {"--out": out}
    if args.npy is not None:
        paths["--npy"] = npy_path(args.npy)
    existing = [(option, path) for option, path in paths.items() if os.path.lexists(path)]
    if existing and not args.overwrite:
        names = " and ".join(str(path) for _, path in existing)
        options = " and ".join(option for option, _ in existing)
        one = len(existing) == 1
        raise CLIError(f"{names} exist{'s' if one else ''}: pass --overwrite to replace {'it' if one else 'them'}, "
                       f"or another {options}", 2)
    for option, path in paths.items():
        reason = unwritable_reason(path.parent)
        if reason is not None:
            raise CLIError(f"{option} {path}: its folder {path.parent} {reason}", 2)
    return out, paths.get("--npy")


def run(args):
    if args.n < 1:
        raise CLIError(f"--n must be a positive integer, got {args.n}", 2)
    ckpt = load_checkpoint(args.checkpoint)
    config = ckpt["config"]
    out, npy = output_paths(args, "plot" if config.get("arch") == "toy" else "grid")
    num_classes = int(config.get("num_classes", 0))
    if args.digit is not None:
        if not num_classes:
            raise CLIError(f"--digit needs a conditional model (trained with "
                           f"--conditional); {args.checkpoint} is unconditional", 2)
        if not 0 <= args.digit < num_classes:
            raise CLIError(f"--digit must be in 0..{num_classes - 1}, got "
                           f"{args.digit}", 2)
    device = resolve_device(args.device, quiet=True)
    G = generator_of(ckpt, args.checkpoint, device, ema=not args.no_ema)
    G.eval()

    rng = np.random.default_rng(args.seed)
    z, row = latent_points(args.n, int(config["latent_dim"]), rng, args.interpolate)
    inputs = [Tensor(z, device=device)]
    column_labels = None
    if num_classes:
        if args.digit is not None:
            labels = np.full(args.n, args.digit, dtype=np.int64)
        elif args.interpolate:
            labels = (np.arange(args.n) // row) % num_classes       # one class per walk
        else:
            labels = np.arange(args.n) % num_classes                # classes in turn: columns of a 10-wide grid
            row = row or num_classes
            column_labels = [str(digit) for digit in labels[:row]]
        inputs.append(Tensor(labels, device=device))
    with no_grad():
        samples = backend.asnumpy(G(*inputs).array)

    if config["arch"] == "toy":
        modes, std = toy.mixture(config["dataset"])
        m = toy.mode_metrics(samples, modes, std)
        plotting.save_scatter(samples, modes, out, title=f"{m['modes']}/{m['num_modes']} modes, "
                                                          f"{m['high_quality']:.0f}% high quality")
    else:
        plotting.save_grid(samples, out, nrow=row, column_labels=column_labels)
    written = [out]
    if npy is not None:
        npy.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(npy, lambda tmp: np.save(tmp, samples))      # tmp ends in .npy: saved under that name
        written.append(f"{npy} {samples.shape}")
    print(f"wrote {', '.join(map(str, written))} from {which_generator(ckpt, args.no_ema)} at epoch {ckpt['epoch']} "
          f"of {args.checkpoint}")


def main(argv=None):
    """Returns the exit code: 0 ok, 1 a run error, 2 bad options."""
    return run_command("python -m tinygan.sample", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())

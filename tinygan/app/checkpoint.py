"""The examples' checkpoints: one .npz holding everything needed to continue a run or to draw from its generator.

``save_checkpoint`` writes G, D, both optimizers, G's moving average (--ema), the run's config, epoch, step and
metric history, and whatever else the caller adds (the lr schedulers, modes.csv and eval.csv rows), atomically
(tinygan.save). ``load_checkpoint`` reads one back, or raises a CLIError naming the file; ``load_gan_state``
puts its weights and optimizer states into a GAN built from its config; ``generator_of`` rebuilds just the
generator (python -m tinygan.sample and tinygan.evaluate).
"""
import tinygan
from tinygan import rng
from tinygan.app import models
from tinygan.app.errors import CLIError
from tinygan.core import array_backend as backend

CHECKPOINT_FORMAT = "tinygan-gan-checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.npz"


def save_checkpoint(path, gan, config, epoch, step, history, extra=None):
    """Everything needed to continue training or to draw samples, in one .npz written atomically
    (tinygan.save copies GPU arrays to the host, so a checkpoint loads on any device)."""
    tinygan.save({
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
        "config": dict(config), "epoch": int(epoch), "step": int(step),
        "G": gan.G.state_dict(), "D": gan.D.state_dict(),
        "opt_g": gan.opt_g.state_dict(), "opt_d": gan.opt_d.state_dict(),
        "rng": rng.get_rng_state(),            # for the record: each epoch reseeds from (seed, epoch)
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


def load_gan_state(gan, ckpt):
    """Put the checkpoint's G, D, optimizer states and moving average of G back into ``gan``, built from the
    checkpoint's config; KeyError, ValueError, TypeError or RuntimeError where they do not fit it."""
    gan.G.load_state_dict(ckpt["G"])
    gan.D.load_state_dict(ckpt["D"])
    gan.opt_g.load_state_dict(ckpt["opt_g"])
    gan.opt_d.load_state_dict(ckpt["opt_d"])
    if gan.ema is not None:
        gan.ema.load_state_dict({"G_ema": ckpt["G_ema"], "updates": ckpt["ema_updates"]})


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

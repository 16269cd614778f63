"""The parts of a run, built from its config: the device, the batches of real data, G and D with their
optimizers in a GAN, and the learning-rate schedulers.

``resolve_device`` also serves python -m tinygan.sample and tinygan.evaluate; the rest is the examples' (a
resumed run builds the same parts from its checkpoint's config, then loads their states).
"""
import os
import pathlib

from tinygan import optim
from tinygan.app import data, models, toy
from tinygan.app.errors import CLIError
from tinygan.app.gan import GAN
from tinygan.core import array_backend as backend


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
    if args.data_dir is not None:
        return pathlib.Path(args.data_dir).expanduser()
    recorded = config.get("data_dir")                # a checkpoint may not record it
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
    root = data_root(config, args)
    dataset, split, batch_size = config["dataset"], config["split"], config["batch_size"]
    try:
        images, labels = data.load_mnist(root, split=split, dataset=dataset, download=not args.no_download)
    except data.DatasetError as exc:
        raise CLIError(data.data_error_line(exc, args)) from None
    except ValueError as exc:                       # a dataset or split name from a foreign checkpoint
        raise CLIError(f"{exc}") from None
    if batch_size > len(images):
        raise CLIError(f"--batch-size {batch_size} is larger than the {len(images)} images of the {dataset} "
                       f"{split} split", 2)
    config["data_dir"] = os.path.abspath(data.data_dir(root, dataset))
    return data.MNISTBatches(images, labels, batch_size=batch_size, device=device,
                             shuffle=True, drop_last=True)               # yields (images, labels)

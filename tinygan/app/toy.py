"""2-D mixtures of Gaussians for watching mode collapse, and the metrics that count the modes a GAN found.

The two benchmarks of PacGAN (Lin et al. 2018, after VEEGAN):

    ring   8 Gaussians evenly spaced on a circle of radius 1, std 0.01
    grid   25 Gaussians at {-4, -2, 0, 2, 4}^2, std 0.05

Metrics over generated samples (2,500 by convention), ``mode_metrics``: modes captured, % high-quality samples,
reverse KL to uniform. It lives with the other metrics in tinygan/app/metrics.py and is importable from here.
"""
import numpy as np

from tinygan import rng
from tinygan.app.metrics import mode_metrics  # noqa: F401  (toy.mode_metrics, for its callers)
from tinygan.core import array_backend as backend
from tinygan.core import Tensor

DATASETS = ("ring", "grid")
NUM_EVAL_SAMPLES = 2500


def ring_modes(k=8, radius=1.0):
    """(k, 2) centres evenly spaced on a circle."""
    angles = 2 * np.pi * np.arange(k) / k
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1).astype(np.float32)


def grid_modes(values=(-4, -2, 0, 2, 4)):
    """(25, 2) centres on a square grid."""
    xs, ys = np.meshgrid(values, values, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def mixture(name):
    """(modes (K, 2), std) of the named benchmark."""
    if name == "ring":
        return ring_modes(), 0.01
    if name == "grid":
        return grid_modes(), 0.05
    raise ValueError(f"unknown toy dataset {name!r}: expected one of {DATASETS}")


def sample(modes, std, n, device="cpu"):
    """n points of the equal-weight mixture, drawn by tinygan's seeded generator, as a (n, 2) Tensor."""
    xp = backend.xp_for(device)
    u = rng.rand((n,), np.float32, device)
    index = xp.minimum((u * len(modes)).astype(np.int64), len(modes) - 1)   # uniform choice of mode
    centres = xp.asarray(modes)[index]
    noise = rng.randn((n, 2), np.float32, device)
    return Tensor.from_array(centres + std * noise)


class Batches:
    """``steps`` batches of fresh mixture samples per epoch: the toy problem's endless training set."""

    def __init__(self, name, batch_size, steps, device="cpu"):
        self.modes, self.std = mixture(name)
        self.batch_size, self.steps, self.device = batch_size, steps, device

    def __len__(self):
        return self.steps

    def __iter__(self):
        for _ in range(self.steps):
            yield sample(self.modes, self.std, self.batch_size, self.device), None


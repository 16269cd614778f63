"""The generator and discriminator networks the examples train, built from a small config dict.

A checkpoint stores that config, so ``python -m tinygan.sample`` can rebuild any model an example wrote:

    config = {"arch": "mlp" | "dcgan" | "toy", "latent_dim": 100, "hidden": "256,512",
              "num_classes": 0 (unconditional) or 10, "out_shape": "1,28,28"}

- ``mlp``   (examples/mnist_mlp_gan.py): G latent-256-512-784, LeakyReLU(0.2), Tanh, viewed as (N, 1, 28, 28);
            D 784-512-256-1 with LeakyReLU(0.2), producing logits. ``hidden`` lists G's widths; D uses them
            in reverse.
- ``dcgan`` (examples/mnist_dcgan.py): G Linear(latent, 128*7*7) -> (128, 7, 7) -> BN, ReLU ->
            ConvTranspose2d(128, 64, 4, 2, 1) -> BN, ReLU -> ConvTranspose2d(64, 1, 4, 2, 1) -> Tanh;
            D Conv2d(1, 64, 4, 2, 1), LeakyReLU(0.2) -> Conv2d(64, 128, 4, 2, 1), BN, LeakyReLU(0.2) ->
            Flatten -> Linear(128*7*7, 1). ``hidden`` lists D's channels ("64,128"); G uses them in reverse.
- ``toy``   (examples/toy_2d_gan.py): MLPs on 2-D points, G with a linear output (no Tanh).

Conditional models (``num_classes`` > 0) see the class labels as one-hot vectors joined to their input: to
z for G and to the flattened image for the MLP D; as constant image planes, one per class, for the DCGAN D.
"""
import math

import numpy as np

from tinygan import functional as F
from tinygan import nn

ARCHS = ("mlp", "dcgan", "toy")
DEFAULT_HIDDEN = {"mlp": "256,512", "dcgan": "64,128", "toy": "128,128"}


def parse_sizes(text, what="--hidden"):
    """ "256,512" -> (256, 512); a ValueError naming ``what`` for anything else."""
    try:
        sizes = tuple(int(s) for s in str(text).split(","))
    except ValueError:
        raise ValueError(f"{what} must be comma-separated positive integers such as 256,512, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise ValueError(f"{what} must be comma-separated positive integers such as 256,512, got {text!r}")
    return sizes


# ==================================================================================================
# Conditioning on class labels
# ==================================================================================================
class LabelConditioned(nn.Module):
    """``net(join(x, one_hot(labels)))``: a network that also sees each sample's class.

    join="features": x is flattened to (N, D) and the (N, C) one-hot vector appended: (N, D + C).
    join="planes":   x is (N, ch, H, W); each class becomes a constant plane: (N, ch + C, H, W).
    """

    def __init__(self, net, num_classes, join="features"):
        super().__init__()
        if join not in ("features", "planes"):
            raise ValueError(f"LabelConditioned: join must be 'features' or 'planes', got {join!r}")
        self.net = net
        self.num_classes = int(num_classes)
        self.join = join

    def forward(self, x, labels):
        if labels is None:
            raise ValueError("this is a conditional model: pass class labels, e.g. G(z, labels)")
        onehot = F.one_hot(labels, self.num_classes).to(dtype=x.dtype)   # (N,) -> (N, C)
        n = x.shape[0]
        if self.join == "features":
            return self.net(F.cat([x.reshape(n, -1), onehot], 1))       # (N, ...) -> (N, D + C)
        planes = onehot.reshape(n, self.num_classes, 1, 1).expand(n, self.num_classes, *x.shape[2:])
        return self.net(F.cat([x, planes], 1))                          # (N, ch + C, H, W)

    def extra_repr(self):
        return f"num_classes={self.num_classes}, join={self.join!r}"


# ==================================================================================================
# Networks
# ==================================================================================================
def mlp(in_features, hidden, out_features, activation=None):
    """Linear layers of widths in_features -> hidden... -> out_features, LeakyReLU(0.2) between them."""
    layers, width = [], in_features
    for h in hidden:
        layers += [nn.Linear(width, h), activation() if activation else nn.LeakyReLU(0.2)]
        width = h
    layers.append(nn.Linear(width, out_features))
    return layers


def mlp_generator(latent_dim=100, hidden=(256, 512), out_shape=(1, 28, 28), num_classes=0, tanh=True):
    """z (N, latent_dim) -> samples (N, *out_shape), in [-1, 1] when ``tanh``."""
    layers = mlp(latent_dim + num_classes, hidden, math.prod(out_shape))
    if tanh:
        layers.append(nn.Tanh())
    if len(out_shape) > 1:
        layers.append(nn.Unflatten(1, tuple(out_shape)))              # (N, 784) -> (N, 1, 28, 28)
    return nn.Sequential(*layers)


def mlp_discriminator(in_shape=(1, 28, 28), hidden=(512, 256), num_classes=0):
    """x (N, *in_shape) -> logits (N, 1)."""
    layers = mlp(math.prod(in_shape) + num_classes, hidden, 1)
    return nn.Sequential(nn.Flatten(), *layers)                       # (N, 1, 28, 28) -> (N, 784)


def dcgan_generator(latent_dim=100, channels=(128, 64), out_shape=(1, 28, 28), num_classes=0):
    """z (N, latent_dim) -> images (N, 1, 28, 28) in [-1, 1], upsampling 7x7 -> 14x14 -> 28x28."""
    c1, c2 = channels
    side = out_shape[1] // 4
    return nn.Sequential(
        nn.Linear(latent_dim + num_classes, c1 * side * side),
        nn.Unflatten(1, (c1, side, side)),                            # (N, c1*7*7) -> (N, c1, 7, 7)
        nn.BatchNorm2d(c1), nn.ReLU(),
        nn.ConvTranspose2d(c1, c2, 4, 2, 1),                          # -> (N, c2, 14, 14)
        nn.BatchNorm2d(c2), nn.ReLU(),
        nn.ConvTranspose2d(c2, out_shape[0], 4, 2, 1),                # -> (N, 1, 28, 28)
        nn.Tanh(),
    )


def dcgan_discriminator(in_shape=(1, 28, 28), channels=(64, 128), num_classes=0, norm="batch"):
    """images (N, 1, 28, 28) -> logits (N, 1), downsampling 28x28 -> 14x14 -> 7x7.

    ``norm="layer"``: LayerNorm over each sample's (c2, 7, 7) instead of BatchNorm, for gradient penalties
    (a critic's gradient per sample must not depend on the rest of the batch; Gulrajani et al. 2017).
    """
    c1, c2 = channels
    side = in_shape[1] // 4
    norm_layer = nn.BatchNorm2d(c2) if norm == "batch" else nn.LayerNorm([c2, side, side])
    return nn.Sequential(
        nn.Conv2d(in_shape[0] + num_classes, c1, 4, 2, 1), nn.LeakyReLU(0.2),   # -> (N, c1, 14, 14)
        nn.Conv2d(c1, c2, 4, 2, 1), norm_layer, nn.LeakyReLU(0.2),             # -> (N, c2, 7, 7)
        nn.Flatten(),                                                           # -> (N, c2*7*7)
        nn.Linear(c2 * side * side, 1),
    )


# ==================================================================================================
# Building from a config
# ==================================================================================================
def make_config(arch, latent_dim, hidden=None, num_classes=0, out_shape=(1, 28, 28), d_norm="batch"):
    """The plain dict (numbers and strings) that checkpoints store and ``build`` reads."""
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}: expected one of {ARCHS}")
    hidden = DEFAULT_HIDDEN[arch] if hidden is None else hidden
    sizes = parse_sizes(hidden)
    if arch == "dcgan" and len(sizes) != 2:
        raise ValueError(f"--hidden for the DCGAN takes two channel counts such as 64,128, got {hidden!r}")
    return {"arch": arch, "latent_dim": int(latent_dim), "hidden": ",".join(map(str, sizes)),
            "num_classes": int(num_classes or 0), "out_shape": ",".join(map(str, out_shape)), "d_norm": d_norm}


def build(config):
    """(G, D) for a config made by ``make_config`` (or read back from a checkpoint)."""
    arch = str(config["arch"])
    latent_dim = int(config["latent_dim"])
    hidden = parse_sizes(config["hidden"])
    num_classes = int(config.get("num_classes", 0))
    shape = parse_sizes(config["out_shape"], "out_shape")
    if arch == "mlp":
        G = mlp_generator(latent_dim, hidden, shape, num_classes)
        D = mlp_discriminator(shape, hidden[::-1], num_classes)
    elif arch == "dcgan":
        if len(hidden) != 2:
            raise ValueError(f"the DCGAN takes two channel counts such as 64,128, got {config['hidden']!r}")
        G = dcgan_generator(latent_dim, hidden[::-1], shape, num_classes)
        D = dcgan_discriminator(shape, hidden, num_classes, str(config.get("d_norm", "batch")))
    elif arch == "toy":
        G = mlp_generator(latent_dim, hidden, shape, num_classes, tanh=False)
        D = mlp_discriminator(shape, hidden[::-1], num_classes)
    else:
        raise ValueError(f"unknown architecture {arch!r}: expected one of {ARCHS}")
    if num_classes:
        G = LabelConditioned(G, num_classes, "features")
        D = LabelConditioned(D, num_classes, "planes" if arch == "dcgan" else "features")
    return G, D


def num_parameters(module):
    return int(sum(np.prod(p.shape) for p in module.parameters()))

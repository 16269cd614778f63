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

Remedies for mode collapse and instability change D only (``python -m tinygan.sample`` never builds D):

- ``pack`` M > 1 (PacGAN, Lin et al. 2018): D's first layer is ``Pack(M)``, which joins M consecutive samples
  into one along the features (MLP, toy: (N, D) -> (N/M, M*D)) or the channels (DCGAN: (N, C, H, W) ->
  (N/M, M*C, H, W)); D is built M times as wide at its input and scores each pack. A conditional D packs the
  samples with their labels joined.
- ``mbstd`` (Karras et al. 2018): ``MinibatchStdDev`` before D's last layer appends one feature, the standard
  deviation over the group of each feature, averaged to one number (the MLP's (N, F) -> (N, F + 1); the DCGAN's
  conv features (N, C, 7, 7) -> (N, C + 1, 7, 7)). A collapsed G, whose batch has no spread, is easy to spot.
- ``spectral_norm`` (Miyato et al. 2018): every Linear and Conv2d of D divided by its largest singular value
  (``tinygan.nn.utils.spectral_norm``).
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
        return self.net(self.join_input(x, labels))

    def join_input(self, x, labels):
        """x with the one-hot labels joined, as ``net`` sees it."""
        if labels is None:
            raise ValueError("this is a conditional model: pass class labels, e.g. G(z, labels)")
        onehot = F.one_hot(labels, self.num_classes).to(dtype=x.dtype)   # (N,) -> (N, C)
        n = x.shape[0]
        if self.join == "features":
            return F.cat([x.reshape(n, -1), onehot], 1)                 # (N, ...) -> (N, D + C)
        planes = onehot.reshape(n, self.num_classes, 1, 1).expand(n, self.num_classes, *x.shape[2:])
        return F.cat([x, planes], 1)                                    # (N, ch + C, H, W)

    def extra_repr(self):
        return f"num_classes={self.num_classes}, join={self.join!r}"


# ==================================================================================================
# Layers of the remedies: packing and the minibatch standard deviation
# ==================================================================================================
class Pack(nn.Module):
    """PacGAN's packing: M consecutive samples joined along dim 1, (N, C, ...) -> (N/M, M*C, ...).

    Sample n lands in pack n // M; within a pack, sample 0's features (or channels) come first. N must be a
    multiple of M.
    """

    def __init__(self, m):
        super().__init__()
        if int(m) < 1:
            raise ValueError(f"Pack: the number of samples per pack must be >= 1, got {m}")
        self.m = int(m)

    def forward(self, x):
        n = x.shape[0]
        if n % self.m:
            raise ValueError(f"Pack({self.m}): a batch of {n} samples cannot be cut into packs of {self.m} "
                             f"(use a batch size that is a multiple of {self.m})")
        return x.reshape(n // self.m, self.m * x.shape[1], *x.shape[2:])   # (N, C, ...) -> (N/M, M*C, ...)

    def extra_repr(self):
        return f"{self.m}"


class MinibatchStdDev(nn.Module):
    """Appends the minibatch standard deviation as one more feature (Karras et al. 2018, section 3).

    The batch is cut into groups of ``group_size`` samples (None: the whole batch is one group); sample n is in
    group n mod (N / group_size), as in StyleGAN's implementation. For each group: the standard deviation of
    every feature (and pixel) over the group's samples, sqrt(mean((x - mean x)^2) + 1e-8), averaged into one
    number, appended to each of the group's samples as a feature (N, F) -> (N, F + 1), or as a constant plane
    (N, C, H, W) -> (N, C + 1, H, W). Made of Tensor ops, so it is differentiable (and twice: penalties).
    """

    def __init__(self, group_size=None, eps=1e-8):
        super().__init__()
        if group_size is not None and int(group_size) < 1:
            raise ValueError(f"MinibatchStdDev: group_size must be >= 1 or None, got {group_size}")
        self.group_size = None if group_size is None else int(group_size)
        self.eps = eps

    def forward(self, x):
        n, rest = x.shape[0], tuple(x.shape[1:])
        g = n if self.group_size is None else min(self.group_size, n)
        if n % g:
            raise ValueError(f"MinibatchStdDev: a batch of {n} samples cannot be cut into groups of {g}")
        groups = x.reshape(g, n // g, *rest)                                  # (N, ...) -> (G, N/G, ...)
        centred = groups - groups.mean(dim=0, keepdim=True)
        std = ((centred * centred).mean(dim=0) + self.eps).sqrt()             # (N/G, ...)
        stat = std.reshape(n // g, -1).mean(dim=1)                            # (N/G, ...) -> (N/G,)
        planes = (1,) + rest[1:]                                              # (1,) or (1, H, W)
        stat = stat.reshape(1, n // g, *([1] * len(rest)))                    # (N/G,) -> (1, N/G, 1, ...)
        stat = stat.expand(g, n // g, *planes).reshape(n, *planes)            # -> (G, N/G, 1, ...) -> (N, 1, ...)
        return F.cat([x, stat], 1)                                            # (N, F + 1) or (N, C + 1, H, W)

    def extra_repr(self):
        return f"group_size={self.group_size}"


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


def mlp_discriminator(in_shape=(1, 28, 28), hidden=(512, 256), num_classes=0, pack=1, mbstd=False,
                      mbstd_group=None):
    """x (N, *in_shape) -> logits (N, 1), or (N/pack, 1) with ``pack`` > 1: one score per pack."""
    layers = mlp(pack * (math.prod(in_shape) + num_classes), hidden, 1)
    if mbstd:                                                         # before the last Linear: one more input
        last = layers.pop()
        layers += [MinibatchStdDev(mbstd_group), nn.Linear(last.in_features + 1, 1)]
    front = [nn.Flatten()]                                            # (N, 1, 28, 28) -> (N, 784)
    if pack > 1:
        front.append(Pack(pack))                                      # (N, 784) -> (N/M, M*784)
    return nn.Sequential(*front, *layers)


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


def dcgan_discriminator(in_shape=(1, 28, 28), channels=(64, 128), num_classes=0, norm="batch", pack=1,
                        mbstd=False, mbstd_group=None):
    """images (N, 1, 28, 28) -> logits (N, 1), downsampling 28x28 -> 14x14 -> 7x7.

    ``norm="layer"``: LayerNorm over each sample's (c2, 7, 7) instead of BatchNorm, for gradient penalties
    (a critic's gradient per sample must not depend on the rest of the batch; Gulrajani et al. 2017).
    ``pack`` M > 1: M images joined along the channels first, one score per pack; ``mbstd``: the minibatch
    standard deviation as one more 7x7 plane before the last layer.
    """
    c1, c2 = channels
    side = in_shape[1] // 4
    norm_layer = nn.BatchNorm2d(c2) if norm == "batch" else nn.LayerNorm([c2, side, side])
    front = [Pack(pack)] if pack > 1 else []                                    # -> (N/M, M*ch, 28, 28)
    tail = [MinibatchStdDev(mbstd_group)] if mbstd else []                      # -> (N, c2 + 1, 7, 7)
    c_last = c2 + (1 if mbstd else 0)
    return nn.Sequential(
        *front,
        nn.Conv2d(pack * (in_shape[0] + num_classes), c1, 4, 2, 1), nn.LeakyReLU(0.2),   # -> (N, c1, 14, 14)
        nn.Conv2d(c1, c2, 4, 2, 1), norm_layer, nn.LeakyReLU(0.2),             # -> (N, c2, 7, 7)
        *tail,
        nn.Flatten(),                                                           # -> (N, c_last*7*7)
        nn.Linear(c_last * side * side, 1),
    )


# ==================================================================================================
# Building from a config
# ==================================================================================================
def make_config(arch, latent_dim, hidden=None, num_classes=0, out_shape=(1, 28, 28), d_norm="batch", pack=1,
                mbstd=False, mbstd_group=0, spectral_norm=False):
    """The plain dict (numbers and strings) that checkpoints store and ``build`` reads (``mbstd_group`` 0: the
    whole batch is one group)."""
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}: expected one of {ARCHS}")
    hidden = DEFAULT_HIDDEN[arch] if hidden is None else hidden
    sizes = parse_sizes(hidden)
    if arch == "dcgan" and len(sizes) != 2:
        raise ValueError(f"--hidden for the DCGAN takes two channel counts such as 64,128, got {hidden!r}")
    return {"arch": arch, "latent_dim": int(latent_dim), "hidden": ",".join(map(str, sizes)),
            "num_classes": int(num_classes or 0), "out_shape": ",".join(map(str, out_shape)), "d_norm": d_norm,
            "pack": int(pack), "mbstd": bool(mbstd), "mbstd_group": int(mbstd_group or 0),
            "spectral_norm": bool(spectral_norm)}


def build(config):
    """(G, D) for a config made by ``make_config`` (or read back from a checkpoint); G is built first, so its
    initial weights do not depend on D's settings."""
    G = build_generator(config)
    return G, build_discriminator(config)


def _sizes(config):
    arch = str(config["arch"])
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}: expected one of {ARCHS}")
    hidden = parse_sizes(config["hidden"])
    if arch == "dcgan" and len(hidden) != 2:
        raise ValueError(f"the DCGAN takes two channel counts such as 64,128, got {config['hidden']!r}")
    return arch, hidden, int(config.get("num_classes", 0)), parse_sizes(config["out_shape"], "out_shape")


def build_generator(config):
    """G alone (what sampling needs, and the moving average G_ema)."""
    arch, hidden, num_classes, shape = _sizes(config)
    latent_dim = int(config["latent_dim"])
    if arch == "dcgan":
        G = dcgan_generator(latent_dim, hidden[::-1], shape, num_classes)
    else:
        G = mlp_generator(latent_dim, hidden, shape, num_classes, tanh=arch != "toy")
    return LabelConditioned(G, num_classes, "features") if num_classes else G


def build_discriminator(config):
    """D, with the config's remedies: pack, mbstd (and mbstd_group), spectral_norm."""
    arch, hidden, num_classes, shape = _sizes(config)
    remedies = {"pack": int(config.get("pack", 1)), "mbstd": bool(config.get("mbstd", False)),
                "mbstd_group": int(config.get("mbstd_group", 0)) or None}
    if arch == "dcgan":
        D = dcgan_discriminator(shape, hidden, num_classes, str(config.get("d_norm", "batch")), **remedies)
    else:
        D = mlp_discriminator(shape, hidden[::-1], num_classes, **remedies)
    if config.get("spectral_norm", False):
        for layer in D.modules():
            if isinstance(layer, (nn.Linear, nn.Conv2d)):
                nn.utils.spectral_norm(layer)
    return LabelConditioned(D, num_classes, "planes" if arch == "dcgan" else "features") if num_classes else D


def discriminator_features(D, x, labels=None):
    """D's features before its last layer, flattened to (N, F) (feature matching), and D's last layer, for a D
    that ``build`` made (a Sequential, or one inside LabelConditioned)."""
    net = D
    if isinstance(D, LabelConditioned):
        if labels is None:
            raise ValueError("this is a conditional model: pass class labels, e.g. G(z, labels)")
        x, net = D.join_input(x, labels), D.net
    layers = list(net)
    for layer in layers[:-1]:
        x = layer(x)
    return x.reshape(x.shape[0], -1), layers[-1]                       # (N, ...) -> (N, F)


def num_parameters(module):
    return int(sum(np.prod(p.shape) for p in module.parameters()))

"""The benchmark networks, written once for tinygan and once for PyTorch with the same layers and shapes.

Both builders take the framework's ``nn`` module, so the tinygan and torch versions cannot drift apart:
tinygan.nn uses PyTorch's layer names, argument orders and defaults.

    MLP GAN   G: 100-256-512-784, LeakyReLU(0.2), Tanh      D: 784-512-256-1, LeakyReLU(0.2), logits
    DCGAN     G: Linear(100, 128*7*7) -> (128, 7, 7) -> BN+ReLU -> ConvT(128, 64, 4, 2, 1) -> BN+ReLU
                 -> ConvT(64, 1, 4, 2, 1) -> Tanh
              D: Conv(1, 64, 4, 2, 1) -> LeakyReLU(0.2) -> Conv(64, 128, 4, 2, 1) -> BN -> LeakyReLU(0.2)
                 -> Flatten -> Linear(128*7*7, 1)

torch is imported only by ``torch_models`` and only when asked for; tinygan never depends on it.
"""
NZ = 100          # latent size
IMAGE = 28        # MNIST side


def mlp_gan(nn, nz=NZ):
    """(G, D) of the MLP GAN; G maps (N, nz) -> (N, 784) in [-1, 1], D maps (N, 784) -> (N, 1) logits."""
    G = nn.Sequential(
        nn.Linear(nz, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, IMAGE * IMAGE), nn.Tanh(),
    )
    D = nn.Sequential(
        nn.Linear(IMAGE * IMAGE, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 1),
    )
    return G, D


def dcgan(nn, nz=NZ):
    """(G, D) of the DCGAN; G maps (N, nz) -> (N, 1, 28, 28), D maps (N, 1, 28, 28) -> (N, 1) logits."""
    G = nn.Sequential(
        nn.Linear(nz, 128 * 7 * 7),
        nn.Unflatten(1, (128, 7, 7)),                                   # (N, 6272) -> (N, 128, 7, 7)
        nn.BatchNorm2d(128), nn.ReLU(),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),   # -> (N, 64, 14, 14)
        nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh(),                  # -> (N, 1, 28, 28)
    )
    D = nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),                   # -> (N, 64, 14, 14)
        nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),   # -> (N, 128, 7, 7)
        nn.Flatten(),                                                   # (N, 128, 7, 7) -> (N, 6272)
        nn.Linear(128 * 7 * 7, 1),
    )
    return G, D


BUILDERS = {"mlp": mlp_gan, "dcgan": dcgan}


def image_shape(model):
    """The shape of one real image as the model's D takes it."""
    return (IMAGE * IMAGE,) if model == "mlp" else (1, IMAGE, IMAGE)


def tinygan_models(model):
    """(G, D) built with tinygan.nn."""
    import tinygan.nn as nn
    return BUILDERS[model](nn)


def torch_models(model):
    """(G, D) built with torch.nn (raises ImportError when torch is missing)."""
    import torch.nn as nn
    return BUILDERS[model](nn)


def torch_available():
    """True when PyTorch can be imported (benchmarks compare against it only then)."""
    try:
        import torch  # noqa: F401
    except Exception:
        return False
    return True


def copy_weights_to_torch(tg_module, torch_module):
    """Load a tinygan module's state_dict into the same torch network, so both start from equal weights.

    Returns False (and leaves torch's own initialisation) when tinygan's state_dict is unavailable or its
    keys differ; timing does not depend on the values, this only makes the two runs comparable in output.
    """
    import numpy as np
    import torch
    try:
        state = tg_module.state_dict()
        converted = {k: torch.from_numpy(np.array(getattr(v, "data", v), copy=True)) for k, v in state.items()}
        torch_module.load_state_dict(converted)
    except Exception:
        return False
    return True

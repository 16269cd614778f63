"""Differentiable augmentation (DiffAugment, Zhao et al. 2020): translation and cutout of image batches.

With little data (the offline MNIST split has 10k images) D memorises the real images and its verdicts stop
teaching G. DiffAugment transforms EVERY batch D sees, real and fake, in the discriminator step and in the
generator step, with transforms made of differentiable ops, so G's gradient flows back through them. D then
never sees an unaugmented image, and G is not pushed to make augmented-looking images (the transform is applied
to its output, not learnt by it).

    translation  each image shifted by up to 1/8 of its size (integers drawn uniformly in [-s, s], s =
                 round(H/8), separately along H and W); what moves in from outside is 0 (Zhao et al.'s pad)
    cutout       one square of half the image's size set to 0 in each image, placed anywhere (its offset drawn
                 uniformly, so that the square always overlaps the image; its rows and columns are clamped
                 into the image, as in Zhao et al.'s code)

    policy "translation,cutout": translation, then cutout (Zhao et al.'s order)

Both follow Zhao et al.'s reference code (DiffAugment_pytorch.py) step for step: the translation is a gather from
the zero-padded batch at clamped indices, the cutout a multiplication by a 0/1 mask. The offsets come from
tinygan's seeded generator (``rng.rand``), so a run, and a resumed run, draws the same ones. ``translate``
and ``cut_out`` take the offsets as arguments, which is how the tests check them against NumPy loops and with
gradcheck.
"""
import numpy as np

from tinygan import functional as F
from tinygan import rng
from tinygan.core import array_backend as backend
from tinygan.core import Tensor

POLICIES = ("translation", "cutout")
TRANSLATION_RATIO = 0.125          # largest shift: 1/8 of the side
CUTOUT_RATIO = 0.5                 # side of the square cut out: 1/2 of the image's


def parse_policy(text):
    """ "translation,cutout" -> ("translation", "cutout"); ValueError naming the unknown part."""
    parts = tuple(p.strip() for p in str(text).split(",") if p.strip())
    unknown = [p for p in parts if p not in POLICIES]
    if not parts or unknown:
        raise ValueError(f"--diffaugment takes a comma-separated list of {', '.join(POLICIES)}, got {text!r}")
    if len(set(parts)) != len(parts):
        raise ValueError(f"--diffaugment names a transform twice: {text!r}")
    return parts


def _check_images(x, what):
    if not isinstance(x, Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
        raise ValueError(f"{what}: expected a batch of images (N, C, H, W), got {shape}")


def translate(x, tx, ty):
    """Image n shifted by (tx[n], ty[n]) pixels: out[n, c, i, j] = x[n, c, i + tx[n], j + ty[n]], 0 where that
    falls outside. ``tx``, ``ty``: integer arrays (N,) on x's device."""
    _check_images(x, "translate")
    xp = backend.get_array_module(x.array)
    n, c, h, w = x.shape
    padded = F.pad(x, (1, 1, 1, 1))                                            # (N, C, H + 2, W + 2), zeros around
    rows = xp.clip(xp.arange(h)[None, :] + tx[:, None] + 1, 0, h + 1)          # (N, H): rows of the padded batch
    cols = xp.clip(xp.arange(w)[None, :] + ty[:, None] + 1, 0, w + 1)          # (N, W)
    index = (xp.arange(n)[:, None, None, None], xp.arange(c)[None, :, None, None],
             rows[:, None, :, None], cols[:, None, None, :])
    return padded[index]                                                       # a gather: (N, C, H, W)


def cutout_mask(n, h, w, ox, oy, size, dtype, xp):
    """The (N, 1, H, W) mask of ``cut_out``: 0 in the size[0] x size[1] square placed at offsets (ox, oy)."""
    rows = xp.clip(xp.arange(size[0])[None, :] + ox[:, None] - size[0] // 2, 0, h - 1)   # (N, size[0])
    cols = xp.clip(xp.arange(size[1])[None, :] + oy[:, None] - size[1] // 2, 0, w - 1)   # (N, size[1])
    mask = xp.ones((n, h, w), dtype=dtype)
    mask[xp.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]] = 0
    return mask.reshape(n, 1, h, w)


def cut_out(x, ox, oy, size=None):
    """x with a square of ``size`` (default: half the image, rounded) zeroed in each image, placed by the integer
    offsets ``ox``, ``oy`` (N,) as Zhao et al. place it (centre at offset - size // 2 + size / 2)."""
    _check_images(x, "cut_out")
    n, _, h, w = x.shape
    size = size or cutout_size(h, w)
    xp = backend.get_array_module(x.array)
    return x * Tensor.from_array(cutout_mask(n, h, w, ox, oy, size, x.dtype, xp))   # (N, C, H, W) * (N, 1, H, W)


def cutout_size(h, w):
    return int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)


def _device(x):
    return backend.device_of(x.array)


def _randint(low, high, n, device):
    """n integers uniform in [low, high), from tinygan's seeded generator, on ``device``."""
    xp = backend.xp_for(device)
    u = rng.rand((n,), np.float32, device)
    return xp.minimum((u * (high - low)).astype(np.int64), high - low - 1) + low


def random_translation(x):
    n, _, h, w = x.shape
    sx, sy = int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)
    return translate(x, _randint(-sx, sx + 1, n, _device(x)), _randint(-sy, sy + 1, n, _device(x)))


def random_cutout(x):
    n, _, h, w = x.shape
    size = cutout_size(h, w)
    ox = _randint(0, h + (1 - size[0] % 2), n, _device(x))
    oy = _randint(0, w + (1 - size[1] % 2), n, _device(x))
    return cut_out(x, ox, oy, size)


TRANSFORMS = {"translation": random_translation, "cutout": random_cutout}


def diff_augment(x, policy):
    """x (N, C, H, W) through each transform of ``policy`` (a tuple from ``parse_policy``), in order."""
    _check_images(x, "DiffAugment")
    for name in policy:
        x = TRANSFORMS[name](x)
    return x

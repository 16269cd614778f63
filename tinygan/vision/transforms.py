"""Image transforms as torchvision.transforms, without PIL: Compose, ToTensor, Normalize, Resize, CenterCrop, Lambda,
and the random RandomHorizontalFlip, RandomVerticalFlip and RandomCrop (drawing from tinygan's seeded generator).

    transform = transforms.Compose([transforms.Resize(32), transforms.ToTensor(), transforms.Normalize([0.5], [0.5])])
    x = transform(image)          # image: uint8 (28, 28) NumPy array -> float32 Tensor (1, 32, 32) in [-1, 1]

Where torchvision hands a transform a PIL image, tinygan hands it a uint8 NumPy array (H, W) or (H, W, C), and
the transforms before ``ToTensor`` work on such arrays as torchvision's work on PIL images (``Resize`` rounds
to uint8, as PIL does). ``ToTensor`` makes a float32 Tensor (C, H, W) in [0, 1]; the transforms after it work on
Tensors (C, H, W) or (N, C, H, W), differentiably. A PIL image given to any of them is read as its array.

Each transform here also applies to a whole stack of images at once (``apply_batched``): the same arithmetic
on a leading batch axis, so ``datasets.MNIST`` can transform all its images in one pass instead of one by one
(``vectorisable`` says whether a transform is made only of these). The random transforms draw once per image,
so they run image by image.
"""
import numbers
import warnings

import numpy as np

from tinygan import functional as F
from tinygan import rng
from tinygan.core import Tensor


class InterpolationMode:
    """torchvision.transforms.InterpolationMode's names for the modes tinygan resizes with."""
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"


def _mode(interpolation):
    mode = str(getattr(interpolation, "value", interpolation)).lower()
    if mode not in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT, InterpolationMode.BILINEAR):
        raise NotImplementedError(f"Resize: interpolation {mode!r} is not supported by tinygan: use 'bilinear', "
                                  f"'nearest' or 'nearest-exact'")
    return mode


def _image_array(pic):
    """A NumPy image (H, W) or (H, W, C) from a NumPy array or a PIL image; None for anything else."""
    if isinstance(pic, np.ndarray):
        return pic
    if hasattr(pic, "mode") and hasattr(pic, "getdata"):              # a PIL image, read as its array
        return np.asarray(pic)
    return None


def _check_image(transform, image):
    if image.ndim not in (2, 3):
        raise ValueError(f"{transform}: expected an image array (H, W) or (H, W, C), got shape {image.shape}")


def _per_item(transform, pic):
    """Run ``transform._batch`` on one image: an array (H, W[, C]) becomes a batch of one and back."""
    if isinstance(pic, Tensor):
        return transform._batch(pic)
    image = _image_array(pic)
    if image is None:
        raise TypeError(f"{type(transform).__name__}: expected an image (a NumPy array, as tinygan's datasets give, "
                        f"or a PIL image) or a Tensor, got {type(pic).__name__}")
    _check_image(type(transform).__name__, image)
    out = transform._batch(image[None])                  # (H, W[, C]) -> (1, H, W[, C])
    return out[0]


# ==================================================================================================
# Composition
# ==================================================================================================
class Compose:
    """Apply ``transforms`` one after another (torchvision.transforms.Compose)."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def _batch(self, images):
        for t in self.transforms:
            images = t._batch(images)
        return images

    def __repr__(self):
        return "Compose(\n" + "".join(f"    {t}\n" for t in self.transforms) + ")"


class Lambda:
    """Apply a user function (torchvision.transforms.Lambda); never vectorised."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return "Lambda()"


# ==================================================================================================
# Image array -> Tensor
# ==================================================================================================
class ToTensor:
    """An image array (H, W) or (H, W, C) -> a Tensor (C, H, W) (torchvision.transforms.ToTensor).

    uint8 images become float32 in [0, 1] (divided by 255); other dtypes are kept as they are, as torchvision
    does for NumPy input.
    """

    def __call__(self, pic):
        if isinstance(pic, Tensor):
            raise TypeError("ToTensor: pic should be an image array (or a PIL image), got a Tensor")
        return _per_item(self, pic)

    def _batch(self, images):
        if images.ndim == 3:
            images = images[..., None]                   # (N, H, W) -> (N, H, W, 1)
        x = np.ascontiguousarray(images.transpose(0, 3, 1, 2))             # (N, H, W, C) -> (N, C, H, W)
        if x.dtype == np.uint8:
            x = x.astype(np.float32)
            x /= np.float32(255)                          # float32 division, as torchvision's .div(255)
        return Tensor.from_array(x)

    def __repr__(self):
        return "ToTensor()"


# ==================================================================================================
# Tensor transforms
# ==================================================================================================
class Normalize:
    """(x - mean) / std per channel of a float Tensor (..., C, H, W) (torchvision.transforms.Normalize).

    Differentiable; ``inplace=True`` changes the tensor itself (refused, as in PyTorch, on a leaf that requires
    grad outside ``no_grad``).
    """

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"Normalize: img should be a Tensor (apply ToTensor first), got {type(tensor).__name__}")
        return self._batch(tensor)

    def _batch(self, tensor):
        if tensor.ndim < 3:
            raise ValueError(f"Normalize: expected tensor to be a tensor image of size (..., C, H, W). Got "
                             f"tensor.size() = {tuple(tensor.shape)}")
        if tensor.dtype.kind != "f":
            raise TypeError(f"Normalize: input tensor should be a float tensor. Got {tensor.dtype}.")
        mean = np.asarray(self.mean, dtype=tensor.dtype)
        std = np.asarray(self.std, dtype=tensor.dtype)
        if (std == 0).any():
            raise ValueError(f"Normalize: std evaluated to zero after conversion to {tensor.dtype}, leading to "
                             f"division by zero.")
        if mean.ndim == 1:
            mean = mean.reshape(-1, 1, 1)                 # (C,) -> (C, 1, 1): per channel
        if std.ndim == 1:
            std = std.reshape(-1, 1, 1)
        mean = Tensor(mean, device=tensor.device)
        std = Tensor(std, device=tensor.device)
        if self.inplace:
            return tensor.sub_(mean).div_(std)
        return (tensor - mean) / std

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


# ==================================================================================================
# Geometry: image arrays or Tensors
# ==================================================================================================
def _resized_size(h, w, size, max_size):
    """torchvision's output (OH, OW): an int (or [int]) matches the smaller edge keeping the aspect ratio."""
    if isinstance(size, numbers.Integral) or len(size) == 1:
        size = int(size if isinstance(size, numbers.Integral) else size[0])
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = size, int(size * long / short)
        if max_size is not None:
            if max_size <= size:
                raise ValueError(f"Resize: max_size = {max_size} must be strictly greater than the requested "
                                 f"size for the smaller edge size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)
    if max_size is not None:
        raise ValueError("Resize: max_size should only be passed if size specifies the length of the smaller edge")
    return int(size[0]), int(size[1])


class Resize:
    """Resize images to ``size`` (torchvision.transforms.Resize): an int matches the smaller edge to it keeping
    the aspect ratio, (h, w) is the exact size. Bilinear by default (``interpolation``: "bilinear", "nearest",
    "nearest-exact" or InterpolationMode's names).

    torchvision resizes PIL images with PIL (and tensors with F.interpolate). tinygan resizes on tensors with
    ``tinygan.functional.interpolate`` (align_corners=False, PyTorch's pixel-centre rule): on an image array
    (before ToTensor) in two passes, width then height, each rounded to uint8 as PIL does, so upscaled MNIST
    digits are within one grey level of PIL's; nearest on an image array is "nearest-exact", PIL's rule. On a
    float Tensor (after ToTensor) it is F.interpolate itself, differentiable. Upscaling, antialiasing changes
    nothing; downscaling is not antialiased here (PIL and torchvision's antialias=True are): a warning says so.
    """

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
        if not isinstance(size, numbers.Integral) and not (isinstance(size, (list, tuple)) and len(size) in (1, 2)):
            raise TypeError(f"Resize: size should be an int or a sequence of 1 or 2 ints, got {size!r}")
        self.size, self.max_size, self.antialias = size, max_size, antialias
        self.interpolation = interpolation
        self.mode = _mode(interpolation)
        self._warned = False

    def __call__(self, img):
        return _per_item(self, img)

    def _out_size(self, h, w):
        oh, ow = _resized_size(h, w, self.size, self.max_size)
        if self.antialias and self.mode == "bilinear" and (oh < h or ow < w) and not self._warned:
            self._warned = True
            warnings.warn(f"Resize: downscaling {h}x{w} to {oh}x{ow} without antialiasing (torchvision "
                          f"antialiases, so its pixels differ); tinygan's interpolate has no antialias",
                          stacklevel=3)
        return oh, ow

    def _batch(self, images):
        if isinstance(images, Tensor):
            return self._resize_tensor(images)
        return self._resize_images(images)

    def _resize_tensor(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(f"Resize: expected a Tensor (C, H, W) or (N, C, H, W), got shape {tuple(x.shape)}")
        out = self._out_size(*x.shape[-2:])
        if out == tuple(x.shape[-2:]):
            return x
        batch = x if x.ndim == 4 else x.unsqueeze(0)     # (C, H, W) -> (1, C, H, W)
        dtype = batch.dtype
        if dtype.kind != "f":
            batch = batch.float()
        y = F.interpolate(batch, size=out, mode=self.mode, align_corners=False if self.mode == "bilinear" else None)
        if dtype.kind != "f":                              # integer images: rounded back, as torchvision does
            y = Tensor.from_array(y.array.round().clip(np.iinfo(dtype).min, np.iinfo(dtype).max).astype(dtype))
        return y if x.ndim == 4 else y[0]

    def _resize_images(self, images):
        """Image arrays (N, H, W[, C]) resized as PIL resizes: width, then height, each pass rounded to uint8."""
        n, h, w = images.shape[:3]
        oh, ow = self._out_size(h, w)
        if (oh, ow) == (h, w):
            return images.copy()
        dtype = images.dtype
        x = images[..., None] if images.ndim == 3 else images
        x = Tensor.from_array(np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32))   # -> (N, C, H, W)
        mode = "nearest-exact" if self.mode == "nearest" else self.mode
        for size in ((h, ow), (oh, ow)):                  # PIL's two passes: horizontal, then vertical
            if size == tuple(x.shape[2:]):
                continue
            x = F.interpolate(x, size=size, mode=mode, align_corners=False if mode == "bilinear" else None)
            if dtype == np.uint8:
                x = Tensor.from_array(np.clip(np.floor(x.array + np.float32(0.5)), 0, 255))   # PIL's rounding
        y = x.array.transpose(0, 2, 3, 1).astype(dtype)  # (N, C, OH, OW) -> (N, OH, OW, C)
        return np.ascontiguousarray(y[..., 0] if images.ndim == 3 else y)

    def __repr__(self):
        return (f"Resize(size={self.size}, interpolation={self.mode}, max_size={self.max_size}, "
                f"antialias={self.antialias})")


class CenterCrop:
    """Crop the centre ``size`` (int or (h, w)) of an image, padding with zeros where the image is smaller
    (torchvision.transforms.CenterCrop, with its rounding: top = round((H - h) / 2), Python's round)."""

    def __init__(self, size):
        if isinstance(size, numbers.Integral):
            size = (int(size), int(size))
        elif isinstance(size, (list, tuple)) and len(size) == 1:
            size = (int(size[0]), int(size[0]))
        elif not (isinstance(size, (list, tuple)) and len(size) == 2):
            raise ValueError("CenterCrop: please provide only two dimensions (h, w) for size.")
        self.size = tuple(int(s) for s in size)

    def __call__(self, img):
        return _per_item(self, img)

    def _batch(self, images):
        tensor = isinstance(images, Tensor)
        h, w = images.shape[-2:] if tensor else images.shape[1:3]
        ch, cw = self.size
        if ch > h or cw > w:                               # pad to at least the crop, as torchvision does
            left, top = max(cw - w, 0) // 2, max(ch - h, 0) // 2
            right, bottom = max(cw - w + 1, 0) // 2, max(ch - h + 1, 0) // 2
            if tensor:
                images = F.pad(images, (left, right, top, bottom))
            else:
                widths = [(0, 0), (top, bottom), (left, right)] + [(0, 0)] * (images.ndim - 3)
                images = np.pad(images, widths)
            h, w = h + top + bottom, w + left + right
        top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
        if tensor:
            return images[..., top:top + ch, left:left + cw]
        return np.ascontiguousarray(images[:, top:top + ch, left:left + cw])

    def __repr__(self):
        return f"CenterCrop(size={self.size})"


# ==================================================================================================
# Random transforms: one draw from tinygan's CPU generator per image (tinygan.manual_seed seeds it)
# ==================================================================================================
def _image_or_tensor(transform, img):
    """A Tensor (..., H, W) as it is, or an image array (H, W[, C]) from an array or a PIL image."""
    if isinstance(img, Tensor):
        return img
    image = _image_array(img)
    if image is None:
        raise TypeError(f"{transform}: expected an image (a NumPy array or a PIL image) or a Tensor, got "
                        f"{type(img).__name__}")
    _check_image(transform, image)
    return image


def _flip(img, transform, axis_of_tensor, axis_of_image):
    """img reversed along its width (-1 / 1) or height (-2 / 0) axis: Tensor (..., H, W), image (H, W[, C])."""
    img = _image_or_tensor(transform, img)
    if isinstance(img, Tensor):
        index = (Ellipsis, slice(None, None, -1)) + (slice(None),) * (-1 - axis_of_tensor)
        return img[index]                                  # a view, differentiable
    return np.ascontiguousarray(np.flip(img, axis=axis_of_image))


class RandomHorizontalFlip:
    """Flip the image left to right with probability p (torchvision.transforms.RandomHorizontalFlip)."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        if rng.rand((1,), np.float32, "cpu")[0] < self.p:
            return _flip(img, "RandomHorizontalFlip", -1, 1)
        return img

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class RandomVerticalFlip:
    """Flip the image top to bottom with probability p (torchvision.transforms.RandomVerticalFlip)."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        if rng.rand((1,), np.float32, "cpu")[0] < self.p:
            return _flip(img, "RandomVerticalFlip", -2, 0)
        return img

    def __repr__(self):
        return f"RandomVerticalFlip(p={self.p})"


class RandomCrop:
    """Crop a random ``size`` (int or (h, w)) window of the image (torchvision.transforms.RandomCrop): first
    ``padding`` (int: every side; (lr, tb); or (left, top, right, bottom)) with ``fill``, then, with
    pad_if_needed, both sides of an axis smaller than the crop by the shortfall. Only padding_mode="constant"."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        if padding_mode != "constant":
            raise NotImplementedError(f"RandomCrop: only padding_mode='constant' is supported, got {padding_mode!r}")
        self.size = CenterCrop(size).size
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    def __call__(self, img):
        img = _image_or_tensor("RandomCrop", img)
        if self.padding is not None:
            img = _pad_sides(img, _four_sides(self.padding), self.fill)
        th, tw = self.size
        h, w = _height_width(img)
        if self.pad_if_needed and w < tw:
            img = _pad_sides(img, (tw - w, 0, tw - w, 0), self.fill)
        if self.pad_if_needed and h < th:
            img = _pad_sides(img, (0, th - h, 0, th - h), self.fill)
        h, w = _height_width(img)
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than the input image size "
                             f"{(h, w)}")
        generator = rng.get_generator("cpu")
        top = int(generator.integers(0, h - th + 1))
        left = int(generator.integers(0, w - tw + 1))
        if isinstance(img, Tensor):
            return img[..., top:top + th, left:left + tw]
        return np.ascontiguousarray(img[top:top + th, left:left + tw])

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


def _height_width(img):
    return tuple(img.shape[-2:]) if isinstance(img, Tensor) else tuple(img.shape[:2])


def _four_sides(padding):
    """(left, top, right, bottom) from torchvision's padding: an int, (left/right, top/bottom) or four ints."""
    if isinstance(padding, numbers.Integral):
        return (int(padding),) * 4
    padding = tuple(int(p) for p in padding)
    if len(padding) == 1:
        return padding * 4
    if len(padding) == 2:
        return padding * 2
    if len(padding) == 4:
        return padding
    raise ValueError(f"RandomCrop: padding must be an int or a sequence of 1, 2 or 4 ints, got {padding!r}")


def _pad_sides(img, sides, fill):
    """img padded with ``fill`` by (left, top, right, bottom): Tensor (..., H, W) or image (H, W[, C])."""
    left, top, right, bottom = sides
    if isinstance(img, Tensor):
        return F.pad(img, (left, right, top, bottom), value=fill)
    widths = [(top, bottom), (left, right)] + [(0, 0)] * (img.ndim - 2)
    return np.pad(img, widths, constant_values=fill)


# ==================================================================================================
# Whole stacks at once
# ==================================================================================================
BATCHED = (Compose, ToTensor, Normalize, Resize, CenterCrop)


def vectorisable(transform):
    """True when ``transform`` is None or made only of this module's transforms (exactly these classes), so
    ``apply_batched`` gives what applying it image by image gives."""
    if transform is None:
        return True
    if type(transform) is Compose:
        return all(vectorisable(t) for t in transform.transforms)
    return type(transform) in BATCHED


def apply_batched(transform, images):
    """``transform`` applied to each of ``images`` (a uint8 array (N, H, W) or (N, H, W, C)), all at once: an
    array of images, or a Tensor (N, ...) once ToTensor has run. Only for ``vectorisable`` transforms."""
    if not vectorisable(transform):
        raise TypeError(f"apply_batched: {transform!r} is not made only of tinygan.vision.transforms' classes")
    return images if transform is None else transform._batch(images)


def cache_key(transform):
    """A value equal to an earlier one only while ``transform`` is the same objects with the same settings: the
    transforms themselves (identity), the list of a Compose's steps, and a counter that every change of a
    setting bumps (their ``__setattr__``). Cheap enough to check for every item a dataset serves."""
    if type(transform) is Compose:
        return (transform, tuple(cache_key(t) for t in transform.transforms), _settings.version)
    return (transform, _settings.version)


class _Settings:
    version = 0


_settings = _Settings()


def _bump_on_set(cls):
    """Make every assignment to a public attribute of ``cls``'s instances bump the settings counter."""
    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        if not name.startswith("_"):
            _settings.version += 1
    cls.__setattr__ = __setattr__
    return cls


for _cls in BATCHED:
    _bump_on_set(_cls)


__all__ = ["Compose", "Lambda", "ToTensor", "Normalize", "Resize", "CenterCrop", "InterpolationMode",
           "RandomHorizontalFlip", "RandomVerticalFlip", "RandomCrop",
           "vectorisable", "apply_batched", "cache_key"]

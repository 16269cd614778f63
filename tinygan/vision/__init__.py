"""tinygan.vision: what PyTorch GAN code takes from torchvision, so its data lines port by changing imports too.

    from tinygan.vision import datasets, transforms          # was: from torchvision import datasets, transforms
    from tinygan.vision.utils import save_image              # was: from torchvision.utils import save_image

- ``datasets``: MNIST and FashionMNIST, read by ``idx`` (the IDX files' search, MD5 checks, downloads, errors);
- ``transforms``: Compose, ToTensor, Normalize, Resize, CenterCrop, Lambda, on NumPy image arrays and Tensors
  (no PIL: where torchvision hands a transform a PIL image, tinygan hands it a uint8 NumPy array);
- ``utils``: make_grid and save_image with torchvision's arguments and pixels.
"""
from tinygan.vision import datasets, transforms, utils

__all__ = ["datasets", "transforms", "utils"]

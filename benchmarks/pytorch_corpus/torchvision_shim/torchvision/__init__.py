"""A small stand-in for torchvision on the PyTorch side of the corpus runner (torchvision from PyPI does not
install beside the local CPU build of torch 2.13). It is written against torch and NumPy only -- nothing of
tinygan's -- and follows torchvision's semantics for what the corpus uses: datasets.MNIST/FashionMNIST read from
IDX files (``root`` holding them, or ``root/MNIST/raw``), ``data``/``targets`` and the legacy
``train_data``/``train_labels``/``test_data``/``test_labels``, items as PIL images; transforms Compose,
ToTensor, Normalize, Resize, CenterCrop, Lambda, RandomHorizontalFlip; utils.make_grid/save_image."""
from torchvision import datasets, transforms, utils  # noqa: F401

__version__ = "0.0-corpus-shim"

"""MNIST and Fashion-MNIST as torchvision.datasets gives them: ``dataset[i]`` is ``(image, label)``.

    dataset = datasets.MNIST("data", train=True, download=True,
                             transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.5], [0.5])]))
    loader = DataLoader(dataset, batch_size=64, shuffle=True)     # tinygan.utils.data.DataLoader

The files are found, downloaded and checked by tinygan.vision.idx (``load_mnist``): ``root`` is the folder
holding the IDX files, or a parent of ``MNIST/raw`` (torchvision's layout, so an existing torchvision download
is reused) or of ``mnist/``; gzipped files are checked against their published MD5. ``download=True``
downloads missing files into ``root`` itself (created if missing, as torchvision does); missing files with
``download=False``, a corrupt file, or ``train=True`` where only the test split is there raise idx's
``DatasetError`` (a RuntimeError), saying what is missing and what to do.

Items: without a transform the image is a uint8 NumPy array (28, 28), where torchvision gives a PIL image
(tinygan.vision needs no PIL; its transforms take these arrays), and the label a Python int. ``data`` (uint8
(N, 28, 28)) and ``targets`` (int64 (N,)) are Tensors, as torchvision's.

The fast path: when the transform is made only of tinygan.vision.transforms' classes (Compose, Resize,
CenterCrop, ToTensor, Normalize), the first item asked for transforms every image in one pass and keeps the
result (when it fits in ``CACHE_BYTES``), so an item is a copy of a row: an epoch of the 10k test split through
a DataLoader at batch 64 takes about 0.05 s, not the seconds of image-by-image transforms. Changing
``transform``, ``data`` or a transform's settings recomputes it; any other transform runs item by item.
"""
import pathlib

import numpy as np

from tinygan.core import Tensor
from tinygan.utils.data import Dataset
from tinygan.vision import idx
from tinygan.vision import transforms as T

CACHE_BYTES = 1 << 30        # the largest transformed copy of a dataset kept in memory (1 GiB)
_CHUNK = 1024                # images transformed per pass when filling the cache


class MNIST(Dataset):
    """The MNIST digits, 60,000 training and 10,000 test images of 28 x 28 (torchvision.datasets.MNIST)."""
    dataset = "mnist"
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        self.root = root
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        images, labels = self._load(root, "train" if self.train else "test", download)
        self.data = Tensor.from_array(images.reshape(len(images), *images.shape[2:]))   # (N, 1, 28, 28) -> (N, 28, 28)
        self.targets = Tensor.from_array(labels)
        self._cache = None                                  # (key, transformed images or None)
        self._cache_is_tensor = False

    def _load(self, root, split, download):
        if download and root is not None:
            pathlib.Path(root).expanduser().mkdir(parents=True, exist_ok=True)   # torchvision creates it too
        try:
            return idx.load_mnist(root=root, split=split, dataset=self.dataset, download=download)
        except idx.DatasetError as exc:
            if exc.other_split is None:
                raise
            other = "False" if exc.other_split == "test" else "True"
            raise idx.DatasetError(f"{exc}\n{type(self).__name__}: the {exc.other_split} split is there: "
                                   f"{type(self).__name__}(root, train={other}) uses it.", exc.path,
                                   exc.other_split) from None

    # torchvision's legacy names (code from before 0.4.0): mnist.train_data, mnist.test_labels, ...
    train_data = test_data = property(lambda self: self.data)
    train_labels = test_labels = property(lambda self: self.targets)

    @property
    def class_to_idx(self):
        return {name: i for i, name in enumerate(self.classes)}

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for {len(self)} items")
        target = int(self.targets.array[index])
        transformed = self._transformed()
        if transformed is not None:
            row = transformed[index].copy()                  # a copy: an in-place change never reaches the cache
            img = Tensor.from_array(row) if self._cache_is_tensor else row
        else:
            img = self.data.array[index].copy()
            if self.transform is not None:
                img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _transformed(self):
        """Every image transformed, computed once per (transform, data) in chunks; None off the fast path."""
        images = self.data.array
        key = (T.cache_key(self.transform), images)
        if self._cache is not None and self._cache[0][1] is images and self._cache[0][0] == key[0]:
            return self._cache[1]
        result = None
        if self.transform is not None and T.vectorisable(self.transform) and len(images):
            first = T.apply_batched(self.transform, images[:_CHUNK])
            first_array = first.array if isinstance(first, Tensor) else first
            if first_array.nbytes / min(len(images), _CHUNK) * len(images) <= CACHE_BYTES:
                parts = [first_array]
                for lo in range(_CHUNK, len(images), _CHUNK):
                    part = T.apply_batched(self.transform, images[lo:lo + _CHUNK])
                    parts.append(part.array if isinstance(part, Tensor) else part)
                result = np.concatenate(parts) if len(parts) > 1 else first_array
                self._cache_is_tensor = isinstance(first, Tensor)
        self._cache = (key, result)
        return result

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}", f"    Split: {'Train' if self.train else 'Test'}"]
        if self.transform is not None:
            lines.append("    StandardTransform\n" + "Transform: " + repr(self.transform).replace("\n", "\n    "))
        return "\n".join(lines)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28 x 28 grey pictures of ten kinds of clothing (torchvision.datasets.FashionMNIST)."""
    dataset = "fashion-mnist"
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


__all__ = ["MNIST", "FashionMNIST"]

"""MNIST and Fashion-MNIST for the examples: the IDX files (tinygan.vision.idx), then batches on a device.

``load_mnist`` (found, downloaded, verified and parsed by tinygan/vision/idx.py, and importable from here)
returns NumPy arrays: images uint8 (N, 1, 28, 28) and labels int64 (N,), from ``root`` (the examples'
``--data-dir DIR``), else ``$TINYGAN_DATA``, else the per-user cache ``~/.cache/tinygan/<dataset>``.

``MNISTBatches`` moves a whole dataset to the device once, as float32 scaled to [-1, 1], and hands out
shuffled batches by indexing on the device (a ``tinygan.utils.data.DataLoader`` over a ``TensorDataset``): no
host round-trips inside an epoch.

``data_error_line`` turns load_mnist's DatasetError into the one line the commands print.
"""
import numpy as np

from tinygan.core import array_backend as backend
from tinygan.core import Tensor
from tinygan.utils.data import DataLoader, TensorDataset
from tinygan.vision.idx import (DATASETS, DEFAULT_TIMEOUT, IMAGE_SIZE, IMAGES_MAGIC, LABELS_MAGIC, MD5,  # noqa: F401
                                MIRRORS, NUM_CLASSES, SPLITS, DatasetError, data_dir, default_data_dir, file_names,
                                load_mnist, md5sum, read_idx, read_images, read_labels)


class MNISTBatches:
    """Shuffled mini-batches of a whole dataset held on one device.

    The images move to ``device`` once: uint8 images become float32 ``x / 127.5 - 1`` in [-1, 1] (float
    images are kept as they are, in float32), shaped (N, 1, 28, 28), or (N, 784) with ``flat=True``. Each
    pass over the object is one epoch: it draws exactly one permutation from tinygan's seeded generator
    (``tinygan.manual_seed``; saved and restored by ``rng.get_rng_state``/``set_rng_state``), so a run
    resumed from a checkpoint taken between epochs sees the same batches. Batches are Tensors gathered on the
    device; with labels each item is ``(images, labels)`` (labels int64), without them just ``images``.
    ``len()`` is the number of batches per epoch. The batching is a ``DataLoader`` over a ``TensorDataset`` of the
    device arrays (tinygan/utils/data.py), whose shuffling draws that one permutation.
    """

    def __init__(self, images, labels=None, batch_size=64, device=None, shuffle=True, drop_last=True, flat=False):
        if int(batch_size) < 1:
            raise ValueError(f"MNISTBatches: batch_size must be at least 1, got {batch_size}")
        if labels is not None and len(labels) != len(images):
            raise ValueError(f"MNISTBatches: {len(images)} images but {len(labels)} labels")
        self.device = backend.check_device(backend.get_default_device() if device is None else device)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.num_samples = len(images)
        if self.drop_last and self.num_samples < self.batch_size:
            raise ValueError(f"MNISTBatches: batch_size {self.batch_size} is larger than the dataset "
                             f"({self.num_samples} samples), so drop_last=True leaves no batches")

        x = backend.to_device(images, self.device)          # uint8 moves: 4x less traffic than float32
        if x.dtype == np.uint8:
            x = x.astype(np.float32)
            x /= 127.5                                      # in place, float32 throughout
            x -= 1.0
        else:
            x = x.astype(np.float32, copy=False)
        if flat:
            x = x.reshape(len(x), -1)                       # (N, 1, 28, 28) -> (N, 784)
        self.images = x
        self.labels = None if labels is None else backend.to_device(
            backend.asnumpy(labels).astype(np.int64, copy=False), self.device)
        arrays = (x,) if self.labels is None else (x, self.labels)
        self.loader = DataLoader(TensorDataset(*(Tensor.from_array(a) for a in arrays)), batch_size=self.batch_size,
                                 shuffle=self.shuffle, drop_last=self.drop_last)

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            yield batch[0] if self.labels is None else tuple(batch)

    def __repr__(self):
        return (f"MNISTBatches(samples={self.num_samples}, batch_size={self.batch_size}, device='{self.device}', "
                f"shape={tuple(self.images.shape[1:])}, shuffle={self.shuffle}, drop_last={self.drop_last})")


def batches(images, labels=None, batch_size=64, device=None, shuffle=True, drop_last=True, flat=False):
    """``MNISTBatches(images, labels, batch_size, device, shuffle, drop_last, flat)``."""
    return MNISTBatches(images, labels, batch_size=batch_size, device=device, shuffle=shuffle,
                        drop_last=drop_last, flat=flat)


def data_error_line(exc, args, use="trains on it"):
    """load_mnist's message in one line: what is missing and where, and what to do about it (``use``: what
    --split OTHER would do with the other split, when it is there)."""
    lines = str(exc).splitlines()
    where = f" (in {exc.path})" if exc.path is not None and str(exc.path) not in lines[0] else ""
    if "not found" not in lines[0]:                 # corrupt files: the first line names the file and the fix
        return f"{lines[0]}{where}"
    tried = ("; nothing was downloaded (--no-download)" if args.no_download else
             "; downloading failed" if any("every mirror" in line for line in lines) else "")
    if exc.other_split:
        return (f"{lines[0]}{where}{tried}; the {exc.other_split} split is there: --split {exc.other_split} "
                f"{use}")
    return (f"{lines[0]}{where}{tried}; pass --data-dir DIR (a folder holding the MNIST IDX files, gzipped or "
            f"not) or set TINYGAN_DATA=DIR")

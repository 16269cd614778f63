"""MNIST and Fashion-MNIST's IDX files: find them, download the missing ones, verify and parse them.

``load_mnist`` returns NumPy arrays: images uint8 (N, 1, 28, 28) and labels int64 (N,). It looks in one
folder, chosen in this order:

1. ``root`` (the examples' ``--data-dir DIR``, torchvision's ``root``),
2. ``$TINYGAN_DATA``,
3. a per-user cache, ``$XDG_CACHE_HOME/tinygan/<dataset>`` (``~/.cache/tinygan/<dataset>`` by default).

In that folder it also accepts a ``<dataset>/`` subfolder and torchvision's ``MNIST/raw`` or
``FashionMNIST/raw`` layout, so an existing torchvision download is reused. Each file may be gzipped (its MD5
is checked against the published one) or uncompressed (checked by parsing its header and size). Missing files
are downloaded from the mirrors torchvision uses, one mirror after another, into a temporary file in the same
folder that only becomes the real file once its MD5 matches: an interrupted download never leaves a file under
the real name. Only the per-user cache is created when missing: a ``root`` or ``$TINYGAN_DATA`` folder that
does not exist is an error (a mistyped path never becomes a new folder).

tinygan.vision.datasets (MNIST, FashionMNIST) reads through it, and so do the examples (tinygan.app.data).
"""
import gzip
import hashlib
import os
import pathlib
import sys
import urllib.error
import urllib.request
import zlib
from http.client import HTTPException

import numpy as np

from tinygan.fileio import write_atomically

DATASETS = ("mnist", "fashion-mnist")
SPLITS = ("train", "test")

# the folder name torchvision gives each dataset (<root>/<name>/raw)
_TORCHVISION_NAMES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}

# Base URLs tried one after another; tests and users may replace or extend these lists (or pass mirrors=).
MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
              "http://yann.lecun.com/exdb/mnist/"],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}

# The published MD5 of each gzipped file (the same as torchvision/datasets/mnist.py).
MD5 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

# IDX magic numbers: 0x0000 0803 = unsigned bytes, 3 dimensions; 0x0000 0801 = unsigned bytes, 1 dimension
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
IMAGE_SIZE = (28, 28)
NUM_CLASSES = 10

DEFAULT_TIMEOUT = 30.0  # seconds per network operation (connect, each read)


class DatasetError(RuntimeError):
    """A dataset file is missing, could not be downloaded, or is corrupt; the message says which and what to do.

    ``path``: the file or folder concerned; ``missing``: the names of the files that are missing (empty when
    the error is about a file that is there); ``other_split``: when the asked split is missing but the other
    one is in the folder, that split's name (so a caller can suggest it).
    """

    def __init__(self, message, path=None, other_split=None, missing=()):
        super().__init__(message)
        self.path = None if path is None else pathlib.Path(path)
        self.other_split = other_split
        self.missing = tuple(missing)


# ==================================================================================================
# File names and folders
# ==================================================================================================
def file_names(split):
    """The (images, labels) IDX file names of ``split`` without the .gz suffix."""
    prefix = {"train": "train", "test": "t10k"}[_check_choice("split", split, SPLITS)]
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def default_data_dir(dataset="mnist"):
    """The folder load_mnist uses when neither ``root`` nor $TINYGAN_DATA is given."""
    dataset = _check_choice("dataset", dataset, DATASETS)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(cache) / "tinygan" / dataset


def data_dir(root=None, dataset="mnist"):
    """The folder load_mnist reads from and downloads into: ``root``, else $TINYGAN_DATA, else the cache."""
    if root is not None:
        return pathlib.Path(root).expanduser()
    env = os.environ.get("TINYGAN_DATA")
    if env:
        return pathlib.Path(env).expanduser()
    return default_data_dir(dataset)


def _check_folder(root, folder, dataset):
    """A folder named by ``root`` or $TINYGAN_DATA must exist; only the default cache may be created."""
    if folder.is_dir() or folder == default_data_dir(dataset):
        return
    named = "root" if root is not None else "$TINYGAN_DATA"
    problem = "is not a folder" if folder.exists() else "does not exist"
    raise DatasetError(f"{folder} ({named}) {problem}: create it, or point {named} at the folder holding "
                       f"the {dataset} IDX files", folder)


def _search_dirs(folder, dataset):
    """``folder`` first, then the subfolders where other tools keep the same files."""
    return [folder, folder / dataset, folder / _TORCHVISION_NAMES[dataset] / "raw"]


def _find(name, dirs):
    """The first existing ``name.gz`` or ``name`` (gzip preferred: its MD5 can be checked), or None."""
    for d in dirs:
        for candidate in (d / (name + ".gz"), d / name):
            if candidate.is_file():
                return candidate
    return None


def _verified(name, path, dirs, dataset):
    """The gzipped ``name`` of ``dataset`` for a ``path`` whose MD5 did not match: another copy in ``dirs`` that
    does (a folder holding MNIST with Fashion-MNIST in its fashion-mnist/ subfolder), else DatasetError: the
    file is another dataset's (its MD5 is that dataset's published one: never suggest deleting it), or it is
    corrupt."""
    expected, found = MD5[dataset][path.name], md5sum(path)
    for d in dirs:
        candidate = d / path.name
        if candidate != path and candidate.is_file() and md5sum(candidate) == expected:
            return candidate
    other = next((o for o in DATASETS if o != dataset and MD5[o].get(path.name) == found), None)
    if other is not None:
        raise DatasetError(f"{path} is {other}'s {path.name}, not {dataset}'s (its MD5 is the published {other} "
                           f"one): the folder holds {other} files; pass --data-dir a folder holding the {dataset} "
                           f"files, or --dataset {other} to use these", path)
    raise DatasetError(f"{path}: MD5 is {found}, expected {expected} for {dataset} {path.name}: the file is "
                       f"corrupt or truncated, or not a {dataset} file; replace it with the published one (or "
                       f"delete it so it is downloaded again)", path)


def _check_choice(what, value, choices):
    if value not in choices:
        raise ValueError(f"load_mnist: unknown {what} {value!r}: expected one of {choices}")
    return value


# ==================================================================================================
# Parsing IDX files
# ==================================================================================================
def md5sum(path, chunk_size=1 << 20):
    """The hex MD5 digest of a file."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _read_bytes(path):
    """The file's (decompressed) contents in a writable buffer, so the arrays made from it are writable."""
    opener = gzip.open if str(path).endswith(".gz") else open
    buf = bytearray()
    try:
        with opener(path, "rb") as f:
            while chunk := f.read(1 << 20):
                buf += chunk
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: corrupt or truncated gzip file ({type(exc).__name__}: {exc}); "
                           f"delete it so it can be downloaded again, or replace it", path) from None
    return buf


def read_idx(path, magic):
    """Parse an IDX file of unsigned bytes (gzipped or raw) whose header must start with ``magic``.

    Returns a writable uint8 array shaped as the header says. Raises DatasetError naming the file when the
    magic number is wrong or the size does not match the header (a truncated or padded file).
    """
    path = pathlib.Path(path)
    buf = _read_bytes(path)
    kind = {IMAGES_MAGIC: "image", LABELS_MAGIC: "label"}.get(magic, "IDX")
    if len(buf) < 4:
        raise DatasetError(f"{path}: file is truncated: {len(buf)} bytes, too short for an IDX header", path)
    found = int.from_bytes(buf[:4], "big")
    if found != magic:
        hint = {IMAGES_MAGIC: " (an IDX image file)", LABELS_MAGIC: " (an IDX label file)"}.get(found, "")
        raise DatasetError(f"{path}: wrong magic number {found}{hint}: expected {magic} for an IDX {kind} file "
                           f"of unsigned bytes; is it the right file, or corrupt?", path)
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise DatasetError(f"{path}: file is truncated: {len(buf)} bytes, the header alone needs {header}", path)
    dims = tuple(int.from_bytes(buf[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(buf) != expected:
        what = "truncated" if len(buf) < expected else "too long"
        raise DatasetError(f"{path}: file is {what}: its header says shape {dims}, which needs {expected} bytes, "
                           f"but it has {len(buf)}", path)
    return np.frombuffer(buf, dtype=np.uint8, offset=header).reshape(dims)   # (header bytes + data) -> dims


def read_images(path):
    """The images of an IDX image file as uint8 (N, 1, 28, 28)."""
    x = read_idx(path, IMAGES_MAGIC)
    if x.shape[1:] != IMAGE_SIZE:
        raise DatasetError(f"{path}: images are {x.shape[1]}x{x.shape[2]}, expected "
                           f"{IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}", path)
    return x.reshape(x.shape[0], 1, *IMAGE_SIZE)                            # (N, 28, 28) -> (N, 1, 28, 28)


def read_labels(path):
    """The labels of an IDX label file as int64 (N,), checked to lie in 0..9."""
    y = read_idx(path, LABELS_MAGIC)
    if y.size and int(y.max()) >= NUM_CLASSES:
        raise DatasetError(f"{path}: label {int(y.max())} is out of range: expected 0..{NUM_CLASSES - 1}", path)
    return y.astype(np.int64)


# ==================================================================================================
# Download
# ==================================================================================================
def _download(url, dest, md5, timeout):
    """Fetch ``url`` into a temporary file beside ``dest`` and move it to ``dest`` only if its MD5 matches."""

    def write(tmp):
        digest = hashlib.md5()
        with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 16):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != md5:
            raise DatasetError(f"MD5 mismatch: got {digest.hexdigest()}, expected {md5} (corrupt or "
                               f"incomplete download)")

    write_atomically(dest, write)


def _fetch(name, folder, md5, mirrors, timeout, errors):
    """Try each mirror for ``name``; True once one worked, else the failures are appended to ``errors``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        errors.append((name, str(folder), f"cannot create the folder: {exc}"))
        return False
    for i, mirror in enumerate(mirrors):
        url = mirror.rstrip("/") + "/" + name
        print(f"tinygan: downloading {url} -> {folder / name}", file=sys.stderr)
        try:
            _download(url, folder / name, md5, timeout)
            return True
        except (urllib.error.URLError, HTTPException, OSError, ValueError, DatasetError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) and not isinstance(
                exc, urllib.error.HTTPError) else exc
            errors.append((name, url, f"{type(reason).__name__}: {reason}"))
            then = ", trying the next mirror" if i + 1 < len(mirrors) else ""
            print(f"tinygan: failed ({reason}){then}", file=sys.stderr)
    return False


def _missing_error(dataset, split, missing, dirs, errors, download, mirrors):
    """One message saying what is missing, where we looked, what was tried, and how to supply the files."""
    lines = [f"{dataset} {split} split: {len(missing)} file(s) not found: {', '.join(missing)}",
             "Looked in (each file may be gzipped or not):"]
    lines += [f"  {d}" for d in dirs]
    other = {"train": "test", "test": "train"}[split]
    other_present = all(_find(name, dirs) is not None for name in file_names(other))
    if other_present:
        lines.append(f"The {other} split is there: load_mnist(split={other!r}) (--split {other} in the examples) "
                     f"uses it.")
    if not download:
        lines.append("Nothing was downloaded (download=False).")
    elif errors:
        lines.append("Downloading failed from every mirror:")
        lines += [f"  {url}: {reason}" for _, url, reason in errors]
    else:
        lines.append("No download mirror is configured (mirrors=[]).")
    all_files = [n for s in SPLITS for n in file_names(s)]
    lines += ["To supply the files by hand, download these four files into one folder DIR:",
              "  " + "  ".join(n + ".gz" for n in all_files),
              f"from {' or '.join(mirrors) if mirrors else 'a mirror of the dataset'}, then pass "
              f"--data-dir DIR to the examples, set TINYGAN_DATA=DIR, or call load_mnist(root=DIR). "
              f"Gzipped or uncompressed files both work."]
    return DatasetError("\n".join(lines), dirs[0], other_split=other if other_present else None, missing=missing)


# ==================================================================================================
# Loading
# ==================================================================================================
def load_mnist(root=None, split="train", dataset="mnist", download=True, mirrors=None, timeout=DEFAULT_TIMEOUT):
    """Load MNIST or Fashion-MNIST as NumPy arrays: images uint8 (N, 1, 28, 28) and labels int64 (N,).

    root: the folder holding the IDX files (default: $TINYGAN_DATA, else ~/.cache/tinygan/<dataset>).
    split: "train" (60000 images) or "test" (10000).  dataset: "mnist" or "fashion-mnist".
    download: fetch missing files from ``mirrors`` (default ``MIRRORS[dataset]``), ``timeout`` seconds per
    network operation. Raises DatasetError when files are missing and cannot be downloaded, or are corrupt,
    or when ``root`` (or $TINYGAN_DATA) names a folder that does not exist.
    """
    dataset = _check_choice("dataset", dataset, DATASETS)
    names = file_names(split)
    folder = data_dir(root, dataset)
    _check_folder(root, folder, dataset)
    dirs = _search_dirs(folder, dataset)
    mirrors = list(MIRRORS[dataset]) if mirrors is None else [mirrors] if isinstance(mirrors, str) else list(mirrors)

    paths, missing, errors = {}, [], []
    for name in names:
        path = _find(name, dirs)
        # once a file failed from every mirror (offline, say), the next is not tried: it is on the same mirrors
        if path is None and download and not missing and _fetch(name + ".gz", folder, MD5[dataset][name + ".gz"],
                                                                 mirrors, timeout, errors):
            path = folder / (name + ".gz")
        if path is None:
            missing.append(name + ".gz")
        paths[name] = path
    if missing:
        raise _missing_error(dataset, split, missing, dirs, errors, download, mirrors)

    for name, path in paths.items():
        if path.suffix == ".gz" and md5sum(path) != MD5[dataset][path.name]:
            paths[name] = _verified(name, path, dirs, dataset)
    images, labels = read_images(paths[names[0]]), read_labels(paths[names[1]])
    if len(images) != len(labels):
        raise DatasetError(f"{paths[names[0]]} has {len(images)} images but {paths[names[1]]} has "
                           f"{len(labels)} labels: the two files must come from the same split", paths[names[1]])
    return images, labels

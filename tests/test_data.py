"""tinygan.app.data and the IDX files it reads through tinygan.vision.idx: loading the genuine MNIST test split, bad
files, downloads from a real local HTTP server, the folder precedence, and the device-resident batch iterator.

Every network test talks only to servers this file starts on 127.0.0.1, with short timeouts.
"""
import functools
import gzip
import hashlib
import http.server
import shutil
import threading

import numpy as np
import pytest

import tinygan
from tinygan import backend
from tinygan.app import data
from tinygan.app.data import DatasetError, MNISTBatches, load_mnist
from tinygan.vision import idx

TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
ALL_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz") + TEST_FILES
# the published per-digit counts of the MNIST test split
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TIMEOUT = 2.0


@pytest.fixture(autouse=True)
def _no_env(monkeypatch, tmp_path):
    """No test sees the user's $TINYGAN_DATA or cache, and the default mirrors point nowhere real."""
    monkeypatch.delenv("TINYGAN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setattr(idx, "MIRRORS", {"mnist": [], "fashion-mnist": []})


def _parse_gz(path, header):
    """Independent reference: the bytes after the header of a gzipped IDX file, by plain gzip + numpy."""
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8)[header:]


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def _copy_test_split(mnist_dir, dest, gz=True):
    """Copy (or gunzip) the shared test split into ``dest`` and return ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in TEST_FILES:
        if gz:
            shutil.copy(mnist_dir / name, dest / name)
        else:
            with gzip.open(mnist_dir / name, "rb") as f:
                (dest / name[:-3]).write_bytes(f.read())
    return dest


def _write_idx(path, magic, dims, payload):
    """Write a raw IDX file: big-endian magic, dims, then the bytes of ``payload``."""
    header = int(magic).to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in dims)
    path.write_bytes(header + np.asarray(payload, dtype=np.uint8).tobytes())


# ==================================================================================================
# The genuine test split
# ==================================================================================================
def test_load_real_test_split(mnist_dir):
    images, labels = load_mnist(mnist_dir, split="test", download=False)
    assert images.shape == (10000, 1, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.int64
    assert labels.min() == 0 and labels.max() == 9
    ref_labels = _parse_gz(mnist_dir / "t10k-labels-idx1-ubyte.gz", 8)
    ref_images = _parse_gz(mnist_dir / "t10k-images-idx3-ubyte.gz", 16)
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_array_equal(images.reshape(-1), ref_images)
    assert int(labels.sum()) == int(ref_labels.astype(np.int64).sum())
    assert int(images.sum(dtype=np.int64)) == int(ref_images.sum(dtype=np.int64))
    assert np.bincount(labels, minlength=10).tolist() == MNIST_TEST_COUNTS
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert images.flags.writeable


def test_raw_files_load_like_gzipped(mnist_dir, tmp_path):
    raw = _copy_test_split(mnist_dir, tmp_path / "raw", gz=False)
    images, labels = load_mnist(raw, split="test", download=False)
    ref_images, ref_labels = load_mnist(mnist_dir, split="test", download=False)
    np.testing.assert_array_equal(images, ref_images)
    np.testing.assert_array_equal(labels, ref_labels)


@pytest.mark.parametrize("layout", ["mnist", "MNIST/raw"])
def test_subfolder_and_torchvision_layout(mnist_dir, tmp_path, layout):
    _copy_test_split(mnist_dir, tmp_path / layout)
    images, labels = load_mnist(tmp_path, split="test", download=False)
    assert images.shape == (10000, 1, 28, 28) and len(labels) == 10000


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        load_mnist(split="validation", download=False)
    with pytest.raises(ValueError, match="dataset"):
        load_mnist(dataset="cifar10", download=False)


# ==================================================================================================
# Bad files: each error names the file
# ==================================================================================================
@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupt_gz_fails_md5(mnist_dir, tmp_path, damage):
    folder = _copy_test_split(mnist_dir, tmp_path / "d")
    path = folder / "t10k-images-idx3-ubyte.gz"
    blob = bytearray(path.read_bytes())
    if damage == "flip":
        blob[len(blob) // 2] ^= 0xFF
    else:
        blob = blob[:len(blob) // 2]
    path.write_bytes(bytes(blob))
    with pytest.raises(DatasetError, match="MD5") as info:
        load_mnist(folder, split="test", download=False)
    assert str(path) in str(info.value) and info.value.path == path


def test_truncated_gzip_is_a_clear_parse_error(mnist_dir, tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes((mnist_dir / path.name).read_bytes()[:1000])
    with pytest.raises(DatasetError, match="corrupt or truncated gzip") as info:
        data.read_labels(path)
    assert str(path) in str(info.value)


def test_another_datasets_files_are_named_as_such_and_never_to_be_deleted(mnist_dir, tmp_path):
    # genuine MNIST files asked for as Fashion-MNIST: their MD5 is MNIST's published one, so they are valid
    # files of the wrong dataset, not corrupt ones (the message used to say "delete it")
    folder = _copy_test_split(mnist_dir, tmp_path / "d")
    path = folder / "t10k-images-idx3-ubyte.gz"
    with pytest.raises(DatasetError) as info:
        load_mnist(folder, split="test", dataset="fashion-mnist", download=False)
    message = str(info.value)
    assert message == (f"{path} is mnist's t10k-images-idx3-ubyte.gz, not fashion-mnist's (its MD5 is the "
                       f"published mnist one): the folder holds mnist files; pass --data-dir a folder holding the "
                       f"fashion-mnist files, or --dataset mnist to use these")
    assert info.value.path == path and "delete" not in message
    assert _md5(path) == data.MD5["mnist"][path.name]              # untouched


def test_a_good_copy_in_a_subfolder_is_used_when_the_top_level_one_is_another_datasets(mnist_dir, tmp_path):
    # <folder> holds Fashion-MNIST's names with other contents, <folder>/mnist/ the genuine files
    folder = tmp_path / "d"
    _copy_test_split(mnist_dir, folder / "mnist")
    for name in TEST_FILES:
        (folder / name).write_bytes(gzip.compress(b"not mnist"))
    images, labels = load_mnist(folder, split="test", download=False)
    assert images.shape == (10000, 1, 28, 28) and np.bincount(labels).tolist() == MNIST_TEST_COUNTS


def test_a_corrupt_file_of_the_right_name_still_says_corrupt(mnist_dir, tmp_path):
    folder = _copy_test_split(mnist_dir, tmp_path / "d")
    path = folder / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DatasetError, match="MD5 is .*corrupt or truncated") as info:
        load_mnist(folder, split="test", download=False)
    assert info.value.path == path and "\n" not in str(info.value)


def test_truncated_raw_file(mnist_dir, tmp_path):
    folder = _copy_test_split(mnist_dir, tmp_path / "d", gz=False)
    path = folder / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match="truncated") as info:
        load_mnist(folder, split="test", download=False)
    assert str(path) in str(info.value)


def test_too_long_raw_file(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    _write_idx(path, data.LABELS_MAGIC, [3], [1, 2, 3, 4])
    with pytest.raises(DatasetError, match="too long") as info:
        data.read_labels(path)
    assert str(path) in str(info.value)


def test_header_shorter_than_dims(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(data.IMAGES_MAGIC.to_bytes(4, "big") + b"\0\0")
    with pytest.raises(DatasetError, match="truncated"):
        data.read_images(path)


def test_wrong_magic_number(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    # a label file where the image file should be
    _write_idx(folder / "t10k-images-idx3-ubyte", data.LABELS_MAGIC, [4], [1, 2, 3, 4])
    _write_idx(folder / "t10k-labels-idx1-ubyte", data.LABELS_MAGIC, [4], [1, 2, 3, 4])
    with pytest.raises(DatasetError, match="wrong magic number 2049") as info:
        load_mnist(folder, split="test", download=False)
    assert "t10k-images-idx3-ubyte" in str(info.value) and "2051" in str(info.value)


def test_image_label_count_mismatch(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    _write_idx(folder / "t10k-images-idx3-ubyte", data.IMAGES_MAGIC, [5, 28, 28], np.zeros(5 * 784))
    _write_idx(folder / "t10k-labels-idx1-ubyte", data.LABELS_MAGIC, [4], [1, 2, 3, 4])
    with pytest.raises(DatasetError, match="5 images but .* 4 labels") as info:
        load_mnist(folder, split="test", download=False)
    assert "t10k-labels-idx1-ubyte" in str(info.value)


def test_wrong_image_size_and_label_range(tmp_path):
    images = tmp_path / "t10k-images-idx3-ubyte"
    _write_idx(images, data.IMAGES_MAGIC, [2, 32, 32], np.zeros(2 * 1024))
    with pytest.raises(DatasetError, match="32x32"):
        data.read_images(images)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    _write_idx(labels, data.LABELS_MAGIC, [3], [1, 12, 3])
    with pytest.raises(DatasetError, match="label 12 is out of range"):
        data.read_labels(labels)


def test_small_valid_raw_files(tmp_path):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte", data.IMAGES_MAGIC, [3, 28, 28], pixels)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", data.LABELS_MAGIC, [3], [9, 0, 5])
    images, labels = load_mnist(tmp_path, split="train", download=False)
    np.testing.assert_array_equal(images[:, 0], pixels)
    assert labels.tolist() == [9, 0, 5]


# ==================================================================================================
# Downloads from a real HTTP server on 127.0.0.1
# ==================================================================================================
class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):       # keep the test output quiet
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def http_mirror():
    """Start a file server on 127.0.0.1 (port 0) serving a folder; returns make(folder) -> base URL."""
    servers = []

    def make(folder):
        handler = functools.partial(_Handler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.requests = []
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/", server

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name not in TEST_FILES)


def test_download_success(mnist_dir, tmp_path, http_mirror):
    url, server = http_mirror(_copy_test_split(mnist_dir, tmp_path / "served"))
    root = tmp_path / "root"
    root.mkdir()
    images, labels = load_mnist(root, split="test", mirrors=[url.rstrip("/")], timeout=TIMEOUT)
    for name in TEST_FILES:
        assert _md5(root / name) == data.MD5["mnist"][name]
    assert _leftovers(root) == []            # no temporary files left behind
    ref_images, ref_labels = load_mnist(mnist_dir, split="test", download=False)
    np.testing.assert_array_equal(images, ref_images)
    np.testing.assert_array_equal(labels, ref_labels)
    assert sorted(server.requests) == sorted("/" + n for n in TEST_FILES)
    load_mnist(root, split="test", mirrors=[url], timeout=TIMEOUT)
    assert len(server.requests) == 2         # the second load found the files on disk


def test_module_level_mirrors_are_used(mnist_dir, tmp_path, http_mirror, monkeypatch):
    url, server = http_mirror(_copy_test_split(mnist_dir, tmp_path / "served"))
    monkeypatch.setitem(idx.MIRRORS, "mnist", [url])
    (tmp_path / "root").mkdir()
    images, _ = load_mnist(tmp_path / "root", split="test", timeout=TIMEOUT)
    assert images.shape == (10000, 1, 28, 28) and len(server.requests) == 2


def test_checksum_mismatch_then_good_mirror(mnist_dir, tmp_path, http_mirror):
    bad = _copy_test_split(mnist_dir, tmp_path / "bad")
    for name in TEST_FILES:
        blob = bytearray((bad / name).read_bytes())
        blob[100] ^= 0x01
        (bad / name).write_bytes(bytes(blob))
    bad_url, bad_server = http_mirror(bad)
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(DatasetError) as info:
        load_mnist(root, split="test", mirrors=[bad_url], timeout=TIMEOUT)
    message = str(info.value)
    assert "MD5 mismatch" in message and bad_url in message
    assert all(name in message for name in TEST_FILES)
    assert list(root.iterdir()) == []        # nothing under the canonical names, no temporary files

    good_url, good_server = http_mirror(_copy_test_split(mnist_dir, tmp_path / "good"))
    images, labels = load_mnist(root, split="test", mirrors=[bad_url, good_url], timeout=TIMEOUT)
    assert len(images) == len(labels) == 10000
    # the bad mirror: the images in the first call (the labels are not tried once the images failed
    # everywhere), then the images and the labels in the second
    assert len(bad_server.requests) == 3 and len(good_server.requests) == 2
    assert sorted(p.name for p in root.iterdir()) == sorted(TEST_FILES)
    for name in TEST_FILES:
        assert _md5(root / name) == data.MD5["mnist"][name]


def test_missing_file_on_mirror_then_good_mirror(mnist_dir, tmp_path, http_mirror):
    empty = tmp_path / "empty"
    empty.mkdir()
    url404, _ = http_mirror(empty)
    good_url, _ = http_mirror(_copy_test_split(mnist_dir, tmp_path / "good"))
    (tmp_path / "root").mkdir()
    images, _ = load_mnist(tmp_path / "root", split="test", mirrors=[url404, good_url], timeout=TIMEOUT)
    assert images.shape == (10000, 1, 28, 28)


def test_server_down_gives_offline_error(tmp_path, dead_mirror):
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(DatasetError) as info:
        load_mnist(root, split="test", mirrors=[dead_mirror], timeout=TIMEOUT)
    message = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert all(name in message for name in TEST_FILES)                 # which files are missing
    assert str(root) in message                                        # where they were looked for
    assert dead_mirror + TEST_FILES[0] in message and "refused" in message.lower()   # mirrors and errors
    assert "--data-dir" in message and "TINYGAN_DATA" in message       # how to supply them
    assert all(name in message for name in ALL_FILES)
    assert _leftovers(root) == []


def test_after_a_file_failed_from_every_mirror_the_next_is_not_tried(tmp_path, dead_mirror, capsys):
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(DatasetError) as info:
        load_mnist(root, split="test", mirrors=[dead_mirror, dead_mirror], timeout=TIMEOUT)
    assert info.value.missing == TEST_FILES                            # both files are missing...
    err = capsys.readouterr().err
    assert err.count("tinygan: downloading") == 2 and TEST_FILES[1] not in err   # ...the labels were not tried
    assert err.count("trying the next mirror") == 1                    # not after the last one


def test_download_false_never_touches_the_network(tmp_path, http_mirror):
    empty = tmp_path / "empty"
    empty.mkdir()
    url, server = http_mirror(empty)
    with pytest.raises(DatasetError, match="download=False"):
        load_mnist(empty, split="test", mirrors=[url], download=False)
    assert server.requests == []


@pytest.mark.parametrize("download", [True, False])
def test_a_missing_root_is_an_error_and_is_never_created(mnist_dir, tmp_path, http_mirror, download):
    url, server = http_mirror(_copy_test_split(mnist_dir, tmp_path / "served"))
    root = tmp_path / "typo" / "mnsit"
    with pytest.raises(DatasetError) as info:
        load_mnist(root, split="test", mirrors=[url], download=download, timeout=TIMEOUT)
    assert str(info.value) == (f"{root} (root) does not exist: create it, or point root at the folder holding "
                               f"the mnist IDX files")
    assert info.value.path == root
    assert not (tmp_path / "typo").exists() and server.requests == []


def test_a_missing_tinygan_data_folder_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGAN_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match=r"nowhere \(\$TINYGAN_DATA\) does not exist"):
        load_mnist(split="test")
    assert not (tmp_path / "nowhere").exists()


def test_a_file_given_as_root_is_not_a_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatasetError, match="is not a folder"):
        load_mnist(tmp_path / "file", split="test", download=False)


def test_the_default_cache_is_created_for_a_download(mnist_dir, tmp_path, http_mirror, monkeypatch):
    url, _ = http_mirror(_copy_test_split(mnist_dir, tmp_path / "served"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    images, _ = load_mnist(split="test", mirrors=[url], timeout=TIMEOUT)
    assert len(images) == 10000
    assert sorted(p.name for p in (tmp_path / "cache" / "tinygan" / "mnist").iterdir()) == sorted(TEST_FILES)


@pytest.mark.parametrize("asked,present", [("train", "test"), ("test", "train")])
def test_missing_split_says_when_the_other_split_is_there(tmp_path, asked, present):
    folder = tmp_path / "data"
    folder.mkdir()
    _write_idx(folder / f"{data.file_names(present)[0]}", data.IMAGES_MAGIC, (1, 28, 28), np.zeros(784))
    _write_idx(folder / f"{data.file_names(present)[1]}", data.LABELS_MAGIC, (1,), [3])
    with pytest.raises(DatasetError) as info:
        load_mnist(folder, split=asked, download=False)
    assert info.value.other_split == present
    assert f"The {present} split is there: load_mnist(split='{present}')" in str(info.value)
    (folder / f"{data.file_names(present)[1]}").unlink()            # half of it is not the split
    with pytest.raises(DatasetError) as info:
        load_mnist(folder, split=asked, download=False)
    assert info.value.other_split is None and "split is there" not in str(info.value)


# ==================================================================================================
# Where load_mnist looks: root, then $TINYGAN_DATA, then the cache
# ==================================================================================================
def test_tinygan_data_env(mnist_dir, tmp_path, monkeypatch):
    folder = _copy_test_split(mnist_dir, tmp_path / "env")
    monkeypatch.setenv("TINYGAN_DATA", str(folder))
    assert data.data_dir() == folder
    images, _ = load_mnist(split="test", download=False)
    assert images.shape == (10000, 1, 28, 28)


def test_root_wins_over_env(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGAN_DATA", str(_copy_test_split(mnist_dir, tmp_path / "env")))
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(DatasetError) as info:
        load_mnist(root, split="test", download=False)
    assert str(root) in str(info.value) and str(tmp_path / "env") not in str(info.value)


def test_cache_folder_honours_xdg(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data.default_data_dir("fashion-mnist") == tmp_path / "cache" / "tinygan" / "fashion-mnist"
    with pytest.raises(DatasetError, match="download=False") as info:
        load_mnist(split="test", download=False)
    assert str(tmp_path / "cache" / "tinygan" / "mnist") in str(info.value)
    _copy_test_split(mnist_dir, tmp_path / "cache" / "tinygan" / "mnist")
    images, _ = load_mnist(split="test", download=False)
    assert len(images) == 10000


# ==================================================================================================
# The batch iterator
# ==================================================================================================
def _toy(n=10):
    """n tiny uint8 'images' whose first pixel is the sample index, and labels equal to the index."""
    images = np.zeros((n, 1, 28, 28), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(n)
    images[:, 0, 27, 27] = 255
    return images, np.arange(n)


def test_batches_scaling_shapes_dtype(mnist_dir, device):
    images, labels = load_mnist(mnist_dir, split="test", download=False)
    loader = MNISTBatches(images, labels, batch_size=256, device=device)
    assert len(loader) == 10000 // 256
    x, y = next(iter(loader))
    assert isinstance(x, tinygan.Tensor) and x.device == device and y.device == device
    assert x.shape == (256, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (256,) and y.dtype == np.int64
    assert not x.requires_grad
    full = backend.asnumpy(loader.images)
    assert full.dtype == np.float32 and full.min() == -1.0 and full.max() == 1.0
    np.testing.assert_allclose(full, images.astype(np.float64) / 127.5 - 1, rtol=0, atol=1e-6)
    # each batch's images travel with their own labels
    label_of = {img.tobytes(): int(lab) for img, lab in zip(images, labels)}
    pixels = np.rint((backend.asnumpy(x.array) + 1) * 127.5).astype(np.uint8)
    assert [label_of[img.tobytes()] for img in pixels] == backend.asnumpy(y.array).tolist()


def test_batches_flat(device):
    images, labels = _toy(8)
    x, _ = next(iter(MNISTBatches(images, labels, batch_size=4, device=device, flat=True)))
    assert x.shape == (4, 784) and x.dtype == np.float32
    assert float(backend.asnumpy(x.array)[:, -1].min()) == 1.0


def test_every_sample_once_per_epoch(device):
    images, labels = _toy(10)
    loader = MNISTBatches(images, labels, batch_size=3, device=device, drop_last=False)
    assert len(loader) == 4
    orders = []
    for _ in range(2):
        seen_x, seen_y = [], []
        for x, y in loader:
            seen_x.append(np.rint((backend.asnumpy(x.array)[:, 0, 0, 0] + 1) * 127.5).astype(np.int64))
            seen_y.append(backend.asnumpy(y.array))
        assert [len(b) for b in seen_y] == [3, 3, 3, 1]
        order = np.concatenate(seen_y)
        np.testing.assert_array_equal(np.concatenate(seen_x), order)   # images travel with their labels
        assert sorted(order.tolist()) == list(range(10))
        orders.append(order.tolist())
    assert orders[0] != orders[1]            # a new permutation each epoch (10! orders: no accidental tie)


def test_drop_last(device):
    images, labels = _toy(10)
    loader = MNISTBatches(images, labels, batch_size=4, device=device)
    assert len(loader) == 2
    assert [len(y) for _, y in loader] == [4, 4]
    with pytest.raises(ValueError, match="batch_size 11 is larger"):
        MNISTBatches(images, labels, batch_size=11, device=device)
    assert len(MNISTBatches(images, labels, batch_size=11, device=device, drop_last=False)) == 1
    with pytest.raises(ValueError, match="batch_size"):
        MNISTBatches(images, labels, batch_size=0, device=device)
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        MNISTBatches(images, labels[:9], device=device)


def test_no_shuffle_and_no_labels(device):
    images, _ = _toy(6)
    loader = MNISTBatches(images, batch_size=4, device=device, shuffle=False, drop_last=False)
    batches = list(loader)
    assert all(isinstance(b, tinygan.Tensor) for b in batches)
    firsts = np.concatenate([backend.asnumpy(b.array)[:, 0, 0, 0] for b in batches])
    np.testing.assert_allclose(firsts, np.arange(6) / 127.5 - 1, atol=1e-6)


def _epoch_orders(loader, epochs):
    return [np.concatenate([backend.asnumpy(y.array) for _, y in loader]).tolist() for _ in range(epochs)]


def test_same_seed_same_order_and_resume(device):
    images, labels = _toy(20)
    tinygan.manual_seed(123)
    loader = MNISTBatches(images, labels, batch_size=5, device=device)
    straight = _epoch_orders(loader, 3)
    tinygan.manual_seed(123)
    assert _epoch_orders(MNISTBatches(images, labels, batch_size=5, device=device), 3) == straight
    tinygan.manual_seed(7)
    assert _epoch_orders(MNISTBatches(images, labels, batch_size=5, device=device), 1)[0] != straight[0]

    # exactly one permutation per epoch: the generator is where one permutation(20) leaves it
    tinygan.manual_seed(123)
    expected = [backend.asnumpy(backend.permutation(20, device)).tolist() for _ in range(3)]
    assert straight == expected
    if device == "cpu":
        tinygan.manual_seed(123)
        _epoch_orders(MNISTBatches(images, labels, batch_size=5, device=device), 1)
        state = backend.get_rng_state()      # a checkpoint between epochs 1 and 2
        tinygan.manual_seed(999)             # a fresh process...
        backend.set_rng_state(state)         # ...resumes from the checkpoint
        assert _epoch_orders(MNISTBatches(images, labels, batch_size=5, device=device), 2) == straight[1:]


def test_float_images_are_kept(device):
    images = np.linspace(-1, 1, 4 * 784).reshape(4, 1, 28, 28)          # float64 in, float32 out
    loader = MNISTBatches(images, batch_size=4, device=device, shuffle=False)
    x = next(iter(loader))
    assert x.dtype == np.float32
    np.testing.assert_allclose(backend.asnumpy(x.array), images, atol=1e-6)
    assert "samples=4" in repr(loader)


def test_no_mirrors_configured(tmp_path):
    with pytest.raises(DatasetError, match="No download mirror is configured"):
        load_mnist(tmp_path, split="test", mirrors=[])

"""tinygan.vision, torchvision's data lines without torchvision: MNIST and FashionMNIST items, the transforms
(values worked out by hand, and Resize against Pillow's own bilinear resize), make_grid and save_image pixel by
pixel, the whole-dataset fast path (the same items as image by image), and DataLoader over the genuine test
split. torchvision is not installed here, so nothing is compared with it directly.
"""
import functools
import http.server
import io
import pathlib
import shutil
import threading
import warnings

import numpy as np
import pytest

import tinygan
from tinygan.vision import idx
from tinygan.utils.data import DataLoader
from tinygan.vision import datasets, transforms as T, utils as vutils

SHARED_MNIST = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def _standard(size=28):
    return T.Compose([T.Resize(size), T.ToTensor(), T.Normalize([0.5], [0.5])])


@pytest.fixture(autouse=True)
def _no_env(monkeypatch, tmp_path):
    monkeypatch.delenv("TINYGAN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setattr(idx, "MIRRORS", {"mnist": [], "fashion-mnist": []})


@pytest.fixture(scope="module")
def mnist():
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"shared MNIST files not found in {SHARED_MNIST}")
    return datasets.MNIST(SHARED_MNIST, train=False)


def _write_idx(path, magic, dims, payload):
    header = int(magic).to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in dims)
    path.write_bytes(header + np.asarray(payload, dtype=np.uint8).tobytes())


# ==================================================================================================
# Transforms, by hand
# ==================================================================================================
def test_to_tensor_scales_uint8_and_moves_channels_first():
    image = np.array([[0, 51, 255], [102, 204, 1]], dtype=np.uint8)
    x = T.ToTensor()(image)
    assert isinstance(x, tinygan.Tensor) and x.shape == (1, 2, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x.numpy()[0], np.float32([[0, 0.2, 1], [0.4, 0.8, 1 / 255]]))
    rgb = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)                 # (H, W, C)
    y = T.ToTensor()(rgb)
    assert y.shape == (3, 2, 4)
    np.testing.assert_array_equal(y.numpy()[2], rgb[..., 2] / np.float32(255))
    floats = np.full((2, 2), 7.5, dtype=np.float64)                      # other dtypes are not scaled
    z = T.ToTensor()(floats)
    assert z.dtype == np.float64 and z.numpy().max() == 7.5
    with pytest.raises(TypeError, match="Tensor"):
        T.ToTensor()(x)


def test_normalize_per_channel_and_its_gradient():
    x = tinygan.tensor(np.array([[[0.0, 1.0]], [[0.5, 0.25]]], dtype=np.float32), requires_grad=True)   # (2, 1, 2)
    y = T.Normalize(mean=[0.5, 0.25], std=[0.5, 0.25])(x)
    np.testing.assert_allclose(y.detach().numpy(), [[[-1, 1]], [[1, 0]]])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[[2, 2]], [[4, 4]]])     # d/dx (x - m) / s = 1 / s
    batch = tinygan.tensor(np.ones((3, 2, 1, 2), dtype=np.float32))      # (N, C, H, W) broadcasts too
    np.testing.assert_allclose(T.Normalize([0.5, 0.25], [0.5, 0.25])(batch).numpy()[:, 1], 3.0)
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize([0.5], [0.0])(x.detach())
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        T.Normalize([0.5], [0.5])(tinygan.ones(4, 4))
    inplace = tinygan.ones(1, 2, 2)
    assert T.Normalize([1.0], [2.0], inplace=True)(inplace) is inplace and inplace.numpy().max() == 0


def test_resize_bilinear_by_hand():
    # 2 -> 4 pixels, pixel centres: sources 0, 0.25, 0.75, 1 (clamped at both ends)
    image = np.array([[0, 10], [0, 10]], dtype=np.uint8)
    out = T.Resize((2, 4))(image)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[0, 3, 8, 10]] * 2)             # 2.5 and 7.5 rounded up, as PIL does
    x = T.ToTensor()(image)
    y = T.Resize((2, 4))(x)                                              # on a tensor: not rounded
    np.testing.assert_allclose(y.numpy()[0, 0] * 255, [0, 2.5, 7.5, 10], rtol=1e-6)


def test_resize_sizes_follow_torchvision():
    wide = np.zeros((10, 20), dtype=np.uint8)
    assert T.Resize(15)(wide).shape == (15, 30)                          # the smaller edge becomes 15
    assert T.Resize([15])(wide).shape == (15, 30)
    assert T.Resize((12, 7), interpolation=T.InterpolationMode.NEAREST)(wide).shape == (12, 7)
    assert T.Resize(15, max_size=24)(wide).shape == (12, 24)
    assert T.Resize(28)(np.zeros((28, 28), np.uint8)).shape == (28, 28)
    with pytest.raises(ValueError, match="max_size"):
        T.Resize((5, 5), max_size=9)(wide)
    with pytest.warns(UserWarning, match="without antialiasing"):
        T.Resize(5)(wide)


def test_resize_upscaling_equals_pillow_on_mnist(mnist):
    Image = pytest.importorskip("PIL.Image")
    images = mnist.data.numpy()[:200]
    for size in (32, 64):
        ours = np.stack([T.Resize(size)(im) for im in images])
        pil = np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR)) for im in images])
        # exact: 28 -> 32 and 28 -> 64 have weights in multiples of 1/32, exact in PIL's fixed point and in
        # float32, so both round the same sums (other sizes can differ by one grey level)
        np.testing.assert_array_equal(ours, pil)


def test_resize_on_a_tensor_is_differentiable():
    x = tinygan.tensor(np.random.rand(1, 4, 4).astype(np.float64), requires_grad=True)
    y = T.Resize(8)(x)
    assert y.shape == (1, 8, 8)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4.0)                      # each pixel's weights sum to 2 x 2


def test_center_crop_rounding_and_padding():
    image = np.arange(25, dtype=np.uint8).reshape(5, 5)
    np.testing.assert_array_equal(T.CenterCrop(3)(image), image[1:4, 1:4])
    np.testing.assert_array_equal(T.CenterCrop(4)(image), image[0:4, 0:4])    # round(0.5) = 0, Python's round
    np.testing.assert_array_equal(T.CenterCrop((1, 3))(image), image[2:3, 1:4])
    padded = T.CenterCrop(4)(np.full((2, 2), 9, dtype=np.uint8))
    np.testing.assert_array_equal(padded, np.pad(np.full((2, 2), 9), 1))
    x = T.ToTensor()(image)
    np.testing.assert_array_equal(T.CenterCrop(3)(x).numpy()[0], image[1:4, 1:4] / np.float32(255))
    np.testing.assert_array_equal(T.CenterCrop(4)(x[:, :2, :2]).numpy()[0], np.pad(image[:2, :2] / np.float32(255), 1))


def test_compose_and_repr():
    transform = T.Compose([T.Resize(32), T.ToTensor(), T.Normalize([0.5], [0.5])])
    assert repr(transform).splitlines() == [
        "Compose(", "    Resize(size=32, interpolation=bilinear, max_size=None, antialias=True)", "    ToTensor()",
        "    Normalize(mean=[0.5], std=[0.5])", ")"]
    x = transform(np.full((28, 28), 255, dtype=np.uint8))
    assert x.shape == (1, 32, 32) and np.all(x.numpy() == 1.0)
    assert T.vectorisable(transform) and T.vectorisable(None)
    assert not T.vectorisable(T.Compose([T.Lambda(lambda v: v), T.ToTensor()]))
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)


def test_batched_transforms_equal_image_by_image(mnist):
    images = mnist.data.numpy()[:300]
    for transform in (_standard(28), _standard(32), T.Compose([T.CenterCrop(20), T.Resize(64), T.ToTensor()])):
        batched = T.apply_batched(transform, images).numpy()
        one_by_one = np.stack([transform(im).numpy() for im in images])
        # exact: on uint8 images, 28 -> 32 and 20 -> 64 have bilinear weights in multiples of 1/32, so every
        # product and sum of pixel values is exact in float32, whatever kernel the matrix product runs
        np.testing.assert_array_equal(batched, one_by_one)
    transform = T.Compose([T.ToTensor(), T.Resize(40), T.Normalize([0.1], [0.3]), T.CenterCrop(33)])
    batched = T.apply_batched(transform, images).numpy()
    one_by_one = np.stack([transform(im).numpy() for im in images])
    # not exact: 28 -> 40 on floats in [0, 1] rounds, and OpenBLAS picks its GEMM kernel by CPU and by the
    # matrices' shapes, so a batch of 300 and one image may round differently (by 4.8e-7 with Haswell's
    # kernels). Allowed: four float32 roundings of values up to 1 (two per pass), scaled by Normalize's 1 / 0.3
    np.testing.assert_allclose(batched, one_by_one, rtol=0, atol=4 * np.finfo(np.float32).eps / 0.3)


# ==================================================================================================
# Datasets
# ==================================================================================================
def test_mnist_items_as_torchvision_gives_them(mnist):
    assert len(mnist) == 10000 and mnist.data.shape == (10000, 28, 28) and mnist.targets.dtype == np.int64
    image, label = mnist[0]
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.shape == (28, 28)
    assert type(label) is int and label == 7                             # the first test digit is a 7
    assert np.bincount(mnist.targets.numpy()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert mnist.classes[7] == "7 - seven" and mnist.class_to_idx["7 - seven"] == 7
    dataset = datasets.MNIST(mnist.root, train=False, transform=_standard(), target_transform=lambda y: y + 10)
    x, y = dataset[-1]
    assert x.shape == (1, 28, 28) and x.dtype == np.float32 and y == int(mnist.targets.numpy()[-1]) + 10
    np.testing.assert_array_equal(x.numpy()[0], (mnist.data.numpy()[-1] / np.float32(255) - np.float32(0.5))
                                  / np.float32(0.5))
    with pytest.raises(IndexError):
        dataset[10000]
    assert "Number of datapoints: 10000" in repr(dataset) and "Split: Test" in repr(dataset)


def test_the_fast_path_serves_the_same_items_and_follows_changes(mnist):
    dataset = datasets.MNIST(mnist.root, train=False, transform=_standard(32))
    fast = dataset[5][0]
    assert dataset._cache[1] is not None                                 # every image transformed at once
    expected = _standard(32)(mnist.data.numpy()[5]).numpy()
    np.testing.assert_array_equal(fast.numpy(), expected)               # exact: as in the batched test above
    fast.fill_(3.0)                                                      # an item is a copy
    np.testing.assert_array_equal(dataset[5][0].numpy(), expected)
    dataset.transform.transforms[0].size = 30                            # a changed setting is seen
    assert dataset[5][0].shape == (1, 30, 30)
    dataset.transform = T.ToTensor()                                     # so is a new transform
    assert dataset[5][0].shape == (1, 28, 28)
    dataset.data = dataset.data[:10]                                     # and new data
    assert len(dataset) == 10 and dataset[9][0].shape == (1, 28, 28)
    slow = datasets.MNIST(mnist.root, train=False, transform=T.Compose([T.Lambda(lambda v: v), T.ToTensor()]))
    np.testing.assert_array_equal(slow[5][0].numpy(), T.ToTensor()(mnist.data.numpy()[5]).numpy())
    assert slow._cache[1] is None                                        # a user function runs item by item


def test_dataloader_over_mnist(mnist):
    dataset = datasets.MNIST(mnist.root, train=False, transform=_standard())
    loader = DataLoader(dataset, batch_size=64, shuffle=True)
    seen = 0
    for images, labels in loader:
        assert images.dtype == np.float32 and labels.dtype == np.int64 and images.shape[1:] == (1, 28, 28)
        seen += len(images)
    assert seen == 10000 and len(loader) == 157 and float(images.numpy().min()) >= -1.0


def test_train_split_missing_says_train_false(mnist, tmp_path):
    with pytest.raises(idx.DatasetError, match=r"MNIST\(root, train=False\) uses it"):
        datasets.MNIST(mnist.root, train=True)
    with pytest.raises(idx.DatasetError, match="not found"):
        datasets.MNIST(tmp_path, train=False)


def test_torchvision_layout_and_parent_folder(mnist, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(mnist.root / name, raw / name)
    assert len(datasets.MNIST(tmp_path, train=False)) == 10000          # root is the parent of MNIST/raw


def test_download_creates_root_and_fetches_as_load_mnist_does(mnist, tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(mnist.root / name, served / name)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        monkeypatch.setitem(idx.MIRRORS, "mnist", [f"http://127.0.0.1:{server.server_address[1]}/"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset = datasets.MNIST(tmp_path / "new" / "root", train=False, download=True)
    finally:
        server.shutdown()
        server.server_close()
    assert len(dataset) == 10000 and (tmp_path / "new" / "root" / "t10k-images-idx3-ubyte.gz").exists()
    np.testing.assert_array_equal(dataset.data.numpy(), mnist.data.numpy())


def test_fashion_mnist_reads_its_own_files(tmp_path):
    pixels = np.random.RandomState(0).randint(0, 256, (3, 28, 28))
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", idx.IMAGES_MAGIC, [3, 28, 28], pixels)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", idx.LABELS_MAGIC, [3], [9, 0, 5])
    dataset = datasets.FashionMNIST(tmp_path, train=False, transform=T.ToTensor())
    x, y = dataset[0]
    assert y == 9 and dataset.classes[y] == "Ankle boot"
    np.testing.assert_array_equal(x.numpy()[0], pixels[0].astype(np.uint8) / np.float32(255))


# ==================================================================================================
# make_grid and save_image
# ==================================================================================================
def test_make_grid_layout_by_hand():
    images = tinygan.tensor(np.arange(1, 4, dtype=np.float32).reshape(3, 1, 1, 1) * np.ones((3, 1, 2, 2), np.float32))
    grid = vutils.make_grid(images, nrow=2, padding=1, pad_value=0.5).numpy()
    assert grid.shape == (3, 7, 7)                                       # one channel made three
    expected = np.full((7, 7), 0.5, dtype=np.float32)
    expected[1:3, 1:3], expected[1:3, 4:6], expected[4:6, 1:3] = 1, 2, 3
    for c in range(3):
        np.testing.assert_array_equal(grid[c], expected)
    assert vutils.make_grid(images[:1], padding=5).shape == (3, 2, 2)   # one image: no padding
    assert vutils.make_grid(images[0, 0]).shape == (3, 2, 2)             # (H, W)
    assert vutils.make_grid(list(images), nrow=3, padding=0).shape == (3, 2, 6)


def test_make_grid_normalize():
    x = tinygan.tensor(np.array([[[[-1.0, 1.0]]], [[[0.0, 3.0]]]], dtype=np.float32))   # (2, 1, 1, 2)
    whole = vutils.make_grid(x, nrow=2, padding=0, normalize=True).numpy()[0]
    np.testing.assert_allclose(whole, [[0, 0.5, 0.25, 1]])              # (x - min) / (max - min) over the batch
    each = vutils.make_grid(x, nrow=2, padding=0, normalize=True, scale_each=True).numpy()[0]
    np.testing.assert_allclose(each, [[0, 1, 0, 1]])
    ranged = vutils.make_grid(x, nrow=2, padding=0, normalize=True, value_range=(0.0, 2.0)).numpy()[0]
    np.testing.assert_allclose(ranged, [[0, 0.5, 0, 1]])                # clamped to the range first
    np.testing.assert_array_equal(x.numpy()[0, 0, 0], [-1, 1])          # the input is not changed
    with pytest.raises(TypeError, match="value_range"):
        vutils.make_grid(x, normalize=True, value_range=[0, 1])


def test_save_image_writes_torchvisions_pixels(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    values = np.array([0.0, 0.5, 1.0, 0.2, -3.0, 0.998], dtype=np.float32).reshape(1, 1, 2, 3)
    path = tmp_path / "x.png"
    vutils.save_image(tinygan.tensor(values), path)
    with Image.open(path) as png:
        assert png.mode == "RGB" and png.size == (3, 2)
        pixels = np.asarray(png)
    np.testing.assert_array_equal(pixels[..., 0], [[0, 128, 255], [51, 0, 254]])   # floor(255 x + 0.5), clamped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]     # written atomically: no temporary left
    buffer = io.BytesIO()
    vutils.save_image(tinygan.tensor(values), buffer, format="png")
    assert buffer.getvalue() == path.read_bytes()
    grid = tinygan.tensor(np.random.rand(5, 1, 4, 4).astype(np.float32), requires_grad=True)
    vutils.save_image(grid * 2, tmp_path / "g.png", nrow=2, normalize=True)   # a tensor in a graph is fine
    with Image.open(tmp_path / "g.png") as png:
        assert png.size == (2 * 6 + 2, 3 * 6 + 2)


"""RandomHorizontalFlip, RandomVerticalFlip and RandomCrop (tinygan.vision.transforms): what they do to image
arrays, PIL images and tensors, that tinygan.manual_seed makes them repeat, and their errors."""
import numpy as np
import pytest

import tinygan
from tinygan import backend
from tinygan.vision import transforms as T

try:
    from PIL import Image
except ImportError:
    Image = None


def image(h=4, w=5, channels=None):
    shape = (h, w) if channels is None else (h, w, channels)
    return np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)


@pytest.mark.parametrize("channels", [None, 3])
def test_flips_with_p_1_and_p_0(channels):
    img = image(channels=channels)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1)(img), img[:, ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1)(img), img[::-1])
    assert T.RandomHorizontalFlip(p=0)(img) is img and T.RandomVerticalFlip(p=0)(img) is img


def test_flips_on_tensors_are_differentiable():
    x = tinygan.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    y = T.RandomHorizontalFlip(1.0)(x)
    np.testing.assert_array_equal(backend.asnumpy(y.array), np.arange(24.0).reshape(2, 3, 4)[..., ::-1])
    (y * tinygan.tensor(np.arange(24.0).reshape(2, 3, 4))).sum().backward()
    np.testing.assert_array_equal(backend.asnumpy(x.grad.array), np.arange(24.0).reshape(2, 3, 4)[..., ::-1])
    np.testing.assert_array_equal(backend.asnumpy(T.RandomVerticalFlip(1.0)(x).array),
                                  np.arange(24.0).reshape(2, 3, 4)[:, ::-1])


@pytest.mark.skipif(Image is None, reason="PIL is not installed")
def test_flip_and_crop_read_a_pil_image_as_its_array():
    img = image(channels=3)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1)(Image.fromarray(img)), img[:, ::-1])
    assert T.RandomCrop(2)(Image.fromarray(img)).shape == (2, 2, 3)


def test_flip_probability_and_seeding():
    img = image()
    flip = T.RandomHorizontalFlip()
    tinygan.manual_seed(0)
    first = [flip(img) is not img for _ in range(200)]
    tinygan.manual_seed(0)
    again = [flip(img) is not img for _ in range(200)]
    assert first == again and 70 < sum(first) < 130          # about half, and the same after the same seed


def test_random_crop_covers_every_position_and_repeats_with_the_seed():
    img = image(4, 5)
    crop = T.RandomCrop((2, 3))
    tinygan.manual_seed(1)
    crops = [crop(img) for _ in range(200)]
    corners = {(int(c[0, 0]) // 5, int(c[0, 0]) % 5) for c in crops}
    assert corners == {(i, j) for i in range(3) for j in range(3)}
    for c in crops:
        i, j = int(c[0, 0]) // 5, int(c[0, 0]) % 5
        np.testing.assert_array_equal(c, img[i:i + 2, j:j + 3])
    tinygan.manual_seed(1)
    assert all(np.array_equal(a, crop(img)) for a in crops)


def test_random_crop_padding_forms_and_pad_if_needed():
    img = image(2, 2) + 1
    padded = T.RandomCrop(4, padding=1, fill=0)(img)            # padding 1 on every side: only one 4x4 crop
    np.testing.assert_array_equal(padded, np.pad(img, 1))
    x = tinygan.tensor(img.astype(np.float32)[None])
    out = T.RandomCrop((2, 6), padding=(2, 0))(x)                 # left/right 2, top/bottom 0
    np.testing.assert_array_equal(backend.asnumpy(out.array), np.pad(img, ((0, 0), (2, 2)))[None])
    out = T.RandomCrop((2, 3), padding=(1, 0, 0, 0))(img)        # (left, top, right, bottom)
    np.testing.assert_array_equal(out, np.pad(img, ((0, 0), (1, 0))))
    tinygan.manual_seed(3)
    needed = T.RandomCrop(4, pad_if_needed=True, fill=9)(image(3, 3))
    assert needed.shape == (4, 4) and (needed == 9).sum() == 16 - 9


def test_random_crop_errors():
    with pytest.raises(ValueError, match=r"RandomCrop: required crop size \(5, 5\) is larger than the input image "
                                         r"size \(4, 5\)"):
        T.RandomCrop(5)(image())
    with pytest.raises(NotImplementedError, match="RandomCrop: only padding_mode='constant'"):
        T.RandomCrop(2, padding_mode="reflect")
    with pytest.raises(TypeError, match="RandomHorizontalFlip: expected an image"):
        T.RandomHorizontalFlip(1)([1, 2])
    assert repr(T.RandomCrop(3, padding=2)) == "RandomCrop(size=(3, 3), padding=2)"
    assert repr(T.RandomHorizontalFlip()) == "RandomHorizontalFlip(p=0.5)"


def test_random_transforms_run_image_by_image_in_a_pipeline():
    pipeline = T.Compose([T.RandomHorizontalFlip(), T.ToTensor()])
    assert not T.vectorisable(pipeline)
    tinygan.manual_seed(0)
    out = [pipeline(image()) for _ in range(20)]
    assert all(o.shape == (1, 4, 5) for o in out)
    assert len({backend.asnumpy(o.array).tobytes() for o in out}) == 2   # both flipped and not

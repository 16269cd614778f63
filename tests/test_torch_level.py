"""torch-level functions: torch.load's map_location / weights_only, torch.normal's forms."""
import numpy as np
import pytest

import tinygan

try:
    import torch
except ImportError:
    torch = None


def test_load_accepts_map_location_and_weights_only(tmp_path):
    path = tmp_path / "ckpt.pt"
    state = {"w": tinygan.randn(3, 2), "nested": [tinygan.ones(2)], "step": 5}
    tinygan.save(state, path)
    for kwargs in [dict(), dict(weights_only=True), dict(weights_only=False), dict(map_location="cpu"),
                   dict(map_location=tinygan.device("cpu"), weights_only=True), dict(map_location={"cuda:0": "cpu"}),
                   dict(map_location=lambda storage, loc: storage)]:
        loaded = tinygan.load(path, **kwargs)
        np.testing.assert_array_equal(loaded["w"], state["w"].numpy())     # read back as NumPy arrays
        assert isinstance(loaded["w"], np.ndarray) and loaded["step"] == 5
        np.testing.assert_array_equal(loaded["nested"][0], np.ones(2))


def test_load_map_location_gpu_on_the_standin(tmp_path, standin):
    path = tmp_path / "ckpt.pt"
    tinygan.save({"w": tinygan.ones(2)}, path)
    for where in ("cuda", "gpu", tinygan.device("cuda:0"), {"cpu": "cuda"}):
        assert tinygan.backend.device_of(tinygan.load(path, map_location=where)["w"]) == "gpu"


def test_normal_forms():
    tinygan.manual_seed(0)
    mean, std = tinygan.zeros(2000, 3), tinygan.full((2000, 3), 2.0)
    for x, s in [(tinygan.normal(mean), 1.0), (tinygan.normal(0.0, std), 2.0), (tinygan.normal(mean, std), 2.0),
                 (tinygan.normal(3.0, 2.0, (2000, 3)), 2.0), (tinygan.normal(mean, std=0.5), 0.5)]:
        assert x.shape == (2000, 3) and x.dtype == np.float32
        assert abs(float(x.numpy().std()) - s) < 0.1 * s
    assert abs(float(tinygan.normal(3.0, 2.0, (4000,)).numpy().mean()) - 3.0) < 0.2
    with pytest.raises(TypeError, match="normal"):
        tinygan.normal(0.0, 1.0)


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_normal_shapes_match_torch():
    for args in [(torch.zeros(4, 3),), (0.0, torch.ones(5)), (torch.zeros(2, 1), torch.ones(1, 3)), (0.0, 1.0, (2, 3))]:
        ours = tinygan.normal(*[tinygan.tensor(a.numpy()) if isinstance(a, torch.Tensor) else a for a in args])
        assert tuple(ours.shape) == tuple(torch.normal(*args).shape)


# ---- torch.Tensor(sizes) ------------------------------------------------------------------------------------
@pytest.mark.parametrize("sizes", [(64, 1), (3,), (2, 3, 4), ((2, 3),)])
def test_tensor_of_sizes_is_float32_zeros_of_that_shape(sizes):
    x = tinygan.Tensor(*sizes)
    shape = sizes[0] if isinstance(sizes[0], tuple) and len(sizes) == 1 else sizes
    if isinstance(sizes[0], tuple):                       # Tensor((2, 3)) is data, as torch.Tensor((2, 3))
        np.testing.assert_array_equal(x.array, [2, 3])
        return
    assert x.shape == shape and x.dtype == np.float32 and not x.requires_grad
    np.testing.assert_array_equal(x.array, np.zeros(shape))
    if torch is not None:
        assert tuple(torch.Tensor(*sizes).shape) == x.shape and torch.Tensor(*sizes).dtype == torch.float32


def test_tensor_data_forms_are_unchanged():
    assert tinygan.Tensor().shape == (0,) and tinygan.Tensor().dtype == np.float32
    assert tinygan.Tensor(2.5).item() == 2.5 and tinygan.Tensor([1.0, 2.0]).shape == (2,)
    x = tinygan.Tensor(np.ones((2, 2)), requires_grad=True)
    assert x.requires_grad and x.dtype == np.float64
    assert tinygan.Tensor(64, 1, requires_grad=True).requires_grad


# ---- torch.set_num_threads ----------------------------------------------------------------------------------
def test_set_num_threads_sets_blas_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = tinygan.get_num_threads()
    try:
        for n in (1, 2):
            tinygan.set_num_threads(n)
            assert tinygan.get_num_threads() == n
            blas = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
            assert blas and all(count == n for count in blas)
    finally:
        tinygan.set_num_threads(before)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="set_num_threads expects a positive integer"):
            tinygan.set_num_threads(bad)


def test_nn_functional_is_an_attribute_after_importing_nn_alone():
    import subprocess
    import sys
    code = "import tinygan.nn as nn; import tinygan; assert nn.functional is tinygan.functional; nn.functional.relu"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_size_is_a_tuple_that_constructors_read_as_sizes():
    x = tinygan.ones(2, 3)
    size = x.size()
    assert isinstance(size, tinygan.Size) and size == (2, 3) and x.size(1) == 3
    for made in (tinygan.FloatTensor(size), tinygan.Tensor(size), tinygan.LongTensor(x.size())):
        assert made.shape == (2, 3) and not made.array.any()
    assert tinygan.FloatTensor((2, 3)).shape == (2,)              # a plain tuple is data, as in PyTorch
    if torch is not None:
        t = torch.ones(2, 3)
        assert tuple(torch.FloatTensor(t.size()).shape) == (2, 3) and tuple(torch.FloatTensor((2, 3)).shape) == (2,)

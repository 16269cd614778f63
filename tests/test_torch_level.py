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

"""tinygan.save / tinygan.load: round trips, atomic writes, clear errors on bad files, never unpickling."""
import json
import os
import pathlib
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygan
from tinygan.serialization import CheckpointError, CheckpointNotFoundError


def assert_same(a, b, where="root"):
    """Deep equality that also checks types and dtypes (and NaN == NaN)."""
    assert type(a) is type(b) or (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)), (where, type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}/{i}")
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


def test_round_trip_of_a_nested_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    obj = {
        "G": {"0.weight": rng.standard_normal((3, 4)).astype(np.float32), "0.bias": np.zeros(3, np.float32)},
        "steps": np.arange(5, dtype=np.int64),
        "mask": np.array([True, False]),
        "scalar_array": np.array(2.5),
        "empty": np.zeros((0, 3), np.float32),
        "non_contiguous": np.arange(12.0).reshape(3, 4).T,
        "numpy_scalar": np.float32(1.5),
        "epoch": 7, "big": 2 ** 70, "lr": 2e-4, "nan": float("nan"), "inf": float("-inf"),
        "name": "dcgan ✓", "nothing": None, "flag": True,
        "betas": (0.5, 0.999),
        "history": [1.0, [2, "x", None], {"a": np.ones(2, np.float64)}],
        "opt": {"state": {0: {"step": 3, "exp_avg": np.ones(2, np.float32)}}, "param_groups": [{"params": [0]}]},
        "a/b": np.ones(1), "a": {"b": np.zeros(1)},        # two paths spelled "a/b"
        "manifest": np.ones(2),                          # a key named like the manifest entry
        "file": np.ones(1), "allow_pickle": np.ones(1),  # np.savez's own keyword names
    }
    tinygan.save(obj, tmp_path / "ckpt.npz")
    assert_same(obj, tinygan.load(tmp_path / "ckpt.npz"))
    assert_same(obj, tinygan.load(str(tmp_path / "ckpt.npz")))


def test_tensors_are_saved_as_arrays_and_top_level_values_work(tmp_path):
    t = tinygan.randn(2, 3)
    tinygan.save({"w": t}, tmp_path / "t.npz")
    loaded = tinygan.load(tmp_path / "t.npz")["w"]
    assert isinstance(loaded, np.ndarray)
    np.testing.assert_array_equal(loaded, t.numpy())
    for value in (np.arange(3), [1, 2], "text", None, 3.5):
        tinygan.save(value, tmp_path / "v.npz")
        assert_same(value, tinygan.load(tmp_path / "v.npz"))


def test_the_file_is_a_plain_npz_with_a_json_manifest(tmp_path):
    tinygan.save({"G": {"0.weight": np.ones((2, 2), np.float32)}, "epoch": 3}, tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["G/0.weight", "manifest"]
        manifest = json.loads(str(npz["manifest"]))
        np.testing.assert_array_equal(npz["G/0.weight"], np.ones((2, 2)))
    assert manifest["format"] == "tinygan-checkpoint"
    assert manifest["root"]["items"][1] == ["epoch", {"type": "int", "value": 3}]


def test_model_and_optimizer_checkpoint(tmp_path):
    model = tinygan.nn.Linear(3, 2)
    opt = tinygan.optim.Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.999))
    model(tinygan.randn(4, 3)).sum().backward()
    opt.step()
    tinygan.save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "m.npz")
    ckpt = tinygan.load(tmp_path / "m.npz")
    assert_same(ckpt["model"], {k: v for k, v in model.state_dict().items()})
    assert ckpt["opt"]["param_groups"][0]["betas"] == (0.5, 0.999)
    assert ckpt["opt"]["state"][1]["step"] == 1


leaves = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5)
          | hnp.arrays(st.sampled_from([np.float32, np.float64, np.int64, np.bool_, np.uint8]),
                       hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)))
structures = st.recursive(leaves, lambda children: st.lists(children, max_size=3)
                          | st.dictionaries(st.text(max_size=4) | st.integers(0, 9), children, max_size=3),
                          max_leaves=8)


@given(obj=structures)
def test_round_trip_of_drawn_structures(tmp_path_factory, obj):
    path = tmp_path_factory.mktemp("drawn") / "c.npz"
    tinygan.save(obj, path)
    assert_same(obj, tinygan.load(path))


# ==================================================================================================
# Atomic writes
# ==================================================================================================
class Crash(Exception):
    pass


def test_crash_while_writing_arrays_keeps_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    tinygan.save({"version": 1, "w": np.ones(3)}, path)
    calls = []

    def write_array_then_crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:                              # the manifest went out, then the first array fails
            raise Crash("disk on fire")
        return real_write_array(*args, **kwargs)

    real_write_array = np.lib.format.write_array
    monkeypatch.setattr(np.lib.format, "write_array", write_array_then_crash)
    with pytest.raises(Crash):
        tinygan.save({"version": 2, "w": np.zeros(3), "v": np.zeros(2)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert tinygan.load(path)["version"] == 1


def test_crash_at_replace_keeps_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    tinygan.save({"version": 1}, path)

    def replace_crash(src, dst):
        assert os.path.dirname(src) == str(tmp_path)     # the temp file sits beside the target
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", replace_crash)
    with pytest.raises(KeyboardInterrupt):
        tinygan.save({"version": 2}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert tinygan.load(path) == {"version": 1}
    tinygan.save({"version": 3}, path)                   # and a later save replaces it
    assert tinygan.load(path) == {"version": 3}


def test_unsupported_objects_name_the_key_and_type_and_write_nothing(tmp_path):
    path = tmp_path / "c.npz"
    with pytest.raises(CheckpointError, match=r"object of type object at key 'G/layers/1'"):
        tinygan.save({"G": {"layers": [np.ones(2), object()]}}, path)
    with pytest.raises(CheckpointError, match=r"key 'opt/x'.*dtype object"):
        tinygan.save({"opt": {"x": np.array([1, None], dtype=object)}}, path)
    with pytest.raises(CheckpointError, match=r"key \(1, 2\) of type tuple"):
        tinygan.save({(1, 2): 3}, path)
    with pytest.raises(CheckpointError, match="set at the top level"):
        tinygan.save({1, 2}, path)
    with pytest.raises(CheckpointError, match="type Foo at key 'x'"):
        tinygan.save({"x": type("Foo", (), {"__array__": lambda self: np.ones(2), "shape": (2,), "dtype": "f"})()},
                     path)
    assert os.listdir(tmp_path) == []


def test_save_into_a_missing_folder(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="folder .*nowhere.* does not exist"):
        tinygan.save({"a": 1}, tmp_path / "nowhere" / "c.npz")


# ==================================================================================================
# Bad files
# ==================================================================================================
def test_missing_file(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(CheckpointNotFoundError, match="nope.npz.*does not exist") as info:
        tinygan.load(path)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)
    with pytest.raises(CheckpointError, match="is a folder"):
        tinygan.load(tmp_path)


UNSAFE_ADVICE = ("allow_pickle", "pickle.load", "trust", "unsafe")


def assert_one_clear_line(message, name, problem):
    """One line naming the file and the problem, never NumPy's advice to load the file unsafely."""
    assert "\n" not in message, message
    assert name in message and problem in message, message
    assert not any(word in message for word in UNSAFE_ADVICE), message


@pytest.mark.parametrize("keep", [0.5, 0.95, 10, 3])
def test_truncated_file(tmp_path, keep):
    path = tmp_path / "ckpt.npz"
    tinygan.save({"w": np.ones((50, 50), np.float32), "b": np.ones(50)}, path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)] if keep < 1 else data[:keep])
    with pytest.raises(CheckpointError) as info:
        tinygan.load(path)
    assert_one_clear_line(str(info.value), "ckpt.npz", "is truncated or corrupt")
    assert info.value.path == str(path) and info.value.problem.startswith("is truncated or corrupt")


def test_a_damaged_entry_is_corrupt(tmp_path):
    path = tmp_path / "ckpt.npz"
    tinygan.save({"w": np.arange(4000, dtype=np.float32)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF                       # inside w's values: the zip's CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as info:
        tinygan.load(path)
    assert_one_clear_line(str(info.value), "ckpt.npz", "is truncated or corrupt: its entry 'w'")


def test_random_bytes_are_not_a_checkpoint_and_no_unpickling_is_suggested(tmp_path):
    # np.load takes any file that is neither a zip nor a .npy for a pickle, and its error says "If you trust
    # the file you can load it unsafely using the allow_pickle= keyword"
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(CheckpointError) as info:
        tinygan.load(path)
    assert_one_clear_line(str(info.value), "random.npz", "is not a tinygan checkpoint: it is not an .npz (zip) archive")


def test_an_npz_of_python_objects_is_not_a_checkpoint(tmp_path):
    plain = tmp_path / "objects.npz"
    np.savez(plain, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError) as info:
        tinygan.load(plain)
    assert_one_clear_line(str(info.value), "objects.npz", "is not a tinygan checkpoint: an .npz archive without a 'manifest'")


def test_foreign_files(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, I am not a checkpoint\n")
    with pytest.raises(CheckpointError, match="notes.txt.*is not a tinygan checkpoint: it is not an .npz"):
        tinygan.load(text)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.npz.* is empty"):
        tinygan.load(empty)
    plain = tmp_path / "plain.npz"
    np.savez(plain, weights=np.ones(3))
    with pytest.raises(CheckpointError, match=r"plain.npz.*not a tinygan checkpoint.*without a 'manifest' entry.*\['weights'\]"):
        tinygan.load(plain)
    npy = tmp_path / "a.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(CheckpointError, match="a.npy.*single .npy array"):
        tinygan.load(npy)
    other = tmp_path / "other.npz"
    np.savez(other, manifest=np.array(json.dumps({"format": "something-else", "version": 1, "root": {}})))
    with pytest.raises(CheckpointError, match="other.npz.*bad manifest.*something-else"):
        tinygan.load(other)
    broken = tmp_path / "broken.npz"
    np.savez(broken, manifest=np.array("{not json"))
    with pytest.raises(CheckpointError, match="broken.npz.*bad manifest.*JSONDecodeError"):
        tinygan.load(broken)
    dangling = tmp_path / "dangling.npz"
    root = {"type": "dict", "items": [["w", {"type": "array", "entry": "w"}]]}
    np.savez(dangling, manifest=np.array(json.dumps({"format": "tinygan-checkpoint", "version": 1, "root": root})))
    with pytest.raises(CheckpointError, match="dangling.npz.*bad manifest.*KeyError"):
        tinygan.load(dangling)
    junk = tmp_path / "junk.zip"
    with zipfile.ZipFile(junk, "w") as archive:
        archive.writestr("manifest.npy", b"not an array")
    with pytest.raises(CheckpointError, match="junk.zip.*is truncated or corrupt: its entry 'manifest'"):
        tinygan.load(junk)


UNPICKLED = []


def _record_unpickling():
    UNPICKLED.append(1)
    return "pwned"


class Bomb:
    """Unpickling this runs _record_unpickling: proof that code was executed."""

    def __reduce__(self):
        return (_record_unpickling, ())


def test_load_never_unpickles(tmp_path):
    path = tmp_path / "evil.npz"
    root = {"type": "dict", "items": [["w", {"type": "array", "entry": "w"}]]}
    manifest = json.dumps({"format": "tinygan-checkpoint", "version": 1, "root": root})
    np.savez(path, manifest=np.array(manifest), w=np.array([Bomb()], dtype=object))
    assert zipfile.is_zipfile(path)
    with pytest.raises(CheckpointError) as info:
        tinygan.load(path)
    assert_one_clear_line(str(info.value), "evil.npz", "is not a tinygan checkpoint: its entry 'w' holds Python objects")
    assert UNPICKLED == []
    with np.load(path, allow_pickle=True) as npz:   # the bomb is real: it fires when pickle is allowed
        npz["w"]
    assert UNPICKLED == [1]


def test_gpu_arrays_are_saved_as_numpy(device, tmp_path):
    t = tinygan.randn(3, 2, device=device)
    tinygan.save({"t": t, "raw": t.array}, pathlib.Path(tmp_path) / "g.npz")
    loaded = tinygan.load(tmp_path / "g.npz")
    assert type(loaded["raw"]) is np.ndarray and type(loaded["t"]) is np.ndarray
    np.testing.assert_array_equal(loaded["raw"], t.numpy())


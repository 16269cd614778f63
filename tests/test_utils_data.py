"""tinygan.utils.data: datasets, random_split, default_collate and DataLoader against PyTorch's semantics
(and against torch.utils.data itself where torch is installed); the TensorDataset fast path against the
per-item path."""
import collections
import math
import time
import warnings

import numpy as np
import pytest

import tinygan
from tinygan import backend
from tinygan.utils.data import (ConcatDataset, DataLoader, Dataset, Generator, Subset, TensorDataset,
                                default_collate, random_split)


def toy(n=10, device="cpu"):
    """x row i is [i, i + 0.5] (float32), y is i (int64)."""
    x = tinygan.tensor(np.stack([np.arange(n), np.arange(n) + 0.5], axis=1).astype(np.float32), device=device)
    return TensorDataset(x, tinygan.tensor(np.arange(n), device=device))


def ids(loader):
    """The label batches of one epoch, as lists of ints."""
    return [backend.asnumpy(y.array).tolist() for _, y in loader]


def per_item(batch):          # default_collate behind a lambda: the loader cannot take its fast path
    return default_collate(batch)


class Squares(Dataset):
    """A map-style dataset of dicts, read item by item."""

    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        return {"x": np.full(3, i, np.float32), "i": i, "sq": float(i * i), "name": f"item{i}"}

    def __len__(self):
        return self.n


# ==================================================================================================
# Datasets
# ==================================================================================================
def test_tensor_dataset_items_and_errors():
    ds = toy(5)
    assert len(ds) == 5
    x, y = ds[3]
    assert x.detach().numpy().tolist() == [3.0, 3.5] and y.item() == 3
    with pytest.raises(ValueError, match=r"size mismatch between tensors: first dimensions \[5, 4\]"):
        TensorDataset(tinygan.zeros(5, 2), tinygan.zeros(4))
    with pytest.raises(TypeError, match="argument 1 is a ndarray"):
        TensorDataset(tinygan.zeros(5), np.zeros(5))


def test_subset_concat_and_plus():
    ds = toy(6)
    sub = Subset(ds, [4, 0, 2])
    assert len(sub) == 3 and sub[0][1].item() == 4
    both = ds + sub
    assert isinstance(both, ConcatDataset) and len(both) == 9
    assert [both[i][1].item() for i in (0, 5, 6, 8, -1)] == [0, 5, 4, 2, 2]
    with pytest.raises(ValueError, match="empty iterable"):
        ConcatDataset([])


def test_random_split_lengths_fractions_and_reproducibility():
    ds = toy(10)
    a, b = random_split(ds, [7, 3], generator=Generator().manual_seed(1))
    again = random_split(ds, [7, 3], generator=Generator().manual_seed(1))
    assert a.indices == again[0].indices and b.indices == again[1].indices
    assert sorted(a.indices + b.indices) == list(range(10)) and len(a) == 7
    assert a.indices + b.indices == Generator().manual_seed(1).permutation(10).tolist()
    parts = random_split(ds, [0.33, 0.33, 0.34], generator=Generator().manual_seed(0))
    assert [len(p) for p in parts] == [4, 3, 3]                 # floors 3, 3, 3; the remainder goes to the first
    with pytest.raises(ValueError, match="sum of input lengths 9 does not equal the length of the input dataset"):
        random_split(ds, [5, 4])
    with pytest.warns(UserWarning, match="split at index 1 is 0"):
        random_split(toy(2), [1.0, 0.0])
    tinygan.manual_seed(3)
    first = random_split(ds, [5, 5])[0].indices
    tinygan.manual_seed(3)
    assert random_split(ds, [5, 5])[0].indices == first           # the global seed, without a generator


def test_random_split_lengths_match_torch():
    torch = pytest.importorskip("torch")
    for n, fractions in [(10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]), (101, [0.8, 0.1, 0.1]), (3, [0.25] * 4)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                 # both warn of the empty split of 3 items in 4
            ours = [len(s) for s in random_split(toy(n), fractions)]
            theirs = [len(s) for s in torch.utils.data.random_split(range(n), fractions)]
        assert ours == theirs


# ==================================================================================================
# default_collate
# ==================================================================================================
def test_default_collate_types():
    Point = collections.namedtuple("Point", "x y")
    batch = default_collate([(1, 2.0, True, "a", Point(1, 2.5)), (3, 4.0, False, "b", Point(3, 4.5))])
    assert isinstance(batch, list) and len(batch) == 5                        # a tuple of fields gives a list
    ints, floats, bools, names, point = batch
    assert ints.dtype == np.int64 and floats.dtype == np.float64 and bools.dtype == np.bool_
    assert names == ["a", "b"] and isinstance(point, Point) and point.y.dtype == np.float64
    d = default_collate([{"x": np.ones((2, 2), np.float32), "n": np.int32(1)}, {"x": np.zeros((2, 2), np.float32),
                                                                                "n": np.int32(5)}])
    assert d["x"].shape == (2, 2, 2) and d["x"].dtype == np.float32 and d["n"].dtype == np.int32
    lists = default_collate([[1, 2], [3, 4]])
    assert [t.detach().numpy().tolist() for t in lists] == [[1, 3], [2, 4]]
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(RuntimeError, match=r"item 0 has shape \(2,\), item 1 has shape \(3,\)"):
        default_collate([tinygan.zeros(2), tinygan.zeros(3)])
    with pytest.raises(TypeError, match="found <class 'object'>"):
        default_collate([object(), object()])


def test_default_collate_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate
    items = [Squares(4)[i] for i in range(4)]
    ours, theirs = default_collate(items), torch_collate(items)
    assert list(ours) == list(theirs)
    for key in ("x", "i", "sq"):
        assert ours[key].detach().numpy().dtype == theirs[key].numpy().dtype
        np.testing.assert_array_equal(ours[key].detach().numpy(), theirs[key].numpy())
    assert ours["name"] == theirs["name"]
    pairs = [(np.float64(i), np.arange(3) * i, [i, 0.5]) for i in range(3)]
    for a, b in zip(_flatten(default_collate(pairs)), _flatten(torch_collate(pairs))):
        assert a.detach().numpy().dtype == b.numpy().dtype and a.shape == tuple(b.shape)
        np.testing.assert_array_equal(a.detach().numpy(), b.numpy())


def _flatten(x):
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in _flatten(item)]
    return [x]


# ==================================================================================================
# DataLoader
# ==================================================================================================
def test_batches_in_order_len_and_drop_last():
    ds = toy(10)
    loader = DataLoader(ds, batch_size=4)
    assert len(loader) == 3 and ids(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    x, y = next(iter(loader))
    assert x.shape == (4, 2) and x.dtype == np.float32 and y.dtype == np.int64 and not x.requires_grad
    dropped = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dropped) == 2 and ids(dropped) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(ds, batch_size=11, drop_last=True)) == 0 and ids(DataLoader(ds, batch_size=11,
                                                                                        drop_last=True)) == []
    assert len(DataLoader(ds)) == 10                                           # batch_size=1 by default


def test_batches_are_copies_not_views_of_the_dataset():
    ds = toy(4)
    x, _ = next(iter(DataLoader(ds, batch_size=2)))
    x.array[...] = -1
    assert ds.tensors[0].detach().numpy().min() == 0.0


def test_shuffle_with_a_seeded_generator_is_reproducible():
    ds = toy(20)

    def epochs(loader, n):
        return [sum(ids(loader), []) for _ in range(n)]

    first = epochs(DataLoader(ds, batch_size=6, shuffle=True, generator=Generator().manual_seed(42)), 3)
    assert first == epochs(DataLoader(ds, batch_size=6, shuffle=True, generator=Generator().manual_seed(42)), 3)
    assert all(sorted(e) == list(range(20)) for e in first)                    # every item once per epoch
    assert first[0] != first[1] != first[2]                                     # a new order each epoch
    g = Generator().manual_seed(42)
    assert first == [g.permutation(20).tolist() for _ in range(3)]
    assert first[0] != epochs(DataLoader(ds, batch_size=6, shuffle=True, generator=Generator().manual_seed(7)), 1)[0]
    assert tinygan.Generator is Generator and Generator().initial_seed() == 67280421310721


def test_shuffle_without_a_generator_follows_tinygan_manual_seed():
    ds = toy(20)
    tinygan.manual_seed(5)
    first = [sum(ids(DataLoader(ds, batch_size=5, shuffle=True)), []) for _ in range(2)]
    tinygan.manual_seed(5)
    assert first == [backend.asnumpy(backend.permutation(20, "cpu")).tolist() for _ in range(2)]


@pytest.mark.parametrize("shuffle", [False, True])
def test_fast_path_equals_the_per_item_path(shuffle):
    ds = toy(23)
    train, _ = random_split(ds, [17, 6], generator=Generator().manual_seed(0))
    for dataset in (ds, train, Subset(train, [5, 1, 16, 3, 3])):
        fast = DataLoader(dataset, batch_size=4, shuffle=shuffle, generator=Generator().manual_seed(1))
        slow = DataLoader(dataset, batch_size=4, shuffle=shuffle, generator=Generator().manual_seed(1),
                          collate_fn=per_item)
        for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
            assert xf.dtype == xs.dtype and yf.dtype == ys.dtype
            np.testing.assert_array_equal(xf.detach().numpy(), xs.detach().numpy())
            np.testing.assert_array_equal(yf.detach().numpy(), ys.detach().numpy())


def test_fast_path_on_each_device(device):
    ds = toy(12, device)
    batches = list(DataLoader(ds, batch_size=5, shuffle=True, generator=Generator().manual_seed(3)))
    assert [len(y) for _, y in batches] == [5, 5, 2]
    assert all(x.device == device and y.device == device for x, y in batches)
    order = Generator().manual_seed(3).permutation(12).tolist()                # the same order on every device
    assert sum(ids(batches), []) == order
    np.testing.assert_array_equal(backend.asnumpy(batches[0][0].array)[:, 1], np.array(order[:5]) + 0.5)


def test_fast_path_is_faster_than_the_per_item_loop():
    ds = TensorDataset(tinygan.randn(4096, 784), tinygan.tensor(np.arange(4096)))

    def seconds(**kw):
        start = time.perf_counter()
        for _ in DataLoader(ds, batch_size=64, shuffle=True, generator=Generator().manual_seed(0), **kw):
            pass
        return time.perf_counter() - start

    fast, slow = min(seconds() for _ in range(3)), seconds(collate_fn=per_item)
    assert fast * 5 < slow, (fast, slow)


def test_a_dataset_of_dicts_read_item_by_item():
    loader = DataLoader(Squares(5), batch_size=2, num_workers=4, pin_memory=True)     # worker options accepted
    batches = list(loader)
    assert len(batches) == len(loader) == 3
    assert batches[0]["x"].shape == (2, 3) and batches[0]["i"].dtype == np.int64
    assert batches[1]["sq"].dtype == np.float64 and batches[1]["sq"].detach().numpy().tolist() == [4.0, 9.0]
    assert batches[2]["name"] == ["item4"]


def test_against_torch_dataloader():
    torch = pytest.importorskip("torch")
    ours = list(DataLoader(Squares(7), batch_size=3))
    theirs = list(torch.utils.data.DataLoader(Squares(7), batch_size=3))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        for key in ("x", "i", "sq"):
            assert a[key].detach().numpy().dtype == b[key].numpy().dtype
            np.testing.assert_array_equal(a[key].detach().numpy(), b[key].numpy())
        assert a["name"] == b["name"]
    for kw in (dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None)):
        assert len(DataLoader(Squares(7), **kw)) == len(torch.utils.data.DataLoader(Squares(7), **kw))


def test_samplers_and_unbatched_loading():
    ds = toy(6)
    assert ids(DataLoader(ds, batch_size=2, sampler=[5, 4, 3, 0])) == [[5, 4], [3, 0]]
    assert ids(DataLoader(ds, batch_sampler=[[1, 2, 3], [0]])) == [[1, 2, 3], [0]]
    assert ids(DataLoader(ds, batch_sampler=[[1, 2, 3], [0]], collate_fn=per_item)) == [[1, 2, 3], [0]]
    items = list(DataLoader(Squares(3), batch_size=None))
    assert len(items) == 3 and items[2]["i"] == 2 and isinstance(items[2]["x"], np.ndarray)
    x, y = next(iter(DataLoader(ds, batch_size=None)))
    assert x.shape == (2,) and y.item() == 0


def test_option_errors_are_pytorchs():
    ds = toy(4)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)
    assert "batch_size=1" in repr(DataLoader(ds)) and math.isclose(len(DataLoader(ds, batch_size=3)), 2)

"""PyTorch's idioms that GAN scripts use, working with ``import tinygan as torch``: legacy types
(FloatTensor(64, 1), x.type(LongTensor)), devices (torch.device, tinygan.cuda), torch.* functions, the Tensor
methods PyTorch code calls, torch.backends and nn.parallel. Values are compared with PyTorch where it is
installed; every differentiable addition is gradient-checked in float64.
"""
import math

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import assume, given

import tinygan
from tinygan import autograd, gradcheck, gradgradcheck, nn

ND_SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
NO_GPU = not tinygan.device_available("gpu")


def leaf(values, dtype=np.float64):
    return tinygan.tensor(values, dtype=dtype, requires_grad=True)


def arrays(shape, lo=-3.0, hi=3.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, allow_nan=False, width=64))


def as_numpy(value):
    """A tinygan or torch tensor (or a tuple of them, or a number) as NumPy values, for comparing the two."""
    if isinstance(value, (tuple, list)):
        return [as_numpy(v) for v in value]
    if isinstance(value, tinygan.Tensor):
        return value.detach().numpy()
    if hasattr(value, "detach"):
        return value.detach().numpy()
    return np.asarray(value)


# ==================================================================================================
# Legacy types and dtype names
# ==================================================================================================
LEGACY = {"FloatTensor": np.float32, "DoubleTensor": np.float64, "HalfTensor": np.float16, "LongTensor": np.int64,
          "IntTensor": np.int32, "ShortTensor": np.int16, "CharTensor": np.int8, "ByteTensor": np.uint8,
          "BoolTensor": np.bool_}


@pytest.mark.parametrize("name", sorted(LEGACY))
def test_legacy_types_build_from_sizes_and_data_and_check_instances(name):
    T = getattr(tinygan, name)
    x = T(3, 2)
    assert x.shape == (3, 2) and x.dtype == LEGACY[name] and not x.array.any()   # zeros, documented
    assert T().shape == (0,)
    y = T(np.array([[1.0, 0.0]]))
    assert y.dtype == LEGACY[name] and y.shape == (1, 2) and y.type() == f"torch.{name}"
    assert isinstance(x, T) and isinstance(x, tinygan.Tensor)
    others = [getattr(tinygan, n) for n in LEGACY if n != name]
    assert not any(isinstance(x, other) for other in others)
    assert not isinstance(x, tinygan.cuda.FloatTensor) and not isinstance(np.zeros(2), T)
    assert repr(T) == f"<class 'torch.{name}'>"


def test_legacy_constructor_copies_data_and_refuses_nonsense():
    a = np.ones(3)
    x = tinygan.FloatTensor(a)
    a[0] = 5
    assert x.dtype == np.float32 and x.tolist() == [1.0, 1.0, 1.0]
    assert tinygan.LongTensor([1, 2]).tolist() == [1, 2]
    assert tinygan.FloatTensor((2, 3)).tolist() == [2.0, 3.0]            # a tuple is data, as in PyTorch
    assert tinygan.FloatTensor(tinygan.arange(3)).dtype == np.float32
    with pytest.raises(TypeError, match=r"FloatTensor\(\): expected sizes \(ints\) or one list"):
        tinygan.FloatTensor(2.5)
    with pytest.raises(TypeError, match="FloatTensor"):
        tinygan.FloatTensor([1.0], [2.0])


def test_the_gan_script_idiom():
    cuda = tinygan.cuda.is_available()
    Tensor = tinygan.cuda.FloatTensor if cuda else tinygan.FloatTensor
    imgs = tinygan.randn(5, 1, 4, 4, dtype=np.float64)
    valid = autograd.Variable(Tensor(imgs.size(0), 1).fill_(1.0), requires_grad=False)
    real = autograd.Variable(imgs.type(Tensor))
    z = autograd.Variable(Tensor(np.random.default_rng(0).normal(0, 1, (imgs.shape[0], 8))))
    labels = autograd.Variable(tinygan.LongTensor(np.array([1, 2, 3, 4, 5])).type(tinygan.LongTensor))
    assert valid.shape == (5, 1) and valid.tolist() == [[1.0]] * 5 and not valid.requires_grad
    assert real.dtype == z.dtype == np.float32 and labels.dtype == np.int64
    assert isinstance(real, Tensor) and real.type() == ("torch.cuda.FloatTensor" if cuda else "torch.FloatTensor")


@pytest.mark.parametrize("target, dtype", [("torch.DoubleTensor", np.float64), ("torch.LongTensor", np.int64),
                                           ("tinygan.BoolTensor", np.bool_), (np.float16, np.float16),
                                           (tinygan.IntTensor, np.int32), (tinygan.double, np.float64)])
def test_type_converts(target, dtype):
    x = tinygan.tensor([0.0, 1.5, -2.0])
    y = x.type(target)
    assert y.dtype == dtype and y.device == "cpu"
    np.testing.assert_array_equal(y.numpy(), np.array([0.0, 1.5, -2.0]).astype(dtype))


def test_type_errors_and_type_as():
    x = tinygan.tensor([1.0])
    with pytest.raises(ValueError, match="invalid type: 'foo'"):
        x.type("foo")
    with pytest.raises(ValueError, match="invalid type: 'torch.Float'"):
        x.type("torch.Float")
    with pytest.raises(TypeError, match="no PyTorch tensor type name"):
        tinygan.tensor([1 + 2j]).type()
    assert x.type_as(tinygan.LongTensor([3])).dtype == np.int64


def test_dtype_names_match_pytorch():
    torch = pytest.importorskip("torch")
    for name in ["float32", "float64", "float16", "float", "double", "half", "long", "int64", "int32", "int",
                 "int16", "short", "int8", "uint8", "bool"]:
        ours = np.dtype(getattr(tinygan, name))
        theirs = torch.empty(0, dtype=getattr(torch, name)).numpy().dtype
        assert ours == theirs, name
    for name in LEGACY:
        assert getattr(torch, name)(2).type() == getattr(tinygan, name)(2).type()
        assert getattr(torch, name)([1, 0]).numpy().dtype == getattr(tinygan, name)([1, 0]).dtype


def test_default_dtype():
    assert tinygan.get_default_dtype() is tinygan.float32
    tinygan.set_default_dtype(tinygan.float32)
    with pytest.raises(NotImplementedError, match="default dtype is float32"):
        tinygan.set_default_dtype(tinygan.float64)


# ==================================================================================================
# Devices
# ==================================================================================================
@pytest.mark.parametrize("spec, type_, index, text, rep", [
    (("cpu",), "cpu", None, "cpu", "device(type='cpu')"),
    (("cuda",), "cuda", None, "cuda", "device(type='cuda')"),
    (("cuda:0",), "cuda", 0, "cuda:0", "device(type='cuda', index=0)"),
    (("cuda", 1), "cuda", 1, "cuda:1", "device(type='cuda', index=1)"),
    ((0,), "cuda", 0, "cuda:0", "device(type='cuda', index=0)"),
    (("gpu",), "cuda", None, "cuda", "device(type='cuda')"),         # tinygan's name for the GPU
])
def test_device_objects_as_pytorch(spec, type_, index, text, rep):
    d = tinygan.device(*spec)
    assert (d.type, d.index, str(d), repr(d)) == (type_, index, text, rep)
    assert tinygan.device(d) is d and d == tinygan.device(text)


def test_device_equality_with_tinygan_names_and_hashing():
    cuda0, cuda, cpu = tinygan.device("cuda:0"), tinygan.device("cuda"), tinygan.device("cpu")
    assert cuda0 == "gpu" and "gpu" == cuda0 and cuda == "cuda:0" and cpu == "cpu" and cpu != "gpu"
    assert not (cuda0 != "gpu") and cpu != cuda and cuda0 != "nonsense"
    assert tinygan.device("cuda:0") != tinygan.device("cuda:1")
    assert {"gpu": 1, "cpu": 2}[cuda0] == 1 and {cpu: 2}["cpu"] == 2
    assert cpu in ("cpu", "gpu") and cuda0 in ("cpu", "gpu")


def test_device_errors():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        tinygan.device("tpu")
    with pytest.raises(ValueError, match="invalid device string 'cuda:x'"):
        tinygan.device("cuda:x")
    with pytest.raises(ValueError, match="non-negative integer"):
        tinygan.device("cuda", -1)
    with pytest.raises(TypeError, match="expected a string"):
        tinygan.device(1.5)


def test_cpu_device_repr_matches_pytorch():
    torch = pytest.importorskip("torch")
    assert repr(tinygan.device("cpu")) == repr(torch.device("cpu"))
    assert repr(tinygan.zeros(1).device) == repr(torch.zeros(1).device)


def test_device_objects_are_accepted_wherever_a_device_is():
    cpu = tinygan.device("cpu")
    for t in (tinygan.zeros(2, device=cpu), tinygan.randn(2, device=cpu), tinygan.tensor([1.0], device=cpu),
              tinygan.ones(2).to(cpu), tinygan.full((2,), 3.0, device=cpu), tinygan.arange(3, device=cpu),
              tinygan.randint(0, 5, (2,), device=cpu), tinygan.eye(2, device=cpu)):
        assert t.device == "cpu" and t.device == cpu and t.device.type == "cpu" and not t.is_cuda
        assert t.get_device() == -1
    model = nn.Linear(2, 3).to(cpu)
    assert model.weight.device == "cpu"


def test_to_takes_pytorchs_positional_forms():
    x = tinygan.tensor([1.0, 2.0], requires_grad=True)
    assert x.to(tinygan.float64).dtype == np.float64
    assert x.to("cpu", tinygan.float64).dtype == np.float64
    assert x.to(tinygan.device("cpu")) is x and x.to("cpu") is x
    other = tinygan.tensor([1], dtype=np.int64)
    assert x.to(other).dtype == np.int64
    y = x.to(copy=True)
    assert y is not x and y.array is not x.array and y.tolist() == x.tolist() and y.requires_grad
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="to: expected a device, a dtype or a tensor"):
        x.to(object())


def test_device_fixture_paths(device):
    """On every device: device objects make tensors there, and the type names and checks follow."""
    d = tinygan.device("cuda:0" if device == "gpu" else "cpu")
    x = tinygan.zeros(2, 3, device=d)
    assert x.device == device and x.device == d and x.is_cuda == (device == "gpu")
    assert x.type() == ("torch.cuda.FloatTensor" if device == "gpu" else "torch.FloatTensor")
    if device == "gpu":
        y = tinygan.cuda.FloatTensor(4, 1).fill_(1.0)
        assert y.is_cuda and isinstance(y, tinygan.cuda.FloatTensor) and not isinstance(y, tinygan.FloatTensor)
        assert tinygan.ones(2).cuda().is_cuda and tinygan.ones(2).cuda(0).device == "cuda:0"
        assert x.type(tinygan.LongTensor).device == "cpu"          # a CPU type moves the tensor to the CPU
        assert tinygan.cuda.device_count() >= 1


@pytest.mark.skipif(not NO_GPU, reason="checks the errors where there is no GPU")
def test_asking_for_the_gpu_without_one_says_what_is_missing():
    for make in (lambda: tinygan.cuda.FloatTensor(2), lambda: tinygan.ones(2).cuda(),
                 lambda: tinygan.zeros(2, device=tinygan.device("cuda")), lambda: tinygan.ones(2).to("cuda:0"),
                 lambda: tinygan.ones(1).type("torch.cuda.FloatTensor"), tinygan.cuda.synchronize,
                 tinygan.cuda.current_device):
        with pytest.raises(tinygan.DeviceUnavailableError, match="device 'gpu' is not available"):
            make()
    assert not tinygan.cuda.is_available() and tinygan.cuda.device_count() == 0
    assert tinygan.cuda.memory_allocated() == 0
    tinygan.cuda.empty_cache()                                       # nothing to free, as PyTorch's
    with pytest.raises(ValueError, match="it must be a CUDA device"):
        tinygan.ones(1).cuda("cpu")


def test_cuda_manual_seed_leaves_the_cpu_stream_alone():
    tinygan.manual_seed(3)
    a = tinygan.randn(4).numpy()
    tinygan.manual_seed(3)
    tinygan.cuda.manual_seed(7)
    tinygan.cuda.manual_seed_all(7)
    np.testing.assert_array_equal(tinygan.randn(4).numpy(), a)
    assert tinygan.cuda.is_available() == tinygan.device_available("gpu")


# ==================================================================================================
# torch.backends and nn.parallel
# ==================================================================================================
def test_backends_settings_are_kept_and_say_they_change_nothing():
    cudnn = tinygan.backends.cudnn
    saved = cudnn.benchmark
    try:
        cudnn.benchmark, cudnn.deterministic = True, True
        assert cudnn.benchmark and cudnn.deterministic and cudnn.enabled
        assert "not used by tinygan" in repr(cudnn)
    finally:
        cudnn.benchmark, cudnn.deterministic = saved, False
    assert not cudnn.is_available() and cudnn.version() is None
    assert not tinygan.backends.mps.is_available() and not tinygan.backends.mps.is_built()


def test_data_parallel_on_one_device():
    tinygan.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
    x = tinygan.randn(4, 3)
    expected = net(x).detach().numpy()
    # exact: one device, so data_parallel runs the module itself on the same input
    np.testing.assert_array_equal(as_numpy(nn.parallel.data_parallel(net, x, range(1))), expected)
    np.testing.assert_array_equal(as_numpy(nn.parallel.data_parallel(net, (x,))), expected)
    wrapped = nn.DataParallel(net, device_ids=[0])
    assert wrapped.module is net and list(wrapped.state_dict()) == ["module.0.weight", "module.0.bias"]
    np.testing.assert_array_equal(as_numpy(wrapped(x)), expected)
    assert [p is q for p, q in zip(wrapped.parameters(), net.parameters())] == [True, True]
    with pytest.raises(ValueError, match=r"tinygan runs on one device.*device_ids \[0, 1\]"):
        nn.parallel.data_parallel(net, x, [0, 1])
    with pytest.raises(ValueError, match="DataParallel: tinygan runs on one device"):
        nn.DataParallel(net, device_ids=range(2))


# ==================================================================================================
# Conversions and in-place assignment
# ==================================================================================================
def test_python_number_conversions_as_pytorch():
    assert float(tinygan.tensor([[2.5]])) == 2.5 and int(tinygan.tensor(-2.7)) == -2
    assert list(range(tinygan.tensor(3))) == [0, 1, 2] and [10, 11, 12][tinygan.tensor([1])] == 11
    with pytest.raises(ValueError, match="only one element tensors can be converted to Python scalars"):
        float(tinygan.ones(2))
    with pytest.raises(ValueError, match="only one element tensors can be converted to Python scalars"):
        int(tinygan.ones(2))
    with pytest.raises(TypeError, match="only integer tensors of a single element can be converted to an index"):
        range(tinygan.tensor(2.0))
    assert tinygan.ones(2).long().dtype == np.int64 and tinygan.ones(2).int().dtype == np.int32
    assert tinygan.ones(2).half().dtype == np.float16 and tinygan.tensor([0.0, 2.0]).bool().tolist() == [False, True]
    assert tinygan.ones(1).byte().dtype == np.uint8 and tinygan.ones(1).short().dtype == np.int16


def test_setitem_writes_in_place_when_no_gradient_is_recorded():
    x = tinygan.zeros(2, 3)
    version = x._version
    x[0] = 1.0
    x[1, tinygan.tensor([0, 2])] = tinygan.tensor([5.0, 6.0])
    x[:, 1] = np.array([7.0, 8.0])
    assert x.tolist() == [[1.0, 7.0, 1.0], [5.0, 8.0, 6.0]] and x._version == version + 3
    w = tinygan.ones(3, requires_grad=True)
    with tinygan.no_grad():
        w[0] = 4.0                                # PyTorch allows this: initialisers and optimizers do it
    assert w.tolist() == [4.0, 1.0, 1.0] and w.requires_grad and w.is_leaf
    p = nn.Parameter(tinygan.zeros(2))
    p.data[1] = 3.0                               # .data shares the memory and is outside the graph
    assert p.tolist() == [0.0, 3.0]


def test_setitem_refusals_name_the_problem():
    w = tinygan.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad is being used in an "
                                           "in-place operation"):
        w[0] = 2.0
    y = w * 2
    with pytest.raises(NotImplementedError, match="not supported in tinygan yet.*tinygan.where"):
        y[0] = 0.0
    x = tinygan.zeros(3)
    with pytest.raises(NotImplementedError, match="a value that requires grad"):
        x[0] = w[1]
    assert x.tolist() == [0.0, 0.0, 0.0] and w.tolist() == [1.0, 1.0, 1.0]


def test_setitem_on_a_tensor_saved_for_backward_is_caught_by_backward():
    w = tinygan.ones(3, requires_grad=True)
    x = tinygan.tensor([1.0, 2.0, 3.0])
    y = (w * x).sum()
    x[0] = 10.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


# ==================================================================================================
# Methods and functions that make or describe tensors
# ==================================================================================================
def test_new_tensors_take_dtype_and_device_from_self():
    x = tinygan.ones(2, dtype=np.float64)
    for t, value in ((x.new_zeros(2, 3), 0), (x.new_ones((2, 3)), 1), (x.new_full((2, 3), 4.0), 4),
                     (x.new_empty(2, 3), 0)):
        assert t.shape == (2, 3) and t.dtype == np.float64 and (t.numpy() == value).all()
    assert x.new_zeros(2, dtype=np.int64).dtype == np.int64 and x.new_ones(1, requires_grad=True).requires_grad
    data = np.array([1, 2])
    t = x.new_tensor(data)
    data[0] = 9
    assert t.dtype == np.float64 and t.tolist() == [1.0, 2.0]
    src = tinygan.tensor([1.0, 2.0], dtype=np.float64)
    copy = x.new_tensor(src)
    copy[0] = 5.0
    assert src.tolist() == [1.0, 2.0]


def test_descriptions():
    x = tinygan.zeros(2, 3, dtype=np.float64)
    assert x.element_size() == 8 and x.nelement() == 6 and x.ndimension() == 2 and x.is_floating_point()
    assert x.contiguous() is x and x.is_contiguous() and not x.T.is_contiguous()
    assert tinygan.is_tensor(x) and not tinygan.is_tensor(x.array) and tinygan.numel(x) == 6
    assert not tinygan.is_floating_point(tinygan.arange(3))
    assert x.expand_as(tinygan.zeros(4, 2, 3)).shape == (4, 2, 3) and x.view_as(tinygan.zeros(3, 2)).shape == (3, 2)
    assert x.reshape_as(tinygan.zeros(6)).shape == (6,)
    bad = tinygan.tensor([0.0, math.nan, math.inf])
    assert tinygan.isnan(bad).tolist() == [False, True, False] and tinygan.isinf(bad).tolist() == [False, False, True]
    assert tinygan.isfinite(bad).tolist() == [True, False, False]
    assert tinygan.allclose(tinygan.ones(2), tinygan.ones(2) + 1e-9) and not tinygan.allclose(x, x + 1)
    assert x.all().tolist() is False and (x + 1).all(dim=1).tolist() == [True, True] and not x.any()


def test_creation_functions():
    tinygan.manual_seed(1)
    r = tinygan.randint(3, 7, (1000,))
    assert r.dtype == np.int64 and r.shape == (1000,) and set(r.tolist()) == {3, 4, 5, 6}
    tinygan.manual_seed(1)
    assert tinygan.randint(3, 7, (1000,)).tolist() == r.tolist()        # tinygan's seeded generator
    assert tinygan.randint(5, (2, 3)).shape == (2, 3) and tinygan.randint(5, size=(4,)).numpy().max() < 5
    with pytest.raises(ValueError, match="high .* must be greater than low"):
        tinygan.randint(3, 3, (2,))
    with pytest.raises(TypeError, match="give the size"):
        tinygan.randint(3)
    assert sorted(tinygan.randperm(10).tolist()) == list(range(10)) and tinygan.randperm(3).dtype == np.int64
    n = tinygan.normal(2.0, 3.0, size=(20000,))
    assert n.dtype == np.float32 and abs(float(n.mean()) - 2) < 0.1 and abs(float(n.std()) - 3) < 0.1
    m = tinygan.normal(tinygan.zeros(2, 3, dtype=np.float64), 1.0)
    assert m.shape == (2, 3) and m.dtype == np.float64 and not m.requires_grad
    with pytest.raises(TypeError, match="give the size"):
        tinygan.normal(0.0, 1.0)
    a = np.arange(3.0)
    t = tinygan.from_numpy(a)
    a[0] = 7.0
    assert t.dtype == np.float64 and t.tolist() == [7.0, 1.0, 2.0]              # shares memory, as PyTorch
    with pytest.raises(TypeError, match=r"expected np.ndarray \(got list\)"):
        tinygan.from_numpy([1.0])
    assert tinygan.as_tensor(a).array is a and tinygan.as_tensor(t) is t
    assert tinygan.as_tensor(t, dtype=np.float32).dtype == np.float32
    assert tinygan.empty(2, 3).shape == (2, 3) and tinygan.empty_like(t).shape == (3,)
    np.testing.assert_array_equal(tinygan.eye(2, 3).numpy(), np.eye(2, 3))
    np.testing.assert_allclose(tinygan.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])


def test_module_functions_are_the_methods():
    x = tinygan.tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])
    pairs = [
        (tinygan.sum(x), x.sum()), (tinygan.sum(x, 1, keepdim=True), x.sum(1, keepdim=True)),
        (tinygan.mean(x, 0), x.mean(0)), (tinygan.max(x), x.max()), (tinygan.min(x, 1), x.min(1)),
        (tinygan.add(x, 1.0, alpha=2), x + 2.0), (tinygan.sub(x, x, alpha=0.5), x * 0.5),
        (tinygan.mul(x, 2.0), x * 2), (tinygan.div(x, 2.0), x / 2), (tinygan.pow(x, 2), x * x),
        (tinygan.matmul(x, x.T), x @ x.T), (tinygan.mm(x, x.T), x @ x.T), (tinygan.neg(x), -x),
        (tinygan.square(x), x * x), (tinygan.reshape(x, (3, 2)), x.reshape(3, 2)),
        (tinygan.flatten(x), x.flatten()), (tinygan.transpose(x, 0, 1), x.T), (tinygan.permute(x, (1, 0)), x.T),
        (tinygan.unsqueeze(x, 0).shape, (1, 2, 3)), (tinygan.squeeze(x[None]).shape, (2, 3)),
        (tinygan.argmax(x, 1, keepdim=True).shape, (2, 1)), (tinygan.argmin(x).tolist(), 5),
        (tinygan.clone(x), x), (tinygan.flip(x, [1]), x[:, ::-1]), (tinygan.tile(x, (2,)), x.repeat(1, 2)),
        (tinygan.maximum(x, -x), x.abs()), (tinygan.minimum(x, -x), -x.abs()), (tinygan.max(x, -x), x.abs()),
        (tinygan.min(x, -x), -x.abs()), (tinygan.masked_fill(x, x < 0, 0.0), x.relu()),
        (tinygan.where(x > 0, x, 0.0), x.relu()), (tinygan.norm(x, 1), x.abs().sum()),
        (tinygan.std(x, 1), x.std(1)), (tinygan.var(x, 1, False), x.var(1, unbiased=False)),
        (tinygan.var(x, False), x.var(unbiased=False)), (tinygan.var(x, correction=0), x.var(unbiased=False)),
    ]
    for i, (ours, expected) in enumerate(pairs):
        np.testing.assert_allclose(as_numpy(ours), as_numpy(expected), rtol=1e-6, err_msg=f"pair {i}")
    assert tinygan.mean(x, dtype=np.float64).dtype == tinygan.sum(x, dtype=np.float64).dtype == np.float64
    assert [p.tolist() for p in tinygan.split(x, 1, 1)] == [p.tolist() for p in x.split(1, 1)]
    assert [p.shape for p in tinygan.chunk(x, 2, 1)] == [(2, 2), (2, 1)]
    assert [p.tolist() for p in tinygan.unbind(x)] == x.tolist()
    rows, cols = tinygan.where(x > 2)
    assert rows.tolist() == [0, 1, 1] and cols.tolist() == [2, 0, 1]
    with pytest.raises(TypeError, match="give both input and other"):
        tinygan.where(x > 0, x)
    with pytest.raises(NotImplementedError, match="rounding_mode"):
        tinygan.div(x, 2, rounding_mode="floor")


def test_no_grad_and_inference_mode_as_context_managers_and_decorators():
    x = tinygan.ones(2, requires_grad=True)

    @tinygan.no_grad()
    def doubled(t):
        return t * 2

    @tinygan.inference_mode()
    def tripled(t):
        return t * 3

    @tinygan.inference_mode
    def quadrupled(t):
        return t * 4

    assert not doubled(x).requires_grad and not tripled(x).requires_grad and not quadrupled(x).requires_grad
    with tinygan.inference_mode():
        assert not (x * 2).requires_grad and not tinygan.is_grad_enabled()
        with tinygan.inference_mode(False):              # leaves the mode as it is, as PyTorch's
            assert not tinygan.is_grad_enabled()
    assert tinygan.is_grad_enabled() and (x * 2).requires_grad


# ==================================================================================================
# Shape errors name the op
# ==================================================================================================
def test_shape_errors_name_the_problem():
    x = tinygan.ones(2, 3)
    with pytest.raises(ValueError, match=r"mm: both operands must be 2-D matrices, got shapes \(2, 3\) and \(3,\)"):
        x.mm(tinygan.ones(3))
    with pytest.raises(ValueError, match=r"bmm: expects \(b, n, m\) and \(b, m, p\)"):
        tinygan.ones(2, 2, 3).bmm(tinygan.ones(3, 3, 2))
    with pytest.raises(ValueError, match="repeat: give at least one size per dimension"):
        x.repeat(2)
    with pytest.raises(ValueError, match=r"split sizes \[1, 1\] must be non-negative and add up to 3"):
        x.split([1, 1], 1)
    with pytest.raises(ValueError, match="split_size must be positive"):
        x.split(0)
    with pytest.raises(ValueError, match="chunk: chunks must be positive"):
        x.chunk(0)
    with pytest.raises(IndexError, match="split: dimension 2 is out of range"):
        x.split(1, 2)
    with pytest.raises(TypeError, match="where: condition must be a boolean tensor, got dtype float32"):
        tinygan.where(x, x, 0.0)
    with pytest.raises(ValueError, match=r"where: shapes \(4,\) \(condition\), \(2, 3\) and \(\) cannot broadcast"):
        tinygan.where(tinygan.ones(4) > 0, x, 0.0)
    with pytest.raises(TypeError, match="where: x or other must be a tensor"):
        tinygan.where(x > 0, 1.0, 0.0)
    with pytest.raises(ValueError, match="norm: p='nuc' is not supported"):
        x.norm("nuc")


# ==================================================================================================
# Against PyTorch: values and gradients of the idioms
# ==================================================================================================
IDIOMS = {
    "repeat": lambda x: x.repeat(2, 1, 3),
    "repeat_new_axis": lambda x: x.repeat(2, 1, 1, 1),
    "norm": lambda x: x.norm(),
    "norm_2_dim": lambda x: x.norm(2, dim=1),
    "norm_fro_keepdim": lambda x: x.norm(dim=(1, 2), keepdim=True),
    "norm_1": lambda x: x.norm(1),
    "norm_inf": lambda x: x.norm(float("inf"), dim=0),
    "norm_3": lambda x: x.norm(3, dim=2),
    "std": lambda x: x.std(),
    "std_dim": lambda x: x.std(1),
    "std_biased": lambda x: x.std(1, False),
    "std_keepdim": lambda x: x.std(0, keepdim=True),
    "split": lambda x: x.split(2, dim=2),
    "split_sections": lambda x: x.split([1, 2], 2),
    "chunk": lambda x: x.chunk(2, 0),
    "chunk_uneven": lambda x: x.chunk(3, 2),
    "unbind": lambda x: x.unbind(1),
    "flip": lambda x: x.flip(0),
    "flip_dims": lambda x: x.flip([0, 2]),
    "where_scalar": lambda x: x.where(x > 0, 0.5),
    "masked_fill": lambda x: x.masked_fill(x > 0.5, -1.0),
    "clone": lambda x: x.clone() * 2,
    "amax": lambda x: x.amax(1),
    "amin": lambda x: x.amin(dim=(0, 2)),
    "add_alpha": lambda x: x.add(x * x, alpha=0.5),
    "sub_alpha": lambda x: x.sub(x.exp(), alpha=2),
    "mul_div_pow": lambda x: x.mul(3).div(2).pow(2),
    "mm": lambda x: x[0].mm(x[1].T),
    "bmm": lambda x: x.bmm(x.transpose(1, 2)),
    "matmul": lambda x: x.matmul(x[0].T),
    "expand_as": lambda x: x[:, :1].expand_as(x),
    "square_neg": lambda x: x.square().neg(),
}


@pytest.mark.parametrize("name", sorted(IDIOMS))
def test_idioms_match_pytorch_values_and_gradients(name):
    torch = pytest.importorskip("torch")
    values = np.random.default_rng(sorted(IDIOMS).index(name)).uniform(-2, 2, (2, 3, 3))
    ours_x = leaf(values)
    theirs_x = torch.tensor(values, requires_grad=True)
    ours, theirs = IDIOMS[name](ours_x), IDIOMS[name](theirs_x)
    ours_list = list(ours) if isinstance(ours, tuple) else [ours]
    theirs_list = list(theirs) if isinstance(theirs, tuple) else [theirs]
    assert len(ours_list) == len(theirs_list)
    for o, t in zip(ours_list, theirs_list):
        assert tuple(o.shape) == tuple(t.shape)
        np.testing.assert_allclose(as_numpy(o), as_numpy(t), rtol=1e-10, atol=1e-12)
    weights = [np.random.default_rng(i).standard_normal(tuple(o.shape)) for i, o in enumerate(ours_list)]
    sum(((o * w).sum() for o, w in zip(ours_list, weights)), tinygan.zeros((), dtype=np.float64)).backward()
    sum((t * torch.tensor(w)).sum() for t, w in zip(theirs_list, weights)).backward()
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_norm_of_zeros_has_pytorchs_zero_gradient():
    x = leaf(np.zeros((2, 3)))
    y = leaf(np.zeros(3))
    x.norm(dim=1).sum().backward()
    y.norm().backward()
    assert x.grad.tolist() == [[0.0] * 3] * 2 and y.grad.tolist() == [0.0] * 3


def test_methods_match_pytorch_table():
    torch = pytest.importorskip("torch")
    values = np.arange(12.0).reshape(3, 4) - 5
    cases = {
        "new_full": lambda lib, x: x.new_full((2, 2), 7),
        "new_tensor": lambda lib, x: x.new_tensor([1, 2]),
        "type_as": lambda lib, x: x.type_as(lib.tensor([1], dtype=lib.int64)),
        "argmin": lambda lib, x: x.argmin(),
        "tile": lambda lib, x: lib.tile(x, (2,)),
        "where_tensors": lambda lib, x: lib.where(x > 0, x, -x),
        "maximum": lambda lib, x: lib.maximum(x, x.flip(0)),
        "float_of_one": lambda lib, x: float(x[1, 1]),
        "int_of_one": lambda lib, x: int(x[0, 0] / 2),
        "long": lambda lib, x: x.long(),
        "bool": lambda lib, x: x.bool(),
        "all_dim": lambda lib, x: (x > -6).all(dim=1),
        "any": lambda lib, x: (x > 5).any(),
    }
    for name, case in cases.items():
        ours = case(tinygan, tinygan.tensor(values, dtype=np.float64))
        theirs = case(torch, torch.tensor(values))
        np.testing.assert_array_equal(as_numpy(ours), as_numpy(theirs), err_msg=name)
        if hasattr(theirs, "dtype"):
            assert ours.dtype == theirs.numpy().dtype, name


# ==================================================================================================
# Gradient checks (float64, hypothesis over shapes)
# ==================================================================================================
@given(data=st.data())
def test_gradcheck_shape_methods(data):
    shape = data.draw(ND_SHAPES)
    x = leaf(data.draw(arrays(shape)))
    dim = data.draw(st.integers(0, len(shape) - 1))
    reps = data.draw(st.lists(st.integers(1, 3), min_size=len(shape), max_size=len(shape) + 1))
    pieces = data.draw(st.integers(1, 4))
    assert gradcheck(lambda t: t.repeat(*reps), [x])
    assert gradcheck(lambda t: t.clone() * t, [x])
    assert gradcheck(lambda t: tinygan.cat([p * (i + 1) for i, p in enumerate(t.split(pieces, dim))], dim), [x])
    assert gradcheck(lambda t: tinygan.cat([p * (i + 1) for i, p in enumerate(t.chunk(pieces, dim))], dim), [x])
    assert gradcheck(lambda t: tinygan.stack([p * (i + 1) for i, p in enumerate(t.unbind(dim))]), [x])
    assert gradcheck(lambda t: t.flip(dim) * t, [x])


@given(data=st.data())
def test_gradcheck_norms_and_std(data):
    shape = data.draw(ND_SHAPES)
    away_from_0 = st.floats(0.1, 3.0) | st.floats(-3.0, -0.1)  # away from |x|'s kink at 0
    values = data.draw(hnp.arrays(np.float64, shape, elements=away_from_0))
    x = leaf(values)
    dim = data.draw(st.one_of(st.none(), st.integers(0, len(shape) - 1)))
    keepdim = data.draw(st.booleans())
    p = data.draw(st.sampled_from([2, "fro", 1, 3, 1.5]))
    assert gradcheck(lambda t: t.norm(p, dim=dim, keepdim=keepdim), [x])
    if len(np.unique(np.abs(values))) == values.size:         # one maximum: no ties for inf-norm's gradient
        assert gradcheck(lambda t: t.norm(float("inf"), dim=dim, keepdim=keepdim), [x])
    spread = leaf(values + np.arange(values.size).reshape(shape))    # std's gradient is infinite at constants
    unbiased = data.draw(st.booleans())
    if (values.size if dim is None else shape[dim]) > 1:
        assert gradcheck(lambda t: t.std(dim, unbiased, keepdim), [spread])


@given(data=st.data())
def test_gradcheck_where_and_masked_fill(data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3))
    c_shape, x_shape, y_shape = shapes.input_shapes
    cond = tinygan.tensor(data.draw(hnp.arrays(np.bool_, c_shape)))
    x, y = leaf(data.draw(arrays(x_shape))), leaf(data.draw(arrays(y_shape)))
    assert gradcheck(lambda a, b: tinygan.where(cond, a, b), [x, y])
    assert gradcheck(lambda a: tinygan.where(cond, a, 0.5), [x])
    assert gradcheck(lambda a: a.masked_fill(cond, -1.0), [x])
    out = tinygan.where(cond, x, y)
    assert out.shape == shapes.result_shape
    np.testing.assert_array_equal(out.numpy() if not out.requires_grad else out.detach().numpy(),
                                  np.where(cond.numpy(), x.detach().numpy(), y.detach().numpy()))


@given(data=st.data())
def test_gradcheck_arithmetic_by_name(data):
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=4))
    a, b = leaf(data.draw(arrays(shape))), leaf(data.draw(arrays(shape, 0.5, 2.0)))
    c = leaf(data.draw(arrays(shape[::-1])))
    alpha = data.draw(st.floats(-2, 2))
    assert gradcheck(lambda u, v: u.add(v, alpha=alpha).sub(u, alpha=alpha).mul(v).div(v).pow(2), [a, b])
    assert gradcheck(lambda u, w: u.mm(w), [a, c])
    assert gradcheck(lambda u, w: u[None].bmm(w[None]), [a, c])
    distinct = data.draw(arrays(shape))
    assume(np.abs(distinct - a.detach().numpy()).min() > 1e-3)
    d = leaf(distinct)
    assert gradcheck(lambda u, v: tinygan.maximum(u, v) + tinygan.minimum(u, v) * 2, [a, d])


def test_second_derivatives_through_where_and_clone():
    x = leaf([-1.5, 0.5, 2.0])
    cond = tinygan.tensor([True, False, True])
    assert gradgradcheck(lambda t: tinygan.where(cond, t * t * t, t * t), [x])
    assert gradgradcheck(lambda t: (t.clone() * t).sum(), [x])
    f = tinygan.where(cond, x ** 3, x ** 2).sum()
    g, = autograd.grad(f, x, create_graph=True)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(cond.numpy(), 6 * x.detach().numpy(), 2.0))

"""GroupNorm, InstanceNorm1d/2d, AdaptiveAvgPool2d / AdaptiveMaxPool2d, PixelShuffle / PixelUnshuffle, ModuleDict,
ParameterList / ParameterDict, and PyTorch's device= / dtype= layer arguments: forward against NumPy, float64
gradchecks over hypothesis-drawn shapes, and against torch (forward, gradients, running statistics, state_dict
keys) when torch is installed."""
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygan
import tinygan.functional as F
from tinygan import backend, nn

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
few = settings(max_examples=25, deadline=None,
               suppress_health_check=list(settings.default.suppress_health_check)
               + [HealthCheck.function_scoped_fixture])


def t64(a, device="cpu", grad=True):
    return tinygan.tensor(np.asarray(a, dtype=np.float64), device=device, requires_grad=grad)


def numpy_of(t):
    return backend.asnumpy(t.array)


def torch_and_tinygan(shape, seed=0):
    """The same float32 input as a torch and a tinygan tensor, both requiring grad."""
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return torch.tensor(x, requires_grad=True), tinygan.tensor(x, requires_grad=True)


def copy_torch_state(torch_module, module):
    module.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})


def randomise_affine(torch_module, seed=1):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in torch_module.parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))


def assert_same_step(torch_module, module, shape, close=1e-4):
    """One forward and backward of each with the same input and upstream gradient: outputs, input and
    parameter gradients agree to float32 tolerance."""
    tx, x = torch_and_tinygan(shape)
    ty, y = torch_module(tx), module(x)
    np.testing.assert_allclose(numpy_of(y), ty.detach().numpy(), rtol=close, atol=close)
    gy = np.random.default_rng(7).standard_normal(tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(gy))
    y.backward(tinygan.tensor(gy))
    np.testing.assert_allclose(numpy_of(x.grad), tx.grad.numpy(), rtol=close, atol=close)
    for (name, p), tp in zip(module.named_parameters(), torch_module.parameters()):
        np.testing.assert_allclose(numpy_of(p.grad), tp.grad.numpy(), rtol=close, atol=close, err_msg=name)


# ==================================================================================================
# Group norm and instance norm
# ==================================================================================================
def group_norm_reference(x, G, weight, bias, eps):
    N, C = x.shape[:2]
    g = x.reshape(N, G, -1)
    xhat = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + eps)).reshape(x.shape)
    shape = (1, C) + (1,) * (x.ndim - 2)
    return xhat * (1 if weight is None else weight.reshape(shape)) + (0 if bias is None else bias.reshape(shape))


@few
@given(N=st.integers(1, 3), G=st.integers(1, 3), per_group=st.integers(1, 3),
       spatial=st.lists(st.integers(1, 3), min_size=0, max_size=2), affine=st.booleans(), seed=st.integers(0, 99))
def test_group_norm_forward_and_gradcheck(N, G, per_group, spatial, affine, seed):
    C = G * per_group
    shape = (N, C) + tuple(spatial)
    if np.prod(shape[2:], dtype=int) * per_group < 2:
        spatial = list(spatial) + [2]                            # a group of one value has no variance to check
        shape = shape + (2,)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    w, b = (rng.standard_normal(C), rng.standard_normal(C)) if affine else (None, None)
    inputs = [t64(x)] + ([t64(w), t64(b)] if affine else [None, None])
    y = F.group_norm(inputs[0], G, inputs[1], inputs[2], 1e-5)
    np.testing.assert_allclose(numpy_of(y), group_norm_reference(x, G, w, b, 1e-5), rtol=1e-10, atol=1e-10)
    fn = (lambda x, w, b: F.group_norm(x, G, w, b)) if affine else (lambda x: F.group_norm(x, G))
    assert tinygan.gradcheck(fn, inputs if affine else inputs[:1])


def test_group_and_instance_norm_second_derivatives():
    rng = np.random.default_rng(3)
    x, w, b = t64(rng.standard_normal((2, 4, 3))), t64(rng.standard_normal(4)), t64(rng.standard_normal(4))
    assert tinygan.gradgradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), [x, w, b])
    assert tinygan.gradgradcheck(lambda x, w: F.instance_norm(x, weight=w), [x, w])


@few
@given(N=st.integers(1, 3), C=st.integers(1, 3), spatial=st.lists(st.integers(2, 4), min_size=1, max_size=2),
       momentum=st.sampled_from([0.1, 0.5]), seed=st.integers(0, 99))
def test_instance_norm_forward_running_stats_and_gradcheck(N, C, spatial, momentum, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C) + tuple(spatial))
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    running_mean, running_var = rm.copy(), rv.copy()
    y = F.instance_norm(t64(x), running_mean, running_var, momentum=momentum)
    np.testing.assert_allclose(numpy_of(y), group_norm_reference(x, C, None, None, 1e-5), rtol=1e-10, atol=1e-10)
    axes = tuple(range(2, x.ndim))
    np.testing.assert_allclose(running_mean, (1 - momentum) * rm + momentum * x.mean(axes).mean(0))
    np.testing.assert_allclose(running_var, (1 - momentum) * rv + momentum * x.var(axes, ddof=1).mean(0))
    evaluated = F.instance_norm(t64(x), running_mean, running_var, use_input_stats=False)
    shape = (1, C) + (1,) * len(spatial)
    expected = (x - running_mean.reshape(shape)) / np.sqrt(running_var.reshape(shape) + 1e-5)
    np.testing.assert_allclose(numpy_of(evaluated), expected, rtol=1e-10, atol=1e-10)
    w, b = t64(rng.standard_normal(C)), t64(rng.standard_normal(C))
    assert tinygan.gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), [t64(x), w, b])


def test_norm_errors_name_the_layer_and_the_numbers():
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"group_norm: the number of channels \(6\) .* divisible by num_groups "
                                         r"\(4\)"):
        F.group_norm(tinygan.randn(2, 6, 3), 4)
    with pytest.raises(ValueError, match=r"GroupNorm\(2, 4, .*\) expected input \(N, 4, \*\), got \(2, 6\)"):
        nn.GroupNorm(2, 4)(tinygan.randn(2, 6))
    with pytest.raises(ValueError, match=r"InstanceNorm2d\(3, .*\) expected input \(N, 3, H, W\) or \(3, H, W\), "
                                         r"got \(2, 3\)"):
        nn.InstanceNorm2d(3)(tinygan.randn(2, 3))
    with pytest.raises(ValueError, match=r"InstanceNorm1d\(3, .*affine=True.*\) expected input's size at dim=1 to "
                                         r"match num_features \(3\), got 4"):
        nn.InstanceNorm1d(3, affine=True)(tinygan.randn(2, 4, 5))
    with pytest.warns(UserWarning, match="dim=1 to match num_features"):
        nn.InstanceNorm1d(3)(tinygan.randn(2, 4, 5))
    with pytest.raises(ValueError, match=r"instance_norm: expected more than 1 spatial element when training"):
        F.instance_norm(tinygan.randn(2, 3, 1))
    with pytest.raises(TypeError, match=r"layer parameters must have a floating point dtype, got dtype=int64"):
        nn.GroupNorm(1, 2, dtype=np.int64)


@needs_torch
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("G", [1, 2, 6])
def test_group_norm_matches_torch(G, affine):
    tm, m = torch.nn.GroupNorm(G, 6, affine=affine), nn.GroupNorm(G, 6, affine=affine)
    assert list(m.state_dict()) == list(tm.state_dict()) and repr(m) == repr(tm)
    if affine:
        randomise_affine(tm)
        copy_torch_state(tm, m)
    assert_same_step(tm, m, (3, 6, 4, 5))
    assert_same_step(tm, m, (3, 6))


@needs_torch
@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("affine,track", [(False, False), (True, False), (False, True), (True, True)])
def test_instance_norm_matches_torch(dims, affine, track):
    torch_class = {1: torch.nn.InstanceNorm1d, 2: torch.nn.InstanceNorm2d}[dims]
    our_class = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d}[dims]
    tm, m = torch_class(4, affine=affine, track_running_stats=track), our_class(4, affine=affine,
                                                                                track_running_stats=track)
    assert list(m.state_dict()) == list(tm.state_dict()) and repr(m) == repr(tm)
    if affine:
        randomise_affine(tm)
        copy_torch_state(tm, m)
    shape = (3, 4) + (5, 6)[:dims]
    for _ in range(2):                                           # two steps: the running stats move twice
        assert_same_step(tm, m, shape)
    assert_same_step(tm, m, shape[1:])                           # one sample without the batch axis
    for name, value in tm.state_dict().items():
        np.testing.assert_allclose(numpy_of(m.state_dict(keep_vars=True)[name]), value.numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=name)
    tm.eval(), m.eval()
    assert_same_step(tm, m, shape)


# ==================================================================================================
# Adaptive pooling
# ==================================================================================================
def adaptive_reference(x, out_h, out_w, reduce):
    """PyTorch's windows, one output cell at a time."""
    H, W = x.shape[-2:]
    y = np.empty(x.shape[:-2] + (out_h, out_w))
    for i in range(out_h):
        h0, h1 = (i * H) // out_h, -(-(i + 1) * H // out_h)
        for j in range(out_w):
            w0, w1 = (j * W) // out_w, -(-(j + 1) * W // out_w)
            y[..., i, j] = reduce(x[..., h0:h1, w0:w1], axis=(-2, -1))
    return y


sizes = st.tuples(st.integers(1, 7), st.integers(1, 7))


@few
@given(hw=sizes, out=st.tuples(st.one_of(st.none(), st.integers(1, 7)), st.integers(1, 7)),
       batched=st.booleans(), seed=st.integers(0, 99))
def test_adaptive_avg_pool2d_forward_and_gradcheck(hw, out, batched, seed):
    shape = ((2,) if batched else ()) + (3,) + hw
    x = np.random.default_rng(seed).standard_normal(shape)
    y = F.adaptive_avg_pool2d(t64(x), out)
    out_h = hw[0] if out[0] is None else out[0]
    np.testing.assert_allclose(numpy_of(y), adaptive_reference(x, out_h, out[1], np.mean), rtol=1e-12, atol=1e-12)
    assert tinygan.gradcheck(lambda x: F.adaptive_avg_pool2d(x, out), [t64(x)])


@few
@given(hw=sizes, out=sizes, batched=st.booleans(), seed=st.integers(0, 99))
def test_adaptive_max_pool2d_forward_indices_and_gradcheck(hw, out, batched, seed):
    shape = ((2,) if batched else ()) + (3,) + hw
    x = np.random.default_rng(seed).permutation(np.prod(shape)).reshape(shape) / 10.0   # no ties
    y, indices = F.adaptive_max_pool2d(t64(x), out, return_indices=True)
    np.testing.assert_array_equal(numpy_of(y), adaptive_reference(x, *out, np.max))
    flat = x.reshape(x.shape[:-2] + (-1,))
    np.testing.assert_array_equal(np.take_along_axis(flat, numpy_of(indices).reshape(flat.shape[:-1] + (-1,)), -1),
                                  numpy_of(y).reshape(flat.shape[:-1] + (-1,)))
    assert indices.dtype == np.int64
    assert tinygan.gradcheck(lambda x: F.adaptive_max_pool2d(x, out), [t64(x)])


def test_adaptive_pool_second_derivatives_and_stand_in(device):
    x = t64(np.random.default_rng(0).standard_normal((2, 2, 5, 4)), device)
    assert tinygan.gradgradcheck(lambda x: F.adaptive_avg_pool2d(x, (3, 2)), [x])
    assert tinygan.gradgradcheck(lambda x: F.adaptive_max_pool2d(x, (3, 3)) * 1.0, [x])
    y = nn.AdaptiveAvgPool2d(1)(tinygan.randn(2, 3, 4, 4, device=device))
    assert y.shape == (2, 3, 1, 1) and y.device == device


def test_adaptive_pool_errors():
    with pytest.raises(ValueError, match=r"AdaptiveAvgPool2d\(output_size=2\) expected input \(N, C, H, W\) or "
                                         r"\(C, H, W\), got \(4, 4\)"):
        nn.AdaptiveAvgPool2d(2)(tinygan.randn(4, 4))
    with pytest.raises(ValueError, match=r"adaptive_max_pool2d: output_size must be an int or a pair"):
        F.adaptive_max_pool2d(tinygan.randn(1, 4, 4), (1, 2, 3))
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: output_size must be positive, got 0"):
        F.adaptive_avg_pool2d(tinygan.randn(1, 4, 4), 0)


@needs_torch
@pytest.mark.parametrize("out", [1, 3, (2, None), (None, 4), (5, 7), (9, 2)])
@pytest.mark.parametrize("layer", ["AdaptiveAvgPool2d", "AdaptiveMaxPool2d"])
def test_adaptive_pools_match_torch(layer, out):
    tm, m = getattr(torch.nn, layer)(out), getattr(nn, layer)(out)
    assert repr(m) == repr(tm)
    assert_same_step(tm, m, (2, 3, 7, 5))
    assert_same_step(tm, m, (3, 6, 9))
    if layer == "AdaptiveMaxPool2d":
        tx, x = torch_and_tinygan((2, 3, 7, 5))
        np.testing.assert_array_equal(numpy_of(F.adaptive_max_pool2d(x, out, True)[1]),
                                      torch.nn.functional.adaptive_max_pool2d(tx, out, True)[1].numpy())


# ==================================================================================================
# Pixel shuffle
# ==================================================================================================
def pixel_shuffle_reference(x, r):
    """out[..., c, h*r + i, w*r + j] = x[..., c*r*r + i*r + j, h, w], element by element."""
    *lead, C, H, W = x.shape
    y = np.empty(tuple(lead) + (C // (r * r), H * r, W * r))
    for c in range(C // (r * r)):
        for i in range(r):
            for j in range(r):
                y[..., c, i::r, j::r] = x[..., c * r * r + i * r + j, :, :]
    return y


@few
@given(lead=st.lists(st.integers(1, 2), min_size=0, max_size=2), c=st.integers(1, 3), r=st.integers(1, 3),
       hw=st.tuples(st.integers(1, 3), st.integers(1, 3)), seed=st.integers(0, 99))
def test_pixel_shuffle_and_unshuffle_forward_inverse_and_gradcheck(lead, c, r, hw, seed):
    x = np.random.default_rng(seed).standard_normal(tuple(lead) + (c * r * r,) + hw)
    y = F.pixel_shuffle(t64(x), r)
    np.testing.assert_array_equal(numpy_of(y), pixel_shuffle_reference(x, r))
    np.testing.assert_array_equal(numpy_of(F.pixel_unshuffle(y, r)), x)
    assert tinygan.gradcheck(lambda x: F.pixel_shuffle(x, r), [t64(x)])
    assert tinygan.gradcheck(lambda y: F.pixel_unshuffle(y, r), [t64(numpy_of(y))])


def test_pixel_shuffle_errors():
    with pytest.raises(ValueError, match=r"PixelShuffle\(upscale_factor=2\): pixel_shuffle: expects input "
                                         r"\(\*, C \* 4, H, W\) .* got shape \(1, 6, 2, 2\)"):
        nn.PixelShuffle(2)(tinygan.randn(1, 6, 2, 2))
    with pytest.raises(ValueError, match=r"pixel_unshuffle: expects input .* divide by downscale_factor = 2, "
                                         r"got shape \(1, 1, 3, 4\)"):
        F.pixel_unshuffle(tinygan.randn(1, 1, 3, 4), 2)
    with pytest.raises(ValueError, match=r"PixelShuffle: upscale_factor must be a positive int, got 0"):
        nn.PixelShuffle(0)


@needs_torch
@pytest.mark.parametrize("r", [1, 2, 3])
def test_pixel_shuffles_match_torch(r):
    for tm, m, shape in ((torch.nn.PixelShuffle(r), nn.PixelShuffle(r), (2, 2 * r * r, 3, 4)),
                         (torch.nn.PixelUnshuffle(r), nn.PixelUnshuffle(r), (2, 3, 2 * r, 3 * r))):
        assert repr(m) == repr(tm)
        assert_same_step(tm, m, shape, close=0)


# ==================================================================================================
# ModuleDict, ParameterList, ParameterDict
# ==================================================================================================
def test_module_dict_keeps_order_and_registers():
    d = nn.ModuleDict({"encoder": nn.Linear(3, 2), "decoder": nn.Linear(2, 3)})
    d["act"] = nn.ReLU()
    d.update([("head", nn.Linear(3, 1))])
    assert list(d) == list(d.keys()) == ["encoder", "decoder", "act", "head"] and len(d) == 4 and "act" in d
    assert list(d.state_dict()) == ["encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias",
                                    "head.weight", "head.bias"]
    assert isinstance(d.pop("act"), nn.ReLU) and "act" not in d and len(list(d.parameters())) == 6
    with pytest.raises(TypeError, match=r"ModuleDict.update: element 0 should be a \(key, value\) pair"):
        d.update([nn.ReLU()])


def test_parameter_list_and_dict_register_tensors_as_parameters():
    pl = nn.ParameterList([nn.Parameter(tinygan.randn(2)), tinygan.randn(3)])
    pl.append(tinygan.zeros(4))
    assert [tuple(p.shape) for p in pl] == [(2,), (3,), (4,)] and len(pl) == 3
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in pl)
    assert list(pl.state_dict()) == ["0", "1", "2"] and len(list(pl.parameters())) == 3
    assert pl[-1] is pl[2] and len(pl[1:]) == 2
    pd = nn.ParameterDict({"scale": tinygan.ones(2)})
    pd["shift"] = tinygan.zeros(2)
    assert list(pd) == ["scale", "shift"] and list(pd.state_dict()) == ["scale", "shift"]
    assert isinstance(pd["shift"], nn.Parameter) and pd.pop("scale").shape == (2,) and list(pd.keys()) == ["shift"]
    with pytest.raises(KeyError):
        pd["scale"]


def mixture(nn_, zeros):
    """Containers inside containers, built the same way from tinygan.nn or torch.nn."""
    return nn_.ModuleDict({"experts": nn_.ModuleDict({"a": nn_.Linear(2, 2), "b": nn_.Linear(2, 2)}),
                           "gates": nn_.ParameterList([nn_.Parameter(zeros(2)), zeros(3)]),
                           "extra": nn_.ParameterDict({"bias": nn_.Parameter(zeros(2))})})


@needs_torch
def test_container_state_dict_keys_match_torch():
    ours, theirs = mixture(nn, tinygan.zeros), mixture(torch.nn, torch.zeros)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


# ==================================================================================================
# device= and dtype= layer arguments
# ==================================================================================================
LAYERS = [lambda **kw: nn.Linear(3, 2, **kw), lambda **kw: nn.Conv2d(2, 3, 3, **kw),
          lambda **kw: nn.ConvTranspose2d(2, 3, 3, **kw), lambda **kw: nn.BatchNorm1d(3, **kw),
          lambda **kw: nn.BatchNorm2d(3, **kw), lambda **kw: nn.LayerNorm(3, **kw),
          lambda **kw: nn.Embedding(4, 3, **kw), lambda **kw: nn.GroupNorm(1, 3, **kw),
          lambda **kw: nn.InstanceNorm2d(3, affine=True, track_running_stats=True, **kw)]


@pytest.mark.parametrize("make", LAYERS)
def test_dtype_and_device_arguments_make_float64_parameters_on_the_device(make):
    layer = make(device="cpu", dtype=tinygan.float64)
    floats = [t for t in list(layer.parameters()) + list(layer.buffers()) if t.dtype.kind == "f"]
    assert floats and all(t.dtype == np.float64 and t.device == "cpu" for t in floats)
    assert all(t.dtype == np.int64 for t in layer.buffers() if t.dtype.kind != "f")
    assert all(t.dtype == np.float32 for t in make().parameters())


def test_dtype_arguments_on_the_stand_in_gpu(standin):
    layer = nn.Linear(3, 2, True, "cuda", tinygan.float64)
    assert layer.weight.device == "gpu" and layer.weight.dtype == np.float64
    assert layer(tinygan.randn(4, 3, device="gpu", dtype=tinygan.float64)).dtype == np.float64


def test_linear_subclass_passing_device_and_dtype_positionally():
    class Layer(nn.Linear):                                      # as pytorch/examples mnist_forward_forward
        def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
            super().__init__(in_features, out_features, bias, device, dtype)
    layer = Layer(4, 3, False, None, tinygan.float64)
    assert layer.bias is None and layer.weight.dtype == np.float64 and layer.weight.shape == (3, 4)
    assert layer(t64(np.ones((2, 4)))).dtype == np.float64


def test_embedding_takes_pytorch_arguments_positionally():
    weight = tinygan.randn(4, 3)
    e = nn.Embedding(4, 3, None, None, 2.0, False, False, weight, True)
    assert e.weight.array is weight.array and not e.weight.requires_grad
    with pytest.raises(ValueError, match=r"Embedding: _weight must have shape \(5, 3\), got \(4, 3\)"):
        nn.Embedding(5, 3, _weight=weight)


@needs_torch
def test_the_layer_signatures_match_torch():
    import inspect
    for name in ["Linear", "Conv2d", "ConvTranspose2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Embedding",
                 "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
                 "PixelShuffle", "PixelUnshuffle", "ModuleDict", "ParameterList", "ParameterDict"]:
        ours = inspect.signature(getattr(nn, name).__init__).parameters
        theirs = inspect.signature(getattr(torch.nn, name).__init__).parameters
        assert [(p.name, p.kind, p.default) for p in ours.values()] == \
            [(p.name, p.kind, p.default) for p in theirs.values()], name


def test_warnings_stay_quiet_for_matching_channels():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.InstanceNorm2d(3)(tinygan.randn(2, 3, 4, 4))

"""tinygan.nn bookkeeping: Module registration, names, init, modes, devices/dtypes, state_dict, repr, errors.

Layer maths (forward references, gradchecks, BatchNorm statistics) is in test_nn_layers.py.
"""
import collections
import copy
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygan
from tinygan import nn
from tinygan.nn import init


# ==================================================================================================
# Models used throughout, with the names PyTorch gives their parameters
# ==================================================================================================
def mlp_generator():
    return nn.Sequential(nn.Linear(100, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
                         nn.Linear(512, 784), nn.Tanh())


MLP_NAMES = ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
MLP_SHAPES = [(256, 100), (256,), (512, 256), (512,), (784, 512), (784,)]


def dcgan_generator(nz=16, ngf=8):
    return nn.Sequential(
        nn.Unflatten(1, (nz, 1, 1)),
        nn.ConvTranspose2d(nz, ngf * 2, 7, 1, 0, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, 1, 4, 2, 1), nn.Tanh())


DCGAN_G_NAMES = ["1.weight", "2.weight", "2.bias", "4.weight", "5.weight", "5.bias", "7.weight", "7.bias"]
DCGAN_G_SHAPES = [(16, 16, 7, 7), (16,), (16,), (16, 8, 4, 4), (8,), (8,), (8, 1, 4, 4), (1,)]
DCGAN_G_KEYS = ["1.weight", "2.weight", "2.bias", "2.running_mean", "2.running_var", "2.num_batches_tracked",
                "4.weight", "5.weight", "5.bias", "5.running_mean", "5.running_var", "5.num_batches_tracked",
                "7.weight", "7.bias"]


class Discriminator(nn.Module):
    def __init__(self, ndf=8):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True))
        self.head = nn.Linear(ndf * 2 * 7 * 7, 1)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


DCGAN_D_NAMES = ["features.0.weight", "features.2.weight", "features.3.weight", "features.3.bias",
                 "head.weight", "head.bias"]
DCGAN_D_SHAPES = [(8, 1, 4, 4), (16, 8, 4, 4), (16,), (16,), (1, 784), (1,)]


# ==================================================================================================
# Parameter and registration
# ==================================================================================================
def test_parameter_is_a_tensor_that_requires_grad_and_shares_data():
    array = np.arange(3, dtype=np.float32)
    p = nn.Parameter(array)
    assert isinstance(p, tinygan.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.array is array
    assert not nn.Parameter(array, requires_grad=False).requires_grad
    assert nn.Parameter(tinygan.ones(2)).dtype == np.float32
    assert repr(p).startswith("Parameter containing:\ntensor([0., 1., 2.]")
    assert not isinstance(p * 2, nn.Parameter)           # results of ops are plain tensors


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(1, dtype=np.float32))
        self.net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        self.register_buffer("steps", tinygan.zeros(()))
        self.offset = nn.Parameter(np.zeros(2, dtype=np.float32))
        self.plain = [nn.Linear(2, 2)]                   # a Python list hides its modules, as in PyTorch

    def forward(self, x):
        return self.net(x) * self.scale + self.offset


def test_registration_follows_definition_order_with_dotted_names():
    m = Net()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "offset", "net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"]
    assert [n for n, _ in m.named_buffers()] == ["steps"]
    assert all(isinstance(p, nn.Parameter) for p in m.parameters())
    assert not any(b is p for b in m.buffers() for p in m.parameters())     # buffers are not parameters
    assert [type(c).__name__ for c in m.children()] == ["Sequential"]
    assert [n for n, _ in m.named_modules()] == ["", "net", "net.0", "net.1", "net.2"]
    assert len(list(m.modules())) == 5
    assert [n for n, _ in m.named_parameters(recurse=False)] == ["scale", "offset"]
    assert list(m.state_dict()) == ["scale", "offset", "steps", "net.0.weight", "net.0.bias", "net.2.weight",
                                    "net.2.bias"]


def test_reassignment_and_deletion_update_the_registries():
    m = Net()
    m.scale = nn.Parameter(np.full(1, 2, dtype=np.float32))   # replacing a parameter keeps its place
    assert [n for n, _ in m.named_parameters()][:2] == ["scale", "offset"]
    assert float(m.scale.array[0]) == 2
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'scale'"):
        m.scale = tinygan.ones(1)
    with pytest.raises(TypeError, match="buffer 'steps'"):
        m.steps = np.zeros(())
    m.steps = tinygan.ones(())
    assert float(m.state_dict()["steps"]) == 1
    del m.offset
    assert "offset" not in dict(m.named_parameters())
    m.register_parameter("extra", None)
    assert "extra" not in dict(m.named_parameters()) and m.extra is None
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nothing'"):
        m.nothing


def test_assigning_a_parameter_before_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(1, dtype=np.float32))

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Broken()


def test_shared_parameters_are_listed_once():
    layer = nn.Linear(3, 3)
    m = nn.Sequential(layer, nn.ReLU(), layer)
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias"]


def test_non_persistent_buffers_are_not_saved():
    m = nn.Module()
    m.register_buffer("a", tinygan.zeros(2))
    m.register_buffer("b", tinygan.zeros(2), persistent=False)
    assert list(m.state_dict()) == ["a"] and len(list(m.buffers())) == 2


@pytest.mark.parametrize("make, names, shapes", [(mlp_generator, MLP_NAMES, MLP_SHAPES),
                                                 (dcgan_generator, DCGAN_G_NAMES, DCGAN_G_SHAPES),
                                                 (Discriminator, DCGAN_D_NAMES, DCGAN_D_SHAPES)])
def test_parameter_names_and_shapes_match_pytorch(make, names, shapes):
    m = make()
    assert [n for n, _ in m.named_parameters()] == names
    assert [tuple(p.shape) for p in m.parameters()] == shapes
    assert all(p.dtype == np.float32 and p.device == "cpu" and p.requires_grad for p in m.parameters())


def test_state_dict_keys_put_buffers_after_each_layers_parameters():
    assert list(dcgan_generator().state_dict()) == DCGAN_G_KEYS
    keys = list(Discriminator().state_dict())
    assert keys[2:7] == ["features.3.weight", "features.3.bias", "features.3.running_mean",
                         "features.3.running_var", "features.3.num_batches_tracked"]


# ==================================================================================================
# Containers
# ==================================================================================================
def test_sequential_indexing_len_iteration_and_append():
    m = mlp_generator()
    assert len(m) == 6 and isinstance(m[0], nn.Linear) and isinstance(m[-1], nn.Tanh)
    assert [type(x).__name__ for x in m] == ["Linear", "LeakyReLU", "Linear", "LeakyReLU", "Linear", "Tanh"]
    head = m[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is m[0]
    with pytest.raises(IndexError, match="out of range for Sequential of length 6"):
        m[6]
    m.append(nn.Sigmoid())
    assert len(m) == 7 and list(m._modules)[-1] == "6"
    named = nn.Sequential(collections.OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.ReLU())]))
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    assert named[0] is named.fc


def test_sequential_runs_modules_in_order():
    class AddOne(nn.Module):
        def forward(self, x):
            return x + 1

    class Double(nn.Module):
        def forward(self, x):
            return x * 2

    x = tinygan.tensor([1.0, 2.0])
    np.testing.assert_array_equal(nn.Sequential(AddOne(), Double())(x).numpy(), [4.0, 6.0])
    np.testing.assert_array_equal(nn.Sequential(Double(), AddOne())(x).numpy(), [3.0, 5.0])


def test_module_list_registers_its_modules():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    layers.append(nn.Linear(2, 3))
    layers.extend([nn.ReLU()])
    layers.insert(0, nn.Linear(1, 2))
    assert len(layers) == 5 and isinstance(layers[-1], nn.ReLU)
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert tuple(layers[0].weight.shape) == (2, 1) and tuple(layers[3].weight.shape) == (3, 2)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    with pytest.raises(NotImplementedError, match="iterate"):
        layers(tinygan.ones(2))


# ==================================================================================================
# Initialisation
# ==================================================================================================
def _fan_in_bound(w):
    fan_in = w.shape[1] * int(np.prod(w.shape[2:]))
    return 1 / math.sqrt(fan_in)


@given(st.integers(1, 40), st.integers(1, 40), st.booleans())
def test_linear_init_is_within_one_over_sqrt_fan_in(fan_in, fan_out, bias):
    layer = nn.Linear(fan_in, fan_out, bias=bias)
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(layer.weight.array).max() <= bound
    if bias:
        assert tuple(layer.bias.shape) == (fan_out,) and np.abs(layer.bias.array).max() <= bound
    else:
        assert layer.bias is None and len(list(layer.parameters())) == 1


@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 4), st.booleans())
def test_conv_init_bounds_use_pytorchs_fan_in(cin, cout, k, transposed):
    layer = (nn.ConvTranspose2d if transposed else nn.Conv2d)(cin, cout, k)
    w = layer.weight.array
    assert w.shape == ((cin, cout, k, k) if transposed else (cout, cin, k, k))
    bound = 1 / math.sqrt((cout if transposed else cin) * k * k)    # weight.shape[1] * kH * kW
    assert np.abs(w).max() <= bound and np.abs(layer.bias.array).max() <= bound


@pytest.mark.parametrize("make, fan_in", [(lambda: nn.Linear(256, 512), 256),
                                          (lambda: nn.Conv2d(32, 64, 4), 32 * 16),
                                          (lambda: nn.ConvTranspose2d(64, 16, 4), 16 * 16)])
def test_init_fills_the_whole_uniform_range(make, fan_in):
    w = make().weight.array
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound                      # the range used is this one, not a smaller one
    assert abs(w.std() - bound / math.sqrt(3)) < 0.03 * bound   # std of U(-b, b) is b / sqrt(3)
    assert abs(w.mean()) < 0.03 * bound


def test_init_is_reproducible_from_the_seed():
    tinygan.manual_seed(3)
    a = mlp_generator().state_dict()
    tinygan.manual_seed(3)
    b = mlp_generator().state_dict()
    tinygan.manual_seed(4)
    c = mlp_generator().state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["0.weight"], c["0.weight"])


def test_other_layers_default_init():
    bn = nn.BatchNorm2d(5)
    np.testing.assert_array_equal(bn.weight.array, np.ones(5))
    np.testing.assert_array_equal(bn.bias.array, np.zeros(5))
    np.testing.assert_array_equal(bn.running_mean.array, np.zeros(5))
    np.testing.assert_array_equal(bn.running_var.array, np.ones(5))
    assert bn.num_batches_tracked.dtype == np.int64 and bn.num_batches_tracked.shape == ()
    assert not bn.running_mean.requires_grad
    e = nn.Embedding(100, 200).weight.array
    assert e.shape == (100, 200) and e.dtype == np.float32
    assert abs(e.std() - 1) < 0.02 and abs(e.mean()) < 0.02 and np.abs(e).max() > 3    # N(0, 1), not uniform


def test_init_functions():
    t = tinygan.zeros(200, 300)
    init.uniform_(t, -2.0, 3.0)
    assert t.array.min() >= -2 and t.array.max() < 3 and abs(t.array.mean() - 0.5) < 0.05
    init.normal_(t, 1.0, 2.0)
    assert abs(t.array.mean() - 1) < 0.05 and abs(t.array.std() - 2) < 0.05 and t.dtype == np.float32
    assert init.zeros_(t) is t and not t.array.any()
    assert init.ones_(t).array.min() == 1 and init.constant_(t, 0.5).array.max() == 0.5
    init.kaiming_normal_(t, mode="fan_in", nonlinearity="relu")
    assert abs(t.array.std() - math.sqrt(2 / 300)) < 0.02 * math.sqrt(2 / 300)
    init.xavier_uniform_(t)
    assert np.abs(t.array).max() <= math.sqrt(6 / 500)
    init.kaiming_uniform_(t, a=math.sqrt(5))
    assert np.abs(t.array).max() <= 1 / math.sqrt(300)
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.kaiming_uniform_(tinygan.zeros(3))
    d = tinygan.zeros(1000, dtype=np.float64)
    assert init.normal_(d).dtype == np.float64


# ==================================================================================================
# Modes, gradients, dtype and device
# ==================================================================================================
def test_train_and_eval_recurse_and_return_self():
    m = Discriminator()
    assert all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    assert m.train() is m and all(x.training for x in m.modules())
    m.features.eval()
    assert m.training and not m.features[3].training and m.head.training


def test_zero_grad_set_to_none_false_fills_existing_grads_in_place():
    m = mlp_generator()
    params = list(m.parameters())
    flat = np.ones(sum(p.array.size for p in params[:-1]), dtype=np.float32)
    offset = 0
    for p in params[:-1]:                                      # the last grad stays None
        p.grad = tinygan.Tensor.from_array(flat[offset:offset + p.array.size].reshape(p.shape))
        offset += p.array.size
    views = [p.grad.array for p in params[:-1]]
    m.zero_grad(set_to_none=False)
    assert not flat.any()                                      # the flat buffer itself was zeroed
    assert all(p.grad.array is v for p, v in zip(params, views))
    assert params[-1].grad is None
    m.zero_grad()                                              # PyTorch 2's default: set_to_none=True
    assert all(p.grad is None for p in params)


def test_requires_grad_and_apply():
    m = Discriminator()
    assert m.requires_grad_(False) is m and not any(p.requires_grad for p in m.parameters())
    m.requires_grad_()
    assert all(p.requires_grad for p in m.parameters())
    seen = []

    def weights_init(module):
        seen.append(type(module).__name__)
        if isinstance(module, nn.Conv2d):
            init.normal_(module.weight, 0.0, 0.02)

    assert m.apply(weights_init) is m
    assert seen[0] == "Conv2d" and seen[-1] == "Discriminator"
    assert np.abs(m.features[0].weight.array).max() < 0.15


def test_to_dtype_casts_floating_parameters_buffers_and_grads():
    m = dcgan_generator()
    m[1].weight.grad = tinygan.ones(*m[1].weight.shape)
    assert m.double() is m
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert m[1].weight.grad.dtype == np.float64
    assert m[2].running_mean.dtype == np.float64 and m[2].num_batches_tracked.dtype == np.int64
    m.to(np.float32)
    assert all(t.dtype == np.float32 for t in list(m.parameters()) + [m[2].running_var])
    m.to(dtype=np.float64)
    assert m[7].bias.dtype == np.float64
    assert m.float().to("cpu") is m and m[7].bias.dtype == np.float32
    with pytest.raises(TypeError, match="floating point"):
        m.to(np.int32)
    with pytest.raises(ValueError, match="unknown device"):
        m.to("tpu")


def test_to_device_moves_everything(device):
    m = dcgan_generator().to(device)
    assert all(t.device == device for t in list(m.parameters()) + list(m.buffers()))
    state = m.state_dict()
    m.cpu()
    assert all(t.device == "cpu" for t in list(m.parameters()) + list(m.buffers()))
    m.load_state_dict(state)                                   # arrays from another device are moved
    assert all(np.array_equal(tinygan.backend.asnumpy(state[k]), v) for k, v in m.state_dict().items())


def test_deepcopy_gives_independent_parameters():
    m = mlp_generator()
    twin = copy.deepcopy(m)
    assert [n for n, _ in twin.named_parameters()] == MLP_NAMES
    twin[0].weight.array[...] = 0
    assert m[0].weight.array.any() and isinstance(twin[0].weight, nn.Parameter)


# ==================================================================================================
# state_dict and load_state_dict
# ==================================================================================================
def test_state_dict_holds_copies():
    m = mlp_generator()
    state = m.state_dict()
    assert isinstance(state, collections.OrderedDict) and list(state) == MLP_NAMES
    state["0.weight"][...] = 0
    assert m[0].weight.array.any()
    kept = m.state_dict(keep_vars=True)
    assert kept["0.weight"] is m[0].weight


def test_load_state_dict_copies_in_place_from_arrays_or_tensors():
    tinygan.manual_seed(0)
    source = dcgan_generator()
    source[2].running_mean.array[...] = 3
    source[2].num_batches_tracked.array[...] = 7
    tinygan.manual_seed(1)
    target = dcgan_generator()
    arrays = {id(t): t.array for t in list(target.parameters()) + list(target.buffers())}
    state = source.state_dict()
    mixed = {k: (tinygan.tensor(v) if i % 2 else v.astype(np.float64) if v.dtype == np.float32 else v)
             for i, (k, v) in enumerate(state.items())}
    result = target.load_state_dict(mixed)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for t in list(target.parameters()) + list(target.buffers()):
        assert t.array is arrays[id(t)]                        # same arrays: optimizer views stay valid
    for key, value in target.state_dict().items():
        np.testing.assert_array_equal(value, state[key])
        assert value.dtype == state[key].dtype                 # float64 values land as float32
    assert int(target[2].num_batches_tracked.array) == 7


def test_strict_load_lists_every_problem_in_one_error_and_copies_nothing():
    m = dcgan_generator()
    before = m.state_dict()
    state = m.state_dict()
    del state["2.bias"], state["5.running_var"]
    state["7.weight"] = np.zeros((8, 2, 4, 4), dtype=np.float32)
    state["1.weight"] = np.zeros((16, 16, 7, 7), dtype=np.float32)     # good, but must not be copied
    state["9.weight"] = np.zeros(3)
    state["head.bias"] = np.zeros(1)
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(state)
    message = str(info.value)
    assert "Error(s) in loading state_dict for Sequential" in message
    assert 'Missing key(s) in state_dict: "2.bias", "5.running_var".' in message
    assert 'Unexpected key(s) in state_dict: "9.weight", "head.bias".' in message
    assert ("size mismatch for 7.weight: copying a param with shape (8, 2, 4, 4) from checkpoint, "
            "the shape in current model is (8, 1, 4, 4).") in message
    assert all(np.array_equal(v, before[k]) for k, v in m.state_dict().items())


def test_non_strict_load_skips_missing_and_unexpected_but_not_mismatches():
    m = mlp_generator()
    state = {"0.weight": np.zeros((256, 100)), "extra": np.zeros(2)}
    result = m.load_state_dict(state, strict=False)
    assert result.missing_keys == MLP_NAMES[1:] and result.unexpected_keys == ["extra"]
    assert not m[0].weight.array.any()
    with pytest.raises(RuntimeError, match="size mismatch for 0.bias"):
        m.load_state_dict({"0.bias": np.zeros(3)}, strict=False)
    with pytest.raises(TypeError, match="dict of name -> array"):
        m.load_state_dict([1, 2])


def test_load_state_dict_from_an_npz_file(tmp_path):
    tinygan.manual_seed(0)
    a = mlp_generator()
    np.savez(tmp_path / "g.npz", **a.state_dict())
    tinygan.manual_seed(1)
    b = mlp_generator()
    with np.load(tmp_path / "g.npz") as saved:
        b.load_state_dict(saved)
    assert all(np.array_equal(v, a.state_dict()[k]) for k, v in b.state_dict().items())


# ==================================================================================================
# repr
# ==================================================================================================
def test_repr_matches_pytorchs_layout():
    assert repr(mlp_generator()) == (
        "Sequential(\n"
        "  (0): Linear(in_features=100, out_features=256, bias=True)\n"
        "  (1): LeakyReLU(negative_slope=0.2)\n"
        "  (2): Linear(in_features=256, out_features=512, bias=True)\n"
        "  (3): LeakyReLU(negative_slope=0.2)\n"
        "  (4): Linear(in_features=512, out_features=784, bias=True)\n"
        "  (5): Tanh()\n"
        ")")
    assert repr(Discriminator()) == (
        "Discriminator(\n"
        "  (features): Sequential(\n"
        "    (0): Conv2d(1, 8, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)\n"
        "    (1): LeakyReLU(negative_slope=0.2, inplace=True)\n"
        "    (2): Conv2d(8, 16, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)\n"
        "    (3): BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)\n"
        "    (4): LeakyReLU(negative_slope=0.2, inplace=True)\n"
        "  )\n"
        "  (head): Linear(in_features=784, out_features=1, bias=True)\n"
        ")")


@pytest.mark.parametrize("layer, text", [
    (nn.ConvTranspose2d(16, 8, 4, 2, 1, 1), "ConvTranspose2d(16, 8, kernel_size=(4, 4), stride=(2, 2), "
                                            "padding=(1, 1), output_padding=(1, 1))"),
    (nn.Conv2d(3, 16, (3, 5), stride=(1, 2)), "Conv2d(3, 16, kernel_size=(3, 5), stride=(1, 2))"),
    (nn.BatchNorm1d(4, momentum=None, affine=False), "BatchNorm1d(4, eps=1e-05, momentum=None, affine=False, "
                                                     "bias=False, track_running_stats=True)"),
    (nn.ReLU(), "ReLU()"), (nn.ReLU(True), "ReLU(inplace=True)"), (nn.LeakyReLU(), "LeakyReLU(negative_slope=0.01)"),
    (nn.Sigmoid(), "Sigmoid()"), (nn.Dropout(), "Dropout(p=0.5, inplace=False)"),
    (nn.Flatten(), "Flatten(start_dim=1, end_dim=-1)"),
    (nn.Unflatten(1, (128, 7, 7)), "Unflatten(dim=1, unflattened_size=(128, 7, 7))"),
    (nn.Embedding(10, 3), "Embedding(10, 3)"), (nn.Linear(2, 3, bias=False), "Linear(in_features=2, "
                                                                             "out_features=3, bias=False)"),
    (nn.BCEWithLogitsLoss(), "BCEWithLogitsLoss()"), (nn.MSELoss(), "MSELoss()"),
    (nn.ModuleList([nn.Tanh()]), "ModuleList(\n  (0): Tanh()\n)"), (nn.Sequential(), "Sequential()"),
])
def test_layer_repr(layer, text):
    assert repr(layer) == text


# ==================================================================================================
# Errors that name the layer and the shapes
# ==================================================================================================
@pytest.mark.parametrize("layer, x, message", [
    (nn.Linear(784, 512), tinygan.zeros(64, 100),
     "Linear(in_features=784, out_features=512) expected input (..., 784), got (64, 100)"),
    (nn.Conv2d(3, 16, 3), tinygan.zeros(8, 1, 28, 28),
     "Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1)) expected input (N, 3, H, W), got (8, 1, 28, 28)"),
    (nn.Conv2d(1, 16, 3), tinygan.zeros(1, 28, 28),
     "Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1)) expected input (N, 1, H, W), got (1, 28, 28)"),
    (nn.Conv2d(1, 4, 5), tinygan.zeros(2, 1, 3, 3),
     "Conv2d(1, 4, kernel_size=(5, 5), stride=(1, 1)): conv2d: padded input size (3, 3) (input (2, 1, 3, 3), "
     "padding (0, 0)) is smaller than the kernel (5, 5)"),
    (nn.ConvTranspose2d(100, 64, 4, 1, 0, bias=False), tinygan.zeros(8, 64, 1, 1),
     "ConvTranspose2d(100, 64, kernel_size=(4, 4), stride=(1, 1), bias=False) expected input (N, 100, H, W), "
     "got (8, 64, 1, 1)"),
    (nn.ConvTranspose2d(4, 2, 4), tinygan.zeros(8, 4),
     "ConvTranspose2d(4, 2, kernel_size=(4, 4), stride=(1, 1)) expected input (N, 4, H, W), got (8, 4)"),
    (nn.BatchNorm2d(64), tinygan.zeros(8, 32, 4, 4),
     "BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True) expected input "
     "(N, 64, H, W), got (8, 32, 4, 4)"),
    (nn.BatchNorm2d(64), tinygan.zeros(8, 64),
     "BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True) expected input "
     "(N, 64, H, W), got (8, 64)"),
    (nn.BatchNorm1d(10), tinygan.zeros(8, 10, 2, 2),
     "BatchNorm1d(10, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True) expected input "
     "(N, 10) or (N, 10, L), got (8, 10, 2, 2)"),
    (nn.BatchNorm1d(10), tinygan.zeros(1, 10), "BatchNorm1d(10, eps=1e-05, momentum=0.1, affine=True, bias=True, "
     "track_running_stats=True): batch_norm: expected more than 1 value per channel when training"),
    (nn.ConvTranspose2d(4, 2, 3, padding=2), tinygan.zeros(8, 4, 1, 1),
     "ConvTranspose2d(4, 2, kernel_size=(3, 3), stride=(1, 1), padding=(2, 2)): conv_transpose2d: input of shape "
     "(8, 4, 1, 1) with kernel (3, 3), stride (1, 1), padding (2, 2) gives an output size (-1, -1) <= 0"),
    (nn.Unflatten(1, (16, 7, 7)), tinygan.zeros(2, 100),
     "Unflatten(dim=1, unflattened_size=(16, 7, 7)) expected input whose dimension 1 splits into (16, 7, 7), "
     "got (2, 100)"),
    (nn.Flatten(2), tinygan.zeros(3, 4), "Flatten(start_dim=2, end_dim=-1) expected input with dimensions 2..-1"),
])
def test_bad_input_shapes_name_the_layer(layer, x, message):
    with pytest.raises(ValueError) as info:
        layer(x)
    assert message in str(info.value)


@pytest.mark.parametrize("layer, x", [
    (nn.Linear(3, 2), tinygan.zeros(4, 3, dtype=np.float64)),
    (nn.Conv2d(1, 2, 3), tinygan.zeros(2, 1, 5, 5, dtype=np.float64)),
    (nn.ConvTranspose2d(2, 1, 3), tinygan.zeros(2, 2, 4, 4, dtype=np.float64)),
    (nn.BatchNorm1d(3), tinygan.zeros(4, 3, dtype=np.float64)),
])
def test_float64_input_to_a_float32_layer_is_refused_naming_the_layer_and_the_fix(layer, x):
    """PyTorch refuses mixed dtypes; silently training in float64 would be 3x slower."""
    with pytest.raises(TypeError) as info:
        layer(x)
    message = str(info.value)
    assert message.startswith(layer._error_name()) and "input is float64 but weight is float32" in message
    assert ".float()" in message
    layer.double()
    assert layer(x).dtype == np.float64                     # the documented fix works


def test_a_refused_batch_norm_input_leaves_the_running_statistics_alone():
    bn = nn.BatchNorm1d(3, momentum=None)
    with pytest.raises(ValueError):
        bn(tinygan.ones(1, 3))
    assert int(bn.num_batches_tracked.array) == 0
    bn(tinygan.tensor([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]]))
    assert int(bn.num_batches_tracked.array) == 1
    np.testing.assert_allclose(bn.running_mean.array, [2.0, 3.0, 4.0])   # factor 1 / 1: the first batch's mean


def test_other_errors():
    with pytest.raises(TypeError, match=r"Linear\(in_features=3, out_features=2\) expected a Tensor input"):
        nn.Linear(3, 2)(np.zeros((1, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="output_padding .* smaller than stride"):
        nn.ConvTranspose2d(1, 1, 3, stride=2, output_padding=2)
    with pytest.raises(NotImplementedError, match="groups=1"):
        nn.Conv2d(4, 4, 3, groups=2)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    with pytest.raises(TypeError, match=r"Embedding\(5, 2\) expected integer ids"):
        nn.Embedding(5, 2)(tinygan.zeros(3))
    with pytest.raises(IndexError, match=r"Embedding\(5, 2\) expected ids in \[0, 5\), got values in \[0, 5\]"):
        nn.Embedding(5, 2)(tinygan.tensor([0, 5]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(NotImplementedError, match="has no forward"):
        nn.Module()(tinygan.ones(1))

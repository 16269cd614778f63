"""tinygan.optim against naive per-parameter implementations of the published updates; flat-buffer views;
robustness to replaced data/grads; state_dict round trips; the fused kernels' bodies run on NumPy."""
import contextlib
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygan
from tinygan import nn, optim
from tinygan.optim import adam, fused, rmsprop, sgd
from tinygan.core.backward import accumulate_grad
from tinygan.optim.optimizer import Optimizer


def set_grad(p, g):
    """``p.grad = g`` the way backward sets it: after a zero_grad, copied into the parameter's home (its view of
    the optimizer's flat grad buffer, once it has an optimizer)."""
    g = tinygan.tensor(g, device=p.device).array
    p.grad = None
    accumulate_grad(p, tinygan.backend.get_array_module(g).broadcast_to(g, p.shape))


# ==================================================================================================
# Naive references: one parameter at a time, float64, straight from the papers / torch docs
# ==================================================================================================
class RefAdam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        self.p = [np.array(p, dtype=np.float64) for p in params]
        self.m = [np.zeros_like(p) for p in self.p]
        self.v = [np.zeros_like(p) for p in self.p]
        self.lr, self.betas, self.eps, self.wd, self.t = lr, betas, eps, weight_decay, 0

    def step(self, grads):
        self.t += 1
        b1, b2 = self.betas
        for i, g in enumerate(grads):
            g = g + self.wd * self.p[i]
            self.m[i] = b1 * self.m[i] + (1 - b1) * g
            self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
            m_hat = self.m[i] / (1 - b1 ** self.t)
            v_hat = self.v[i] / (1 - b2 ** self.t)
            self.p[i] = self.p[i] - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class RefSGD:
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        self.p = [np.array(p, dtype=np.float64) for p in params]
        self.buf = [None] * len(self.p)
        self.lr, self.mom, self.damp, self.wd, self.nesterov = lr, momentum, dampening, weight_decay, nesterov

    def step(self, grads):
        for i, g in enumerate(grads):
            d = g + self.wd * self.p[i]
            if self.mom:
                self.buf[i] = d.copy() if self.buf[i] is None else self.mom * self.buf[i] + (1 - self.damp) * d
                d = d + self.mom * self.buf[i] if self.nesterov else self.buf[i]
            self.p[i] = self.p[i] - self.lr * d


class RefRMSprop:
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        self.p = [np.array(p, dtype=np.float64) for p in params]
        self.sq = [np.zeros_like(p) for p in self.p]
        self.ga = [np.zeros_like(p) for p in self.p]
        self.buf = [np.zeros_like(p) for p in self.p]
        self.lr, self.alpha, self.eps, self.wd = lr, alpha, eps, weight_decay
        self.mom, self.centered = momentum, centered

    def step(self, grads):
        a = self.alpha
        for i, g in enumerate(grads):
            d = g + self.wd * self.p[i]
            self.sq[i] = a * self.sq[i] + (1 - a) * d * d
            if self.centered:
                self.ga[i] = a * self.ga[i] + (1 - a) * d
                avg = np.sqrt(self.sq[i] - self.ga[i] ** 2) + self.eps
            else:
                avg = np.sqrt(self.sq[i]) + self.eps
            if self.mom > 0:
                self.buf[i] = self.mom * self.buf[i] + d / avg
                self.p[i] = self.p[i] - self.lr * self.buf[i]
            else:
                self.p[i] = self.p[i] - self.lr * d / avg


# ==================================================================================================
# Strategies and helpers
# ==================================================================================================
shapes = st.lists(st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple), min_size=1, max_size=4)
dtypes = st.sampled_from([np.float32, np.float64])
lrs = st.floats(1e-4, 0.3)
decays = st.sampled_from([0.0, 0.0, 1e-3, 0.1])

ADAM = dict(betas=st.tuples(st.floats(0.0, 0.95), st.floats(0.5, 0.9999)), eps=st.sampled_from([1e-8, 1e-6, 1e-3]),
            weight_decay=decays)
SGD = dict(momentum=st.sampled_from([0.0, 0.5, 0.9]), dampening=st.sampled_from([0.0, 0.3]), weight_decay=decays)
RMS = dict(alpha=st.floats(0.5, 0.99), eps=st.sampled_from([1e-8, 1e-6, 1e-3]), weight_decay=decays,
           momentum=st.sampled_from([0.0, 0.9]), centered=st.booleans())
CASES = {"Adam": (optim.Adam, RefAdam, ADAM), "SGD": (optim.SGD, RefSGD, SGD),
         "RMSprop": (optim.RMSprop, RefRMSprop, RMS)}


def make_params(shape_list, dtype, seed, device="cpu"):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shape_list]
    return arrays, [tinygan.tensor(a, requires_grad=True, device=device) for a in arrays]


def draw_grads(rng, params, dtype):
    return [rng.standard_normal(p.shape).astype(dtype) for p in params]


def tolerances(dtype):
    return dict(rtol=1e-9, atol=1e-11) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)


def check_close(params, ref, dtype):
    for i, (p, r) in enumerate(zip(params, ref.p)):
        np.testing.assert_allclose(p.detach().numpy(), r, **tolerances(dtype), err_msg=f"parameter {i}")


def run_against_reference(name, shape_list, dtype, hyper, steps, seed, device="cpu"):
    opt_cls, ref_cls, _ = CASES[name]
    if name == "SGD" and hyper.get("momentum", 0) == 0:
        hyper = dict(hyper, dampening=0.0)
    arrays, params = make_params(shape_list, dtype, seed, device)
    opt = opt_cls(params, **hyper)
    ref = ref_cls(arrays, **hyper)
    rng = np.random.default_rng(seed + 1)
    for _ in range(steps):
        grads = draw_grads(rng, params, dtype)
        for p, g in zip(params, grads):
            set_grad(p, g)                            # into the flat grad buffer, as backward does
        opt.step()
        ref.step([g.astype(np.float64) for g in grads])
        check_close(params, ref, dtype)
    return opt, params


# ==================================================================================================
# The updates against the references
# ==================================================================================================
@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data(), shape_list=shapes, dtype=dtypes, lr=lrs, steps=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_update_matches_naive_reference(name, data, shape_list, dtype, lr, steps, seed):
    hyper = {key: data.draw(strategy, label=key) for key, strategy in CASES[name][2].items()}
    hyper["lr"] = lr
    if name == "SGD" and hyper["momentum"] > 0:
        hyper["nesterov"] = data.draw(st.booleans(), label="nesterov") and hyper["dampening"] == 0
    run_against_reference(name, shape_list, dtype, hyper, steps, seed)


def emulate_kernel(kernel, xp, **args):
    """Run a FusedKernel's CUDA C body on NumPy: drop the `T` declarations and the semicolons, exec each line."""
    assert xp is np
    names = kernel.in_names + kernel.out_names
    assert set(args) == set(names), (kernel.name, sorted(args), names)
    ns = {"sqrt": np.sqrt, "fmax": np.fmax, "__builtins__": {}}
    ns.update({n: args[n].copy() if isinstance(args[n], np.ndarray) else args[n] for n in names})
    statements = [s.strip() for s in kernel.body.split(";") if s.strip()]
    assert kernel.body.strip().endswith(";")
    for statement in statements:
        if statement.startswith("T "):
            statement = statement[2:]
        exec(statement, ns)
    for n in kernel.out_names:
        args[n][...] = ns[n]


@contextlib.contextmanager
def kernel_path():
    """Send CPU optimizers down the fused-kernel path, with the kernel bodies emulated on NumPy."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Optimizer, "_use_kernel", lambda self, k: True)
        mp.setattr(fused.FusedKernel, "__call__", emulate_kernel)
        yield


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data(), shape_list=shapes, lr=lrs, steps=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_fused_kernel_bodies_match_reference(name, data, shape_list, lr, steps, seed):
    hyper = {key: data.draw(strategy, label=key) for key, strategy in CASES[name][2].items()}
    hyper["lr"] = lr
    if name == "SGD" and hyper["momentum"] > 0:
        hyper["nesterov"] = data.draw(st.booleans(), label="nesterov") and hyper["dampening"] == 0
    with kernel_path():
        opt, _ = run_against_reference(name, shape_list, np.float64, hyper, steps, seed)
    assert opt._scratch == [[]]  # the array-op path never ran


def test_every_kernel_is_exercised_by_the_emulation():
    kernels = [adam.ADAM_KERNEL, sgd.SGD_KERNEL, sgd.SGD_MOMENTUM_KERNEL, sgd.SGD_NESTEROV_KERNEL,
               *rmsprop.RMSPROP_KERNELS.values()]
    for kernel in kernels:
        for name in kernel.in_names + kernel.out_names:
            assert name in kernel.body, (kernel.name, name)  # every argument is used


def test_kernel_path_is_only_for_gpu_arrays():
    _, params = make_params([(3,)], np.float32, 0)
    opt = optim.Adam(params)
    assert not opt._use_kernel(0)


def test_on_device_against_reference(device):
    """On the GPU this runs the real fused kernels; on the CPU the array-op path."""
    for name, hyper in [("Adam", dict(lr=0.01, weight_decay=0.1)), ("SGD", dict(lr=0.1, momentum=0.9)),
                        ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)), ("SGD", dict(lr=0.1)),
                        ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)), ("RMSprop", dict(lr=0.01))]:
        run_against_reference(name, [(5, 3), (3,), ()], np.float32, hyper, 3, 7, device)


def test_gpu_fused_kernels_match_array_path(device, monkeypatch):
    if device == "cpu":
        pytest.skip("the fused kernels run only on the GPU")
    for cls, hyper in [(optim.Adam, dict(lr=0.01)), (optim.SGD, dict(lr=0.1, momentum=0.9)),
                       (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True))]:
        results = []
        for enabled in (True, False):
            monkeypatch.setattr(fused, "enabled", enabled)
            _, params = make_params([(4, 3), (3,)], np.float32, 1, device)
            opt = cls(params, **hyper)
            for _ in range(3):
                for p in params:
                    set_grad(p, 0.5 * p.array + 0.1)
                opt.step()
            results.append([p.detach().numpy() for p in params])
        for a, b in zip(*results):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_lr_change_through_param_groups_takes_effect():
    arrays, params = make_params([(3, 2)], np.float64, 0)
    opt = optim.SGD(params, lr=0.1)
    ref = RefSGD(arrays, lr=0.1)
    g = [np.ones((3, 2))]
    set_grad(params[0], g[0])
    opt.step(), ref.step(g)
    opt.param_groups[0]["lr"] = 0.5
    ref.lr = 0.5
    opt.step(), ref.step(g)
    check_close(params, ref, np.float64)
    np.testing.assert_allclose(params[0].detach().numpy(), arrays[0] - 0.6)


def test_float32_stays_float32():
    _, params = make_params([(4, 4), (4,)], np.float32, 0)
    for cls in (optim.Adam, optim.SGD, optim.RMSprop):
        opt = cls(params, weight_decay=0.1)
        for p in params:
            set_grad(p, np.ones(p.shape))            # float64 gradients land in the float32 buffer
        opt.step()
        assert all(p.dtype == np.float32 and p.grad.dtype == np.float32 for p in params)
        for state in opt._states:
            assert all(a.dtype == np.float32 for a in state.values())
        for scratch in opt._scratch:
            assert all(a.dtype == np.float32 for a in scratch)


# ==================================================================================================
# Flat buffers and views
# ==================================================================================================
def small_model():
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))


def test_parameters_become_views_of_one_buffer_and_model_output_is_unchanged():
    model = small_model()
    x = tinygan.randn(5, 4)
    before = model(x).detach().numpy()
    values = [p.detach().numpy().copy() for p in model.parameters()]
    opt = optim.Adam(model.parameters())
    assert all(p.grad is None for p in model.parameters())           # as in PyTorch: no grad before backward
    model(x).sum().backward()
    assert len(opt._flats) == 1
    flat = opt._flats[0]
    assert flat.data.size == sum(p.numel() for p in model.parameters())
    for p, v in zip(model.parameters(), values):
        assert np.shares_memory(p.array, flat.data)
        assert np.shares_memory(p.grad.array, flat.grad)
        np.testing.assert_array_equal(p.detach().numpy(), v)
    np.testing.assert_array_equal(model(x).detach().numpy(), before)   # exact: same values, same code path


def test_backward_grads_land_in_the_flat_buffer_and_zero_grad_zeroes_them():
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = tinygan.randn(5, 4)
    model(x).sum().backward()
    grad_tensors = [p.grad for p in model.parameters()]
    flat = opt._flats[0]
    first = np.concatenate([p.grad.numpy().ravel() for p in model.parameters()])
    np.testing.assert_array_equal(flat.grad, first)
    assert np.abs(first).sum() > 0
    assert all(np.shares_memory(p.grad.array, flat.grad) for p in model.parameters())
    model(x).sum().backward()
    assert all(p.grad is g for p, g in zip(model.parameters(), grad_tensors))  # accumulated in place
    np.testing.assert_allclose(flat.grad, 2 * first, rtol=1e-6)
    opt.zero_grad(set_to_none=False)
    assert not flat.grad.any()
    assert all(p.grad is g for p, g in zip(model.parameters(), grad_tensors))
    del grad_tensors
    opt.zero_grad()                                   # PyTorch 2's default: set_to_none=True
    assert all(p.grad is None for p in model.parameters())
    model(x).sum().backward()                         # the new grads are views of the buffer again: no copy
    assert all(np.shares_memory(p.grad.array, flat.grad) for p in model.parameters())
    np.testing.assert_array_equal(flat.grad, first)


def test_step_moves_the_model_in_place():
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().numpy().copy() for p in model.parameters()]
    model(tinygan.randn(3, 4)).sum().backward()
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    opt.step()
    for p, b, g in zip(model.parameters(), before, grads):
        np.testing.assert_allclose(p.detach().numpy(), b - 0.1 * g, rtol=1e-6, atol=1e-7)


def test_mixed_dtypes_get_one_buffer_each():
    p32 = tinygan.tensor(np.ones(3, np.float32), requires_grad=True)
    p64 = tinygan.tensor(np.ones(2, np.float64), requires_grad=True)
    q32 = tinygan.tensor(np.ones((2, 2), np.float32), requires_grad=True)
    opt = optim.Adam([p32, p64, q32], lr=0.1)
    assert sorted(f.data.size for f in opt._flats) == [2, 7]
    for p in (p32, p64, q32):
        set_grad(p, 1)
    opt.step()
    for p in (p32, p64, q32):
        np.testing.assert_allclose(p.detach().numpy(), 0.9, rtol=1e-6)
    assert list(opt.state_dict()["state"]) == [0, 1, 2]


# ==================================================================================================
# Robustness: replaced .array / .grad are re-adopted
# ==================================================================================================
def test_none_grad_is_skipped_and_the_view_comes_back():
    arrays, params = make_params([(3, 2), (4,)], np.float64, 3)
    opt = optim.Adam(params, lr=0.1, weight_decay=0.1)
    ref = RefAdam(arrays[:1], lr=0.1, weight_decay=0.1)
    g = [np.full((3, 2), 0.5), np.full(4, -1.0)]
    set_grad(params[0], g[0])
    set_grad(params[1], g[1])
    params[1].grad = None                       # skipped by step, as in PyTorch: the stale buffer is not used
    opt.step()
    ref.step([g[0]])
    check_close(params[:1], ref, np.float64)
    np.testing.assert_array_equal(params[1].detach().numpy(), arrays[1])   # not moved (weight decay neither)
    assert params[1].grad is None and not opt.state_dict()["state"][1]["exp_avg"].any()
    opt.zero_grad()
    assert params[0].grad is None
    (params[0] * 2.0).sum().backward()          # backward writes into the buffer, its home
    assert np.shares_memory(params[0].grad.array, opt._flats[0].grad)
    opt.step()
    ref.step([np.full((3, 2), 2.0)])
    check_close(params[:1], ref, np.float64)
    np.testing.assert_array_equal(params[1].detach().numpy(), arrays[1])


def test_a_held_gradient_keeps_its_values_after_zero_grad():
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = tinygan.randn(5, 4)
    model(x).sum().backward()
    held = [p.grad for p in model.parameters()]       # e.g. kept for logging
    values = [g.numpy().copy() for g in held]
    for zero_grad in (opt.zero_grad, model.zero_grad):
        zero_grad()
        (3 * model(x)).sum().backward()
        for g, v in zip(held, values):
            np.testing.assert_array_equal(g.numpy(), v)          # as in PyTorch: a new tensor took its place
        assert all(p.grad is not g for p, g in zip(model.parameters(), held))
        assert all(np.shares_memory(p.grad.array, opt._flats[0].grad) for p in model.parameters())


def test_replaced_data_and_grad_are_readopted():
    arrays, params = make_params([(2, 3), (3,)], np.float64, 4)
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    ref = RefSGD(arrays, lr=0.1, momentum=0.9)
    g = [np.ones((2, 3)), np.ones(3)]
    for p, gi in zip(params, g):
        set_grad(p, gi)
    opt.step(), ref.step(g)
    new_value = np.arange(6.0).reshape(2, 3)
    params[0].array = new_value.copy()                     # e.g. weights loaded by assignment
    ref.p[0] = new_value.copy()
    params[1].grad = tinygan.tensor(np.full(3, 2.0))      # a grad tensor set by hand
    params[0].grad.array = np.full((2, 3), 3.0)            # the grad tensor's array replaced
    opt.step(), ref.step([np.full((2, 3), 3.0), np.full(3, 2.0)])
    check_close(params, ref, np.float64)
    flat = opt._flats[0]
    assert all(np.shares_memory(p.array, flat.data) and np.shares_memory(p.grad.array, flat.grad) for p in params)


def test_dtype_change_rebuilds_buffers_and_keeps_state():
    model = small_model()
    arrays = [p.detach().numpy().astype(np.float64) for p in model.parameters()]
    opt = optim.Adam(model.parameters(), lr=0.01)
    ref = RefAdam(arrays, lr=0.01)
    g = [np.full(a.shape, 0.3) for a in arrays]
    for p, gi in zip(model.parameters(), g):
        set_grad(p, gi)
    opt.step(), ref.step(g)
    model.double()                                        # new float64 arrays for data and grads
    for p, gi in zip(model.parameters(), g):
        set_grad(p, gi)
    opt.step(), ref.step(g)
    check_close(list(model.parameters()), ref, np.float32)
    assert opt._flats[0].dtype == np.float64
    assert all(np.shares_memory(p.array, opt._flats[0].data) for p in model.parameters())
    assert opt.state_dict()["state"][0]["step"] == 2


def test_shape_change_is_a_clear_error():
    _, params = make_params([(2, 3)], np.float32, 0)
    opt = optim.Adam(params)
    params[0].array = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*\(3, 2\)"):
        opt.step()


# ==================================================================================================
# state_dict
# ==================================================================================================
@pytest.mark.parametrize("cls, hyper", [
    (optim.Adam, dict(lr=0.01, betas=(0.5, 0.999), weight_decay=0.01)),
    (optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.1)),
    (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
])
def test_state_dict_round_trip_continues_bit_identically(cls, hyper, tmp_path):
    rng = np.random.default_rng(0)
    shape_list = [(4, 3), (3,), (2, 2, 2)]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shape_list] for _ in range(6)]

    def run(params, opt, steps):
        for gs in steps:
            for p, g in zip(params, gs):
                set_grad(p, g)
            opt.step()

    _, a = make_params(shape_list, np.float32, 1)
    opt_a = cls(a, **hyper)
    run(a, opt_a, grads)

    _, b = make_params(shape_list, np.float32, 1)
    opt_b = cls(b, **hyper)
    run(b, opt_b, grads[:3])
    tinygan.save({"params": [p.array for p in b], "opt": opt_b.state_dict()}, tmp_path / "ckpt.npz")

    ckpt = tinygan.load(tmp_path / "ckpt.npz")
    c = [tinygan.tensor(v, requires_grad=True) for v in ckpt["params"]]
    opt_c = cls(c, lr=123.0)                     # hyperparameters come back from the state dict
    opt_c.load_state_dict(ckpt["opt"])
    assert opt_c.param_groups[0]["lr"] == hyper["lr"]
    run(c, opt_c, grads[3:])
    for pa, pc in zip(a, c):
        np.testing.assert_array_equal(pa.detach().numpy(), pc.detach().numpy())


def test_state_dict_is_a_snapshot_with_pytorch_layout():
    _, params = make_params([(2,), (3,)], np.float32, 0)
    opt = optim.Adam(params)
    assert opt.state_dict()["state"] == {}
    set_grad(params[0], 1)
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"] == [dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                                       decoupled_weight_decay=False, params=[0, 1])]
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"} and sd["state"][0]["step"] == 1
    saved = sd["state"][0]["exp_avg"].copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], saved)


def test_load_state_dict_errors_are_clear():
    _, params = make_params([(2,), (3,)], np.float32, 0)
    adam_opt = optim.Adam(params)
    adam_opt.step()
    sgd_opt = optim.SGD(params, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="unknown state 'exp_avg'"):
        sgd_opt.load_state_dict(adam_opt.state_dict())
    _, one = make_params([(2,)], np.float32, 0)
    with pytest.raises(ValueError, match="for 2 parameters, this optimizer has 1"):
        optim.Adam(one).load_state_dict(adam_opt.state_dict())
    _, other = make_params([(2,), (4,)], np.float32, 0)
    with pytest.raises(ValueError, match=r"parameter 1 has shape \(3,\), the parameter has shape \(4,\)"):
        optim.Adam(other).load_state_dict(adam_opt.state_dict())
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        adam_opt.load_state_dict({"weight": 1})


def test_constructor_errors_are_clear():
    _, params = make_params([(2,)], np.float32, 0)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.Adam(params[0])
    with pytest.raises(ValueError, match="invalid lr"):
        optim.SGD(params, lr=-1)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        optim.Adam(params, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="appears twice"):
        optim.Adam(params + params)
    with pytest.raises(TypeError, match="dtype int64"):
        optim.SGD([tinygan.tensor(np.arange(3))], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(params, lr=0.1, nesterov=True)


def test_single_param_group_dict_and_closure():
    _, params = make_params([(3,)], np.float64, 0)
    opt = optim.SGD([{"params": params, "lr": 0.5}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[0]["params"] == params

    def closure():
        opt.zero_grad()
        loss = (params[0] * params[0]).sum()
        loss.backward()
        return loss

    x0 = params[0].detach().numpy().copy()
    loss = opt.step(closure)
    assert math.isclose(loss.item(), float((x0 ** 2).sum()))
    np.testing.assert_allclose(params[0].detach().numpy(), x0 - 0.5 * 2 * x0)
    assert "lr: 0.5" in repr(opt)


# ==================================================================================================
# Several parameter groups
# ==================================================================================================
GROUP_CASES = [
    (optim.Adam, dict(lr=2e-4, betas=(0.5, 0.999)), dict(lr=1e-2, weight_decay=0.1)),
    (optim.SGD, dict(lr=0.05, momentum=0.9), dict(lr=0.2, nesterov=True, momentum=0.5)),
    (optim.RMSprop, dict(lr=0.01), dict(lr=0.002, momentum=0.9, centered=True)),
]


def set_grads(params, grads):
    for p, g in zip(params, grads):
        set_grad(p, g)


@pytest.mark.parametrize("cls, defaults, second", GROUP_CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_two_groups_step_as_two_separate_optimizers(cls, defaults, second):
    shape_list = [(3, 2), (2,), (4,)]
    _, a = make_params(shape_list, np.float64, 3)
    _, b = make_params(shape_list, np.float64, 3)
    grouped = cls([{"params": a[:2]}, {"params": a[2:], **second}], **defaults)
    assert grouped.param_groups[1]["lr"] == second["lr"] and len(grouped._flats) == 2
    separate = [cls(b[:2], **defaults), cls(b[2:], **{**defaults, **second})]
    rng = np.random.default_rng(0)
    for step in range(5):
        grads = draw_grads(rng, a, np.float64)
        set_grads(a, grads), set_grads(b, grads)
        if step == 3:                                # a scheduler's change reaches the next step
            grouped.param_groups[1]["lr"] = separate[1].param_groups[0]["lr"] = 0.5 * second["lr"]
        grouped.step()
        for opt in separate:
            opt.step()
        for pa, pb in zip(a, b):
            np.testing.assert_array_equal(pa.detach().numpy(), pb.detach().numpy())


def test_group_defaults_state_dict_layout_and_repr():
    _, params = make_params([(2,), (3,), (4,)], np.float32, 0)
    opt = optim.Adam([{"params": params[:1]}, {"params": params[1:], "lr": 0.1}], lr=0.5, betas=(0.5, 0.9))
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1]
    assert all(g["betas"] == (0.5, 0.9) for g in opt.param_groups)       # missing keys from the defaults
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1, 2]] and sorted(sd["state"]) == [0, 1, 2]
    assert "Parameter Group 1\n" in repr(opt) and "lr: 0.1" in repr(opt)
    assert [h["lr"] for h in opt.hyperparameters()] == [0.5, 0.1]


def test_a_parameter_in_two_groups_is_refused_as_in_pytorch():
    _, params = make_params([(2,), (3,)], np.float32, 0)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        optim.SGD([{"params": params}, {"params": params[1:]}], lr=0.1)
    opt = optim.SGD([{"params": params[:1]}], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": params})
    with pytest.raises(TypeError, match="ordered collections"):
        opt.add_param_group({"params": set(params[1:])})
    with pytest.raises(TypeError, match="must be a dict"):
        optim.SGD([{"params": params[:1]}, params[1]], lr=0.1)


@pytest.mark.parametrize("cls, defaults, second", GROUP_CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_state_dict_round_trip_with_groups(cls, defaults, second, tmp_path):
    shape_list = [(3, 2), (2,), (4,)]
    rng = np.random.default_rng(1)
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shape_list] for _ in range(6)]

    def build(seed_params):
        return cls([{"params": seed_params[:1]}, {"params": seed_params[1:], **second}], **defaults)

    _, a = make_params(shape_list, np.float32, 2)
    opt_a = build(a)
    for g in grads:
        set_grads(a, g), opt_a.step()
    _, b = make_params(shape_list, np.float32, 2)
    opt_b = build(b)
    for g in grads[:3]:
        set_grads(b, g), opt_b.step()
    tinygan.save({"params": [p.array for p in b], "opt": opt_b.state_dict()}, tmp_path / "ckpt.npz")
    ckpt = tinygan.load(tmp_path / "ckpt.npz")
    c = [tinygan.tensor(v, requires_grad=True) for v in ckpt["params"]]
    opt_c = cls([{"params": c[:1]}, {"params": c[1:]}], lr=123.0)
    opt_c.load_state_dict(ckpt["opt"])
    assert [g["lr"] for g in opt_c.param_groups] == [defaults["lr"], second["lr"]]
    for g in grads[3:]:
        set_grads(c, g), opt_c.step()
    for pa, pc in zip(a, c):
        np.testing.assert_array_equal(pa.detach().numpy(), pc.detach().numpy())
    with pytest.raises(ValueError, match="2 parameter groups, this optimizer has 1"):
        cls(c, lr=0.1).load_state_dict(ckpt["opt"])
    with pytest.raises(ValueError, match="group 0 of the state dict is for 1 parameters, this optimizer has 2"):
        cls([{"params": c[:2]}, {"params": c[2:]}], lr=0.1).load_state_dict(ckpt["opt"])


def test_a_group_added_later_starts_its_own_step_count():
    """Adam's bias correction for a group added by add_param_group after 3 steps starts at step 1, as in
    PyTorch, and the counts survive a state_dict round trip."""
    shape_list = [(3,), (2,)]
    _, a = make_params(shape_list, np.float64, 5)
    _, b = make_params(shape_list, np.float64, 5)
    opt = optim.Adam(a[:1], lr=0.1)
    late = optim.Adam(b[1:], lr=0.01)                   # the reference: its own optimizer from the start
    early = optim.Adam(b[:1], lr=0.1)
    rng = np.random.default_rng(0)
    for step in range(6):
        if step == 3:
            opt.add_param_group({"params": a[1:], "lr": 0.01})
        grads = draw_grads(rng, a, np.float64)
        set_grads(a, grads), set_grads(b, grads)
        opt.step(), early.step()
        if step >= 3:
            late.step()
        if step == 4:
            sd = opt.state_dict()
            assert sd["state"][0]["step"] == 5 and sd["state"][1]["step"] == 2
            opt.load_state_dict(sd)
    for pa, pb in zip(a, b):
        np.testing.assert_array_equal(pa.detach().numpy(), pb.detach().numpy())


@pytest.mark.parametrize("name", ["Adam", "SGD", "RMSprop"])
def test_groups_match_torch(name):
    torch = pytest.importorskip("torch")
    hyper = {"Adam": (dict(lr=2e-4, betas=(0.5, 0.999)), dict(lr=1e-3, weight_decay=0.01)),
             "SGD": (dict(lr=0.05, momentum=0.9), dict(lr=0.2, dampening=0.1)),
             "RMSprop": (dict(lr=0.01), dict(lr=0.003, centered=True, momentum=0.5))}[name]
    defaults, second = hyper
    shape_list = [(3, 2), (2,), (4,)]
    arrays, ours = make_params(shape_list, np.float64, 7)
    theirs = [torch.tensor(x, requires_grad=True) for x in arrays]
    opt = getattr(optim, name)([{"params": ours[:2]}, {"params": ours[2:], **second}], **defaults)
    ref = getattr(torch.optim, name)([{"params": theirs[:2]}, {"params": theirs[2:], **second}], **defaults)
    rng = np.random.default_rng(0)
    for _ in range(5):
        grads = draw_grads(rng, ours, np.float64)
        set_grads(ours, grads)
        for t, g in zip(theirs, grads):
            t.grad = torch.tensor(g)
        opt.step(), ref.step()
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_device_step_count_of_a_group_added_later():
    """keep_step_on_device (the CUDA-graph path, here on NumPy 0-d arrays): Adam's bias correction of a group
    added after 2 steps is computed from the device count minus the group's offset."""
    shape_list = [(3,), (2,)]
    _, a = make_params(shape_list, np.float64, 8)
    _, b = make_params(shape_list, np.float64, 8)
    on_device, host = optim.Adam(a[:1], lr=0.1), optim.Adam(b[:1], lr=0.1)
    on_device.keep_step_on_device()
    rng = np.random.default_rng(0)
    for step in range(5):
        if step == 2:
            on_device.add_param_group({"params": a[1:], "lr": 0.05})
            host.add_param_group({"params": b[1:], "lr": 0.05})
            assert [h["step_offset"] for h in on_device.hyperparameters()] == [0, 2]
        grads = draw_grads(rng, a, np.float64)
        set_grads(a, grads), set_grads(b, grads)
        on_device.step(), host.step()
    assert float(on_device._device_step) == 5
    for pa, pb in zip(a, b):
        np.testing.assert_allclose(pa.detach().numpy(), pb.detach().numpy(), rtol=1e-13)

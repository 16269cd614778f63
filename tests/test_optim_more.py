"""Adadelta, Adagrad, AdamW and Adam(amsgrad=True): several steps against plain NumPy references (array path,
fused-kernel bodies, the strict CuPy stand-in) and against torch.optim (same parameters, same gradients);
PyTorch's state names and ValueError texts."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_optim import kernel_path, set_grad
from tinygan import optim
from tinygan.backend import asnumpy
from tinygan.core import array_of
from tinygan.optim import adadelta, adagrad, adam

try:
    import torch
except ImportError:
    torch = None


# ==================================================================================================
# NumPy references: one parameter at a time, float64, as torch.optim's docs write the updates
# ==================================================================================================
def ref_step(name, h, p, g, state, t):
    """The new value of parameter ``p`` after step ``t`` with gradient ``g``; ``state`` is updated in place."""
    if name in ("Adam", "AdamW"):
        if h["decoupled_weight_decay"]:
            p = p * (1 - h["lr"] * h["weight_decay"])
        else:
            g = g + h["weight_decay"] * p
        b1, b2 = h["betas"]
        state["exp_avg"] = b1 * state.get("exp_avg", 0) + (1 - b1) * g
        state["exp_avg_sq"] = b2 * state.get("exp_avg_sq", 0) + (1 - b2) * g * g
        v = state["exp_avg_sq"]
        if h["amsgrad"]:
            v = state["max_exp_avg_sq"] = np.maximum(state.get("max_exp_avg_sq", 0), v)
        return p - h["lr"] / (1 - b1 ** t) * state["exp_avg"] / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + h["eps"])
    g = g + h["weight_decay"] * p
    if name == "Adadelta":
        rho, eps = h["rho"], h["eps"]
        state["square_avg"] = rho * state.get("square_avg", 0) + (1 - rho) * g * g
        acc = state.get("acc_delta", 0)
        delta = np.sqrt(acc + eps) / np.sqrt(state["square_avg"] + eps) * g
        state["acc_delta"] = rho * acc + (1 - rho) * delta * delta
        return p - h["lr"] * delta
    assert name == "Adagrad"
    state["sum"] = state.get("sum", h["initial_accumulator_value"]) + g * g
    clr = h["lr"] / (1 + (t - 1) * h["lr_decay"])
    return p - clr * g / (np.sqrt(state["sum"]) + h["eps"])


CLASSES = {"Adam": optim.Adam, "AdamW": optim.AdamW, "Adadelta": optim.Adadelta, "Adagrad": optim.Adagrad}
HYPER = {
    "Adam": dict(lr=st.sampled_from([1e-3, 0.05]), weight_decay=st.sampled_from([0.0, 0.1]),
                 amsgrad=st.booleans(), betas=st.sampled_from([(0.9, 0.999), (0.5, 0.9)])),
    "AdamW": dict(lr=st.sampled_from([1e-3, 0.05]), weight_decay=st.sampled_from([0.0, 1e-2, 0.5]),
                  amsgrad=st.booleans()),
    "Adadelta": dict(lr=st.sampled_from([1.0, 0.1]), rho=st.sampled_from([0.9, 0.5]),
                     eps=st.sampled_from([1e-6, 1e-3]), weight_decay=st.sampled_from([0.0, 0.1])),
    "Adagrad": dict(lr=st.sampled_from([1e-2, 0.1]), lr_decay=st.sampled_from([0.0, 0.1]),
                    weight_decay=st.sampled_from([0.0, 0.1]), initial_accumulator_value=st.sampled_from([0.0, 0.5]),
                    eps=st.sampled_from([1e-10, 1e-3])),
}
SHAPES = [(4, 3), (3,), ()]


def draws(seed, steps, dtype):
    """Initial values and ``steps`` gradients for SHAPES, some of them large (AMSGrad's max must matter)."""
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[(rng.standard_normal(s) * rng.choice([0.1, 3.0])).astype(dtype) for s in SHAPES]
             for _ in range(steps)]
    return values, grads


def run_tinygan(name, hyper, values, grads, device="cpu"):
    import tinygan
    params = [tinygan.tensor(v, requires_grad=True, device=device) for v in values]
    opt = CLASSES[name](params, **hyper)
    for step_grads in grads:
        opt.zero_grad()
        for p, g in zip(params, step_grads):
            set_grad(p, g)
        opt.step()
    return opt, params


def run_reference(opt, name, values, grads):
    h = opt.param_groups[0]
    ps, states = [v.astype(np.float64) for v in values], [{} for _ in values]
    for t, step_grads in enumerate(grads, start=1):
        ps = [ref_step(name, h, p, g.astype(np.float64), s, t) for p, g, s in zip(ps, step_grads, states)]
    return ps, states


def check_against_reference(name, hyper, seed, steps, dtype=np.float64, device="cpu"):
    values, grads = draws(seed, steps, dtype)
    opt, params = run_tinygan(name, hyper, values, grads, device)
    ps, states = run_reference(opt, name, values, grads)
    tol = dict(rtol=1e-9, atol=1e-11) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)
    for i, (p, r) in enumerate(zip(params, ps)):
        np.testing.assert_allclose(p.detach().numpy(), r, **tol, err_msg=f"parameter {i}")
    saved = opt.state_dict()["state"]
    for i, s in enumerate(states):
        assert set(saved[i]) == {"step", *s}, (saved[i].keys(), s.keys())
        for key, value in s.items():
            np.testing.assert_allclose(asnumpy(array_of(saved[i][key])), value, **tol, err_msg=f"{key} of {i}")
    return opt


# ==================================================================================================
# Against the references: array path, fused-kernel bodies, devices
# ==================================================================================================
@pytest.mark.parametrize("name", sorted(CLASSES))
@settings(max_examples=25)
@given(data=st.data(), seed=st.integers(0, 2**16), steps=st.integers(1, 4))
def test_array_path_matches_reference(name, data, seed, steps):
    hyper = {key: data.draw(strategy, label=key) for key, strategy in HYPER[name].items()}
    check_against_reference(name, hyper, seed, steps)


@pytest.mark.parametrize("name", sorted(CLASSES))
@settings(max_examples=20)
@given(data=st.data(), seed=st.integers(0, 2**16), steps=st.integers(1, 4))
def test_fused_kernel_bodies_match_reference(name, data, seed, steps):
    hyper = {key: data.draw(strategy, label=key) for key, strategy in HYPER[name].items()}
    with kernel_path():
        opt = check_against_reference(name, hyper, seed, steps)
    assert opt._scratch == [[]]                       # the array-op path never ran


def test_new_kernels_use_every_argument():
    kernels = [*adam.ADAM_KERNELS.values(), adadelta.ADADELTA_KERNEL, adagrad.ADAGRAD_KERNEL]
    for kernel in kernels:
        for arg in kernel.in_names + kernel.out_names:
            assert arg in kernel.body, (kernel.name, arg)


@pytest.mark.parametrize("name, hyper", [("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
                                         ("AdamW", dict(lr=0.05, amsgrad=True)), ("AdamW", dict(lr=0.05)),
                                         ("Adadelta", dict(weight_decay=0.1)),
                                         ("Adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5))])
def test_on_device_against_reference(device, name, hyper):
    """On the GPU (and its stand-in) the fused kernels, on the CPU the array-op path, in float32."""
    check_against_reference(name, hyper, 3, 3, np.float32, device)


# ==================================================================================================
# Against torch.optim
# ==================================================================================================
TORCH_CASES = [
    ("Adam", dict(lr=0.05, amsgrad=True)), ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict()), ("AdamW", dict(lr=0.05, weight_decay=0.3)), ("AdamW", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.01, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.0, amsgrad=True)),
    ("Adadelta", dict()), ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-3, weight_decay=0.1)),
    ("Adagrad", dict()), ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3,
                                         eps=1e-6)),
]


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("name, hyper", TORCH_CASES, ids=lambda c: str(c))
@pytest.mark.parametrize("kernels", [False, True], ids=["arrays", "kernel-bodies"])
def test_steps_match_torch(name, hyper, kernels):
    values, grads = draws(11, 5, np.float32)
    if kernels:
        with kernel_path():
            opt, params = run_tinygan(name, hyper, values, grads)
    else:
        opt, params = run_tinygan(name, hyper, values, grads)
    tparams = [torch.tensor(v, requires_grad=True) for v in values]
    topt = getattr(torch.optim, name)(tparams, **hyper)
    for step_grads in grads:
        topt.zero_grad()
        for t, g in zip(tparams, step_grads):
            t.grad = torch.tensor(g)
        topt.step()
    for p, t in zip(params, tparams):
        np.testing.assert_allclose(p.detach().numpy(), t.detach().numpy(), rtol=1e-5, atol=1e-6)
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert set(ours["param_groups"][0]) <= set(theirs["param_groups"][0])      # PyTorch's hyperparameter names
    for i in range(len(values)):
        assert set(ours["state"][i]) == set(theirs["state"][i])              # PyTorch's state names
        for key, value in theirs["state"][i].items():
            np.testing.assert_allclose(np.asarray(ours["state"][i][key], dtype=np.float64),
                                       value.numpy().astype(np.float64), rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("name", sorted(CLASSES))
def test_defaults_match_torch(name):
    import inspect
    ours = inspect.signature(CLASSES[name]).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    for key, param in ours.items():
        if key != "params":
            assert param.default == theirs[key].default, key


# ==================================================================================================
# state_dict, bad hyperparameters
# ==================================================================================================
@pytest.mark.parametrize("name, hyper", [("AdamW", dict(lr=0.05, amsgrad=True)), ("Adadelta", dict()),
                                         ("Adagrad", dict(initial_accumulator_value=0.2, lr_decay=0.1))])
def test_state_dict_round_trip_continues_bit_identically(name, hyper):
    values, grads = draws(5, 4, np.float32)
    opt, params = run_tinygan(name, hyper, values, grads[:2])
    saved = opt.state_dict()
    twin, twin_params = run_tinygan(name, hyper, [p.detach().numpy() for p in params], [])
    twin.load_state_dict(saved)
    for o, ps in ((opt, params), (twin, twin_params)):
        for step_grads in grads[2:]:
            o.zero_grad()
            for p, g in zip(ps, step_grads):
                set_grad(p, g)
            o.step()
    for p, q in zip(params, twin_params):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_a_parameter_without_grad_keeps_adagrads_initial_sum():
    opt, params = run_tinygan("Adagrad", dict(initial_accumulator_value=0.5), *draws(1, 0, np.float32))
    set_grad(params[0], np.ones(params[0].shape))
    before = params[1].detach().numpy().copy()
    opt.step()                                        # params[1] and [2] have no grad: skipped
    np.testing.assert_array_equal(params[1].detach().numpy(), before)
    np.testing.assert_array_equal(opt.state_dict()["state"][1]["sum"], np.full(params[1].shape, 0.5))
    np.testing.assert_allclose(opt.state_dict()["state"][0]["sum"], np.full(params[0].shape, 1.5))


@pytest.mark.parametrize("name, hyper, message", [
    ("Adadelta", dict(lr=-1.0), "Invalid learning rate: -1.0"), ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
    ("Adadelta", dict(eps=-1e-6), "Invalid epsilon value: -1e-06"),
    ("Adadelta", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    ("Adagrad", dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    ("AdamW", dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    ("AdamW", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    ("Adam", dict(eps=-1), "Invalid epsilon value: -1"),
])
def test_bad_hyperparameters_raise_pytorchs_value_error(name, hyper, message):
    import tinygan
    with pytest.raises(ValueError, match=f"^{name}: {message}$".replace("(", r"\(").replace(".", r"\.")):
        CLASSES[name]([tinygan.zeros(2, requires_grad=True)], **hyper)
    if torch is not None:
        with pytest.raises(ValueError, match=message.replace(".", r"\.")):
            getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **hyper)

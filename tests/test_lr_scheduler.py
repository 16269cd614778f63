"""tinygan.optim.lr_scheduler: each schedule against its closed form, against torch.optim.lr_scheduler step by
step (skipped without torch), state_dict round trips mid-schedule, and the lr reaching the optimizer."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygan
from tinygan import optim
from tinygan.optim import lr_scheduler

LRS = (0.1, 2e-4)              # two parameter groups with different learning rates


def make_optimizer(lrs=LRS):
    params = [tinygan.tensor(np.ones(2), requires_grad=True) for _ in lrs]
    return optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=1.0)


def make_torch_optimizer(torch, lrs=LRS):
    params = [torch.ones(2, requires_grad=True) for _ in lrs]
    return torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=1.0)


def epochs(sched, n):
    """The lrs after construction and after each of n steps."""
    lrs = [sched.get_last_lr()]
    for _ in range(n):
        sched.step()
        lrs.append(sched.get_last_lr())
    return lrs


def close(a, b, tol=1e-12):
    return all(math.isclose(x, y, rel_tol=tol, abs_tol=1e-300) for x, y in zip(a, b))


# (name, keyword arguments, closed form lr(base_lr, epoch))
CASES = [
    ("StepLR", dict(step_size=3, gamma=0.5), lambda b, e: b * 0.5 ** (e // 3)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.1), lambda b, e: b * 0.1 ** sum(m <= e for m in [2, 5, 5, 9])),
    ("ExponentialLR", dict(gamma=0.9), lambda b, e: b * 0.9 ** e),
    ("LinearLR", dict(start_factor=0.25, end_factor=0.75, total_iters=4),
     lambda b, e: b * (0.25 + 0.5 * min(e, 4) / 4)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=1e-5),
     lambda b, e: 1e-5 + (b - 1e-5) * (1 + math.cos(math.pi * e / 7)) / 2),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.95 ** e + 1 / (e + 1)), lambda b, e: b * (0.95 ** e + 1 / (e + 1))),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name, kwargs, closed", CASES, ids=IDS)
def test_each_step_equals_the_closed_form(name, kwargs, closed):
    opt = make_optimizer()
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    assert sched.last_epoch == 0
    for epoch, lrs in enumerate(epochs(sched, 20)):       # 20 > T_max: the cosine climbs back up
        expected = [closed(b, epoch) for b in LRS]
        assert close(lrs, expected, tol=1e-10), (epoch, lrs, expected)
    assert sched.last_epoch == 20
    assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS) == sched.base_lrs


@pytest.mark.parametrize("name, kwargs, closed", CASES, ids=IDS)
def test_step_with_an_epoch_uses_the_closed_form(name, kwargs, closed):
    sched = getattr(lr_scheduler, name)(make_optimizer(), **kwargs)
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(6)
    assert sched.last_epoch == 6
    assert close(sched.get_last_lr(), [closed(b, 6) for b in LRS])


@pytest.mark.parametrize("name, kwargs, closed", CASES, ids=IDS)
def test_matches_torch_step_by_step(name, kwargs, closed):
    torch = pytest.importorskip("torch")
    ours = getattr(lr_scheduler, name)(make_optimizer(), **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(make_torch_optimizer(torch), **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                   # torch: "lr_scheduler.step() before optimizer.step()"
        expected = epochs(theirs, 25)
    assert epochs(ours, 25) == expected                   # the same float operations: equal, not just close


@settings(max_examples=40, deadline=None)
@given(data=st.data(), name=st.sampled_from(IDS[:-1]), lr=st.floats(1e-6, 1.0), steps=st.integers(1, 40))
def test_matches_torch_for_drawn_settings(data, name, lr, steps):
    torch = pytest.importorskip("torch")
    draw = {
        "StepLR": lambda: dict(step_size=data.draw(st.integers(1, 10)), gamma=data.draw(st.floats(0.01, 1.0))),
        "MultiStepLR": lambda: dict(milestones=data.draw(st.lists(st.integers(1, 40), max_size=5)),
                                    gamma=data.draw(st.floats(0.01, 1.0))),
        "ExponentialLR": lambda: dict(gamma=data.draw(st.floats(0.5, 1.0))),
        "LinearLR": lambda: dict(start_factor=data.draw(st.floats(0.01, 1.0)),
                                 end_factor=data.draw(st.floats(0.0, 1.0)), total_iters=data.draw(st.integers(1, 30))),
        "CosineAnnealingLR": lambda: dict(T_max=data.draw(st.integers(1, 30)),
                                          eta_min=data.draw(st.sampled_from([0.0, 1e-7, lr / 10]))),
    }[name]
    kwargs = draw()
    lrs = (lr, lr / 3)
    ours = getattr(lr_scheduler, name)(make_optimizer(lrs), **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(make_torch_optimizer(torch, lrs), **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = epochs(theirs, steps)
    got = epochs(ours, steps)
    assert all(close(a, b) for a, b in zip(got, expected)), (got, expected)


@pytest.mark.parametrize("name, kwargs, closed", CASES, ids=IDS)
def test_state_dict_round_trip_mid_schedule(name, kwargs, closed, tmp_path):
    opt_a = make_optimizer()
    sched_a = getattr(lr_scheduler, name)(opt_a, **kwargs)
    straight = epochs(sched_a, 12)

    opt_b = make_optimizer()
    sched_b = getattr(lr_scheduler, name)(opt_b, **kwargs)
    epochs(sched_b, 5)
    tinygan.save({"opt": opt_b.state_dict(), "sched": sched_b.state_dict()}, tmp_path / "ckpt.npz")
    ckpt = tinygan.load(tmp_path / "ckpt.npz")

    opt_c = make_optimizer(lrs=(1.0, 1.0))                # a fresh run: scheduler first, then the states
    sched_c = getattr(lr_scheduler, name)(opt_c, **kwargs)
    opt_c.load_state_dict(ckpt["opt"])
    sched_c.load_state_dict(ckpt["sched"])
    assert sched_c.last_epoch == 5 and sched_c.get_last_lr() == straight[5]
    assert epochs(sched_c, 7)[1:] == straight[6:]


def test_lambda_lr_saves_no_functions_but_a_callable_objects_attributes():
    class Warmup:
        def __init__(self, n):
            self.n = n

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.n)

    opt = make_optimizer()
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 0.5 ** e, Warmup(4)])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [None, {"n": 4}] and "optimizer" not in sd
    other = lr_scheduler.LambdaLR(make_optimizer(), [lambda e: 1.0, Warmup(10)])
    other.load_state_dict(sd)
    assert other.lr_lambdas[1].n == 4 and other.lr_lambdas[0](3) == 1.0     # the lambda is not replaced
    assert sd["lr_lambdas"] == [None, {"n": 4}]                              # the dict is left as it was
    with pytest.raises(ValueError, match="expected 2 lr_lambdas"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])


def test_the_scheduled_lr_reaches_the_parameters():
    p = tinygan.tensor(np.zeros(1), requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(4):
        p.grad = tinygan.tensor(np.ones(1))
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.detach().numpy(), [-(1.0 + 1.0 + 0.1 + 0.1)], rtol=1e-12)


def test_subclassing_the_base_and_the_old_name():
    class Halve(lr_scheduler._LRScheduler):
        def get_lr(self):
            return [base * 0.5 ** self.last_epoch for base in self.base_lrs]

    assert issubclass(lr_scheduler._LRScheduler, lr_scheduler.LRScheduler)
    sched = Halve(make_optimizer())
    assert epochs(sched, 2)[-1] == [b / 4 for b in LRS]
    assert "Halve(last_epoch=2" in repr(sched)


def test_errors_are_clear():
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        lr_scheduler.StepLR([], step_size=1)
    with pytest.raises(KeyError, match=r"'initial_lr' is not specified in param_groups\[0\]"):
        lr_scheduler.StepLR(make_optimizer(), step_size=1, last_epoch=3)
    with pytest.raises(ValueError, match="start_factor 0"):
        lr_scheduler.LinearLR(make_optimizer(), start_factor=0)
    assert tinygan.optim.lr_scheduler is lr_scheduler

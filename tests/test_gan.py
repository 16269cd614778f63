"""tinygan.app.gan: the losses against NumPy formulas, which network each step changes, the metrics log's
non-finite check, the conditional models, the toy mixtures' metrics, and that every loss learns the ring."""
import dataclasses
import math

import numpy as np
import pytest

import tinygan
from tinygan.app import gan as gan_mod
from tinygan import backend, optim
from tinygan.app import models, toy
from tinygan.app.gan import GAN, LOSSES, GANConfig, MetricsLog, NonFiniteLossError


def _softplus(x):
    return np.logaddexp(0.0, x)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def make_toy_gan(loss="nonsaturating", hidden=(64, 64), latent_dim=8, lr=1e-3, clip=0.05, d_steps=None,
                 device="cpu", num_classes=0, **options):
    """A small 2-D GAN as the toy example builds it (Adam, or RMSprop for wgan)."""
    config = models.make_config("toy", latent_dim, ",".join(map(str, hidden)), num_classes, (2,))
    G, D = models.build(config)
    G.to(device)
    D.to(device)
    if loss == "wgan":
        opt_g, opt_d = optim.RMSprop(G.parameters(), lr=lr), optim.RMSprop(D.parameters(), lr=lr)
    elif loss == "wgan-gp":                                        # Gulrajani et al.'s Adam settings
        opt_g = optim.Adam(G.parameters(), lr=lr, betas=(0.0, 0.9))
        opt_d = optim.Adam(D.parameters(), lr=lr, betas=(0.0, 0.9))
    else:
        opt_g = optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
        opt_d = optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    return GAN(G, D, opt_g, opt_d, latent_dim, loss=loss, clip_value=clip, device=device,
               d_steps=d_steps or (5 if loss == "wgan" else 1), num_classes=num_classes or None, **options)


def snapshot(module):
    return {name: p.numpy().copy() for name, p in module.named_parameters()}


def same(a, b):
    return all(np.array_equal(a[k], b[k]) for k in a)


# ==================================================================================================
# Losses
# ==================================================================================================
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_losses_match_numpy_formulas(loss, smoothing):
    rng = np.random.default_rng(1)
    lr_, lf = rng.normal(size=(16, 1)) * 3, rng.normal(size=(16, 1)) * 3
    t = 1.0 - smoothing
    d = gan_mod.discriminator_loss(loss, tinygan.tensor(lr_, dtype=np.float64),
                                   tinygan.tensor(lf, dtype=np.float64), t).item()
    g = gan_mod.generator_loss(loss, tinygan.tensor(lf, dtype=np.float64)).item()
    bce = lambda x, y: np.mean(_softplus(x) - y * x)               # noqa: E731
    expected_d = {
        "nonsaturating": bce(lr_, t) + bce(lf, 0.0),
        "minimax": bce(lr_, t) + bce(lf, 0.0),
        "lsgan": 0.5 * (np.mean((lr_ - t) ** 2) + np.mean(lf ** 2)),
        "hinge": np.mean(np.maximum(0, 1 - lr_)) + np.mean(np.maximum(0, 1 + lf)),
        "wgan": np.mean(lf) - np.mean(lr_),
        "wgan-gp": np.mean(lf) - np.mean(lr_),                    # its penalty is added by the step
    }[loss]
    expected_g = {
        "nonsaturating": -np.mean(np.log(_sigmoid(lf))),
        "minimax": np.mean(np.log(1 - _sigmoid(lf))),             # the saturating original
        "lsgan": 0.5 * np.mean((lf - 1) ** 2),
        "hinge": -np.mean(lf),
        "wgan": -np.mean(lf),
        "wgan-gp": -np.mean(lf),
    }[loss]
    assert d == pytest.approx(expected_d, rel=1e-9, abs=1e-12)
    assert g == pytest.approx(expected_g, rel=1e-9, abs=1e-12)


def test_minimax_generator_loss_is_stable_for_large_logits():
    big = tinygan.tensor([[200.0], [-200.0]], requires_grad=True)
    loss = gan_mod.generator_loss("minimax", big)
    loss.backward()
    assert math.isfinite(loss.item()) and np.isfinite(big.grad.numpy()).all()
    assert loss.item() == pytest.approx(-100.0, rel=1e-5)         # mean(log(1 - sigmoid(l))) = -(200 + 0) / 2


def test_unknown_loss_is_rejected():
    with pytest.raises(ValueError, match="GANConfig: loss='foo' is not one of"):
        make_toy_gan(loss="foo")


# ==================================================================================================
# The config
# ==================================================================================================
@pytest.mark.parametrize("settings, message", [
    ({"loss": "foo"}, "loss='foo' is not one of"),
    ({"g_loss": "fm"}, "g_loss='fm' is not one of"),
    ({"latent_dim": 0}, "latent_dim=0 must be an integer >= 1"),
    ({"d_steps": 1.5}, "d_steps=1.5 must be an integer >= 1"),
    ({"d_steps": True}, "d_steps=True must be an integer >= 1"),
    ({"label_smoothing": 1.0}, r"label_smoothing=1.0 must be in \[0, 1\)"),
    ({"clip_value": 0}, "clip_value=0 must be > 0"),
    ({"gp_weight": -1.0}, "gp_weight=-1.0 must be >= 0"),
    ({"r1_gamma": math.nan}, "r1_gamma=nan must be >= 0"),
    ({"ema_decay": 1.0}, r"ema_decay=1.0 must be in \(0, 1\)"),
    ({"num_classes": 0}, "num_classes=0 must be None or an integer >= 1"),
    ({"diffaugment": ("flip",)}, r"diffaugment=\('flip',\) must list transforms of"),
    ({"device": "tpu"}, "device='tpu' is not a device"),
    ({"cuda_graph": True}, "cuda_graph=True needs device 'gpu', got device='cpu'"),
    ({"loss": "wgan", "r1_gamma": 1.0}, "r1_gamma=1.0 is for a discriminator's losses, not loss='wgan'"),
])
def test_a_bad_setting_is_named_with_its_value_in_one_line(settings, message):
    with pytest.raises(ValueError, match="^GANConfig: " + message) as info:
        GANConfig(**{"latent_dim": 8, **settings})
    assert "\n" not in str(info.value)


def test_the_config_keeps_python_numbers_and_a_tuple_of_transforms():
    config = GANConfig(np.int64(8), d_steps=np.int64(2), gp_weight=5, diffaugment="translation, cutout")
    assert type(config.latent_dim) is int and type(config.d_steps) is int and type(config.gp_weight) is float
    assert config.diffaugment == ("translation", "cutout") and config.real_target == 1.0
    assert GANConfig(8, label_smoothing=0.1).real_target == 1.0 - 0.1
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.loss = "wgan"


def test_a_config_or_keywords_build_the_same_gan():
    G, D = tinygan.nn.Linear(2, 2), tinygan.nn.Linear(2, 1)
    opt_g, opt_d = optim.Adam(G.parameters()), optim.Adam(D.parameters())
    config = GANConfig(2, loss="hinge", d_steps=2)
    assert GAN(G, D, opt_g, opt_d, config).config == config
    assert GAN(G, D, opt_g, opt_d, 2, loss="hinge", d_steps=2).config == config
    assert GAN(G, D, opt_g, opt_d, latent_dim=2, loss="hinge", d_steps=2).config == config
    assert GAN(G, D, opt_g, opt_d, config, d_steps=3).config == dataclasses.replace(config, d_steps=3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'lr'"):
        GAN(G, D, opt_g, opt_d, 2, lr=1e-3)


def test_a_replaced_config_changes_the_rules_from_the_next_step():
    real = toy.sample(*toy.mixture("ring"), 16)
    steps = []
    for change in (False, True):
        tinygan.manual_seed(0)
        g = make_toy_gan()
        if change:
            g.config = dataclasses.replace(g.config, loss="hinge")
        with tinygan.no_grad():
            fake = g.generate(g.sample_latent(16))
        steps.append(float(g.discriminator_step(real, fake)["d_loss"]))
    assert steps[1] != steps[0]
    tinygan.manual_seed(0)
    hinge = make_toy_gan("hinge")
    with tinygan.no_grad():
        fake = hinge.generate(hinge.sample_latent(16))
    assert float(hinge.discriminator_step(real, fake)["d_loss"]) == steps[1]


# ==================================================================================================
# Steps: which network each one changes
# ==================================================================================================
@pytest.mark.parametrize("loss", LOSSES)
def test_discriminator_step_changes_only_D_and_generator_step_only_G(loss):
    tinygan.manual_seed(3)
    g = make_toy_gan(loss)
    real = toy.sample(*toy.mixture("ring"), 32)
    with tinygan.no_grad():
        fake = g.generate(g.sample_latent(32))
    G0, D0 = snapshot(g.G), snapshot(g.D)
    metrics = g.discriminator_step(real, fake)
    G1, D1 = snapshot(g.G), snapshot(g.D)
    assert same(G0, G1), "the discriminator step changed G"
    assert not same(D0, D1), "the discriminator step left D unchanged"
    assert set(metrics) == {"d_loss", "d_real", "d_fake"}

    fake = g.generate(g.sample_latent(32))                        # with G's graph, as train_step makes it
    metrics = g.generator_step(fake)
    G2, D2 = snapshot(g.G), snapshot(g.D)
    assert same(D1, D2), "the generator step changed D"
    assert not same(G1, G2), "the generator step left G unchanged"
    assert all(p.requires_grad for p in g.D.parameters())         # D's parameters are unfrozen again
    assert set(metrics) == {"g_loss"}


def test_discriminator_step_refuses_a_fake_batch_attached_to_G():
    g = make_toy_gan()
    real = toy.sample(*toy.mixture("ring"), 8)
    with pytest.raises(ValueError, match="detached"):
        g.discriminator_step(real, g.generate(g.sample_latent(8)))


def test_train_step_does_d_steps_discriminator_updates_per_generator_update(monkeypatch):
    g = make_toy_gan("wgan", d_steps=3)
    calls = []
    d_step, g_step = g.discriminator_step, g.generator_step
    monkeypatch.setattr(g, "discriminator_step", lambda *a: calls.append("D") or d_step(*a))
    monkeypatch.setattr(g, "generator_step", lambda *a: calls.append("G") or g_step(*a))
    batches = [(toy.sample(*toy.mixture("ring"), 16), None) for _ in range(3)]
    metrics = g.train_step(batches)
    assert calls == ["D", "D", "D", "G"]
    assert set(metrics) == set(gan_mod.METRICS)
    assert all(getattr(v, "ndim", None) == 0 for v in metrics.values())   # device arrays, not host floats


def test_wgan_clips_the_critic_weights():
    g = make_toy_gan("wgan", lr=0.5, clip=0.01)
    real = toy.sample(*toy.mixture("ring"), 16)
    with tinygan.no_grad():
        fake = g.generate(g.sample_latent(16))
    g.discriminator_step(real, fake)
    biggest = max(float(np.abs(p.numpy()).max()) for p in g.D.parameters())
    assert biggest <= 0.01 + 1e-7
    assert biggest == pytest.approx(0.01)                         # lr 0.5 pushes some weights to the bound


def _linear_critic(w, b=0.3):
    D = tinygan.nn.Linear(len(w), 1).double()
    with tinygan.no_grad():
        D.weight.copy_(tinygan.tensor([w], dtype=np.float64))
        D.bias.fill_(b)
    return D


def test_gradient_penalty_of_a_linear_critic_is_its_weight_norm_closed_form():
    # D(x) = w.x + b has dD/dx = w at every x_hat, whatever e draws: penalty (|w| - 1)^2, d/dw = 2 (|w| - 1) w/|w|
    w = np.array([0.6, -1.2, 2.0])
    D = _linear_critic(w)
    real, fake = tinygan.randn(5, 3, dtype=np.float64), tinygan.randn(5, 3, dtype=np.float64)
    gp = gan_mod.gradient_penalty(D, real, fake)
    norm = np.linalg.norm(w)
    assert gp.item() == pytest.approx((norm - 1) ** 2, rel=1e-9)
    gp.backward()
    np.testing.assert_allclose(D.weight.grad.numpy()[0], 2 * (norm - 1) * w / norm, rtol=1e-9)
    assert D.bias.grad is None or float(np.abs(D.bias.grad.numpy()).max()) == 0.0   # dD/dx does not involve b


def test_r1_penalty_of_a_linear_critic_is_its_squared_weight_norm():
    w = np.array([0.5, 1.5])
    D = _linear_critic(w)
    real = tinygan.randn(4, 2, dtype=np.float64).requires_grad_()
    out, g = gan_mod._input_gradient(D, real, None, False)
    r1 = gan_mod.r1_penalty(g)
    assert r1.item() == pytest.approx(float(w @ w), rel=1e-12)
    r1.backward()
    np.testing.assert_allclose(D.weight.grad.numpy()[0], 2 * w, rtol=1e-12)


def test_gradient_penalty_pulls_a_critic_gradient_towards_norm_one():
    # a nonlinear critic, descended on the penalty alone: the gradient norms at the interpolates approach 1
    tinygan.manual_seed(0)
    D = tinygan.nn.Sequential(tinygan.nn.Linear(2, 32), tinygan.nn.LeakyReLU(0.2), tinygan.nn.Linear(32, 1))
    opt = tinygan.optim.Adam(D.parameters(), lr=1e-2)
    real, fake = tinygan.randn(64, 2), tinygan.randn(64, 2) + 2
    first = None
    for _ in range(150):
        gp = gan_mod.gradient_penalty(D, real, fake)
        first = gp.item() if first is None else first
        opt.zero_grad()
        gp.backward()
        opt.step()
    assert first > 0.05 and gp.item() < first / 20


def test_r1_with_a_wasserstein_loss_is_refused():
    with pytest.raises(ValueError, match="r1_gamma"):
        make_toy_gan("wgan-gp", r1_gamma=1.0)


def test_reported_discriminator_outputs_are_probabilities_or_raw_scores():
    tinygan.manual_seed(0)
    for loss in LOSSES:
        g = make_toy_gan(loss)
        real = toy.sample(*toy.mixture("ring"), 16)
        with tinygan.no_grad():
            fake = g.generate(g.sample_latent(16))
            raw_real = g.D(real).numpy()
        m = g.discriminator_step(real, fake)
        expected = _sigmoid(raw_real).mean() if loss in ("nonsaturating", "minimax") else raw_real.mean()
        assert float(m["d_real"]) == pytest.approx(float(expected), rel=1e-5, abs=1e-6), loss


# ==================================================================================================
# Metrics log
# ==================================================================================================
def _m(d_loss=1.0, g_loss=1.0):
    f = np.float32
    return {"d_loss": np.asarray(f(d_loss)), "g_loss": np.asarray(f(g_loss)), "d_real": np.asarray(f(0.5)),
            "d_fake": np.asarray(f(0.5))}


def test_metrics_log_reads_back_every_n_steps_and_keeps_rows():
    log = MetricsLog(sync_every=3)
    assert [log.add(s, 1, _m(s)) for s in (1, 2, 3, 4)] == [False, False, True, False]
    assert [r[0] for r in log.rows] == [1, 2, 3]
    log.flush()
    assert log.latest()["step"] == 4 and log.latest()["d_loss"] == 4.0
    arrays = log.as_arrays()
    other = MetricsLog()
    other.load_arrays(arrays)
    assert other.rows == log.rows


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_metrics_log_names_the_step_and_the_loss_that_went_non_finite(bad):
    log = MetricsLog(sync_every=10)
    log.add(7, 1, _m())
    log.add(8, 1, _m(g_loss=bad))
    log.add(9, 1, _m(d_loss=bad))
    with pytest.raises(NonFiniteLossError, match=r"g_loss is (nan|inf) at step 8") as info:
        log.flush()
    assert info.value.step == 8 and info.value.name == "g_loss"
    assert [r[0] for r in log.rows] == [7]


def test_a_poisoned_discriminator_stops_training_at_that_step():
    g = make_toy_gan()
    log = MetricsLog(sync_every=1)
    batches = lambda: [(toy.sample(*toy.mixture("ring"), 16), None)]   # noqa: E731
    log.add(1, 1, g.train_step(batches()))
    next(iter(g.D.parameters())).array[...] = np.nan
    with pytest.raises(NonFiniteLossError, match="d_loss is nan at step 2"):
        log.add(2, 1, g.train_step(batches()))


# ==================================================================================================
# Per-layer gradient norms (--log-grad-norms)
# ==================================================================================================
def expected_grad_norms(module, net):
    """{column: sqrt(sum of squares of the layer's weight and bias gradients)}, in float64 on the host."""
    sums = {}
    for name, p in module.named_parameters():
        g = backend.asnumpy(p.grad.array).astype(np.float64)
        column = f"grad_{net}.{name.rpartition('.')[0]}"
        sums[column] = sums.get(column, 0.0) + float((g * g).sum())
    return {column: math.sqrt(v) for column, v in sums.items()}


@pytest.mark.parametrize("loss,d_steps", [("nonsaturating", 1), ("minimax", 1), ("wgan", 2)])
def test_grad_norms_are_each_layers_gradient_norm_on_every_device(device, loss, d_steps):
    g = make_toy_gan(loss, d_steps=d_steps, device=device, log_grad_norms=True)
    assert g.metric_names == gan_mod.METRICS + ("grad_G.0", "grad_G.2", "grad_G.4", "grad_D.1", "grad_D.3",
                                                "grad_D.5")
    batches = [(toy.sample(*toy.mixture("ring"), 32).to(device), None) for _ in range(d_steps)]
    metrics = g.train_step(batches)
    assert set(metrics) == set(g.metric_names)
    assert all(getattr(v, "ndim", None) == 0 for v in metrics.values())   # left on the device
    # after the step the model still holds them: G's from the G step, D's from its last step (frozen since)
    expected = {**expected_grad_norms(g.G, "G"), **expected_grad_norms(g.D, "D")}
    for column, value in expected.items():
        assert value > 0
        assert float(backend.asnumpy(metrics[column])) == pytest.approx(value, rel=1e-5), column
    assert g.grad_norm_labels() == {"grad_G.0": "G.0 Linear 8->64", "grad_G.2": "G.2 Linear 64->64",
                                    "grad_G.4": "G.4 Linear 64->2", "grad_D.1": "D.1 Linear 2->64",
                                    "grad_D.3": "D.3 Linear 64->64", "grad_D.5": "D.5 Linear 64->1"}


def test_without_log_grad_norms_a_step_reports_only_the_losses():
    g = make_toy_gan()
    assert g.metric_names == gan_mod.METRICS
    assert set(g.train_step([(toy.sample(*toy.mixture("ring"), 16), None)])) == set(gan_mod.METRICS)


@pytest.mark.parametrize("where", ["gpu-standin", "gpu"])
def test_grad_norms_in_a_cuda_graph_equal_the_eager_ones(where):
    """Captured with the step (no host read inside it: the stand-in raises on one), replayed with new numbers."""
    from tinygan import cuda_graph
    if where == "gpu" and not tinygan.device_available("gpu"):
        pytest.skip("no GPU: CuPy or a CUDA device is missing")
    import contextlib
    from conftest import strict_cupy_or_skip
    with strict_cupy_or_skip().standing_in() if where == "gpu-standin" else contextlib.nullcontext():
        runs = []
        for graph in (True, False):
            tinygan.manual_seed(0)
            g = make_toy_gan(device="gpu", log_grad_norms=True, cuda_graph=graph)
            rng = np.random.default_rng(1)
            data = [[(tinygan.tensor(rng.standard_normal((16, 2)).astype(np.float32), device="gpu"), None)]
                    for _ in range(5)]
            with contextlib.nullcontext() if graph else backend.drawing_from("gpu", cuda_graph.CounterRandom(0)):
                metrics = [g.train_step(group) for group in data]
            runs.append([{k: float(backend.asnumpy(v)) for k, v in m.items()} for m in metrics])
            if graph:
                assert g.graph_step.graph.launches == 4                       # 1 eager; 2 captured; 2-5 launched
        for a, b in zip(*runs):
            assert set(a) == set(b) and len(a) == 10
            for k in a:
                assert a[k] == pytest.approx(b[k], rel=1e-5, abs=1e-6), k
        assert runs[0][3]["grad_G.0"] != runs[0][4]["grad_G.0"]                # each launch computes anew


def test_metrics_log_keeps_extra_columns_and_names_a_non_finite_one():
    columns = gan_mod.METRICS + ("grad_G.0",)
    log = MetricsLog(sync_every=2, columns=columns)
    log.add(1, 1, {**_m(), "grad_G.0": np.asarray(np.float32(0.25))})
    log.add(2, 1, {**_m(), "grad_G.0": np.asarray(np.float32(0.5))})
    assert log.latest()["grad_G.0"] == 0.5 and log.as_arrays()["grad_G.0"].tolist() == [0.25, 0.5]
    other = MetricsLog(columns=columns)
    other.load_arrays(log.as_arrays())
    assert other.rows == log.rows
    with pytest.raises(KeyError):
        MetricsLog().load_arrays({"step": [1], "epoch": [1]})
    log.add(3, 1, {**_m(), "grad_G.0": np.asarray(np.float32(np.inf))})
    with pytest.raises(NonFiniteLossError, match=r"grad_G.0 is inf at step 3"):
        log.flush()


# ==================================================================================================
# Models
# ==================================================================================================
@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
@pytest.mark.parametrize("num_classes", [0, 10])
def test_image_models_have_the_documented_shapes(arch, num_classes):
    G, D = models.build(models.make_config(arch, 100, None, num_classes))
    z = tinygan.randn(4, 100)
    args = (tinygan.tensor(np.array([0, 3, 7, 9])),) if num_classes else ()
    x = G(z, *args)
    assert x.shape == (4, 1, 28, 28)
    assert float(np.abs(x.numpy()).max()) <= 1.0
    assert D(x, *args).shape == (4, 1)


def test_mlp_models_are_the_seed_networks():
    G, D = models.build(models.make_config("mlp", 100))
    assert [tuple(p.shape) for p in G.parameters()] == [(256, 100), (256,), (512, 256), (512,), (784, 512), (784,)]
    assert [tuple(p.shape) for p in D.parameters()] == [(512, 784), (512,), (256, 512), (256,), (1, 256), (1,)]


def test_conditional_generator_uses_the_labels():
    G, _ = models.build(models.make_config("mlp", 16, "32", 10))
    z = tinygan.randn(1, 16).expand(10, 16)
    x = G(z, tinygan.tensor(np.arange(10))).numpy()
    assert not np.allclose(x[0], x[1])
    with pytest.raises(ValueError, match="conditional"):
        G(z, None)


def test_bad_hidden_sizes_are_rejected():
    with pytest.raises(ValueError, match="--hidden"):
        models.make_config("mlp", 100, "256,x")
    with pytest.raises(ValueError, match="two channel counts"):
        models.make_config("dcgan", 100, "64,128,256")


# ==================================================================================================
# Toy mixtures and their metrics
# ==================================================================================================
def test_mixtures_are_pacgans_ring_and_grid():
    ring, std = toy.mixture("ring")
    assert ring.shape == (8, 2) and std == 0.01
    assert np.allclose(np.linalg.norm(ring, axis=1), 1.0)
    grid, std = toy.mixture("grid")
    assert grid.shape == (25, 2) and std == 0.05
    assert sorted(set(grid[:, 0].tolist())) == [-4, -2, 0, 2, 4]
    tinygan.manual_seed(0)
    x = toy.sample(ring, 0.01, 4000).numpy()
    m = toy.mode_metrics(x, ring, 0.01)
    assert m["modes"] == 8 and m["high_quality"] > 99 and m["reverse_kl"] < 0.01


def test_mode_metrics_on_known_samples():
    modes, std = toy.mixture("ring")
    one_mode = np.repeat(modes[:1], 100, axis=0)
    m = toy.mode_metrics(one_mode, modes, std)
    assert (m["modes"], m["high_quality"]) == (1, 100.0)
    assert m["reverse_kl"] == pytest.approx(math.log(8))
    half = np.concatenate([modes[:1] + 0.5, modes[:4]])              # one far sample, four on modes
    m = toy.mode_metrics(half, modes, std)
    assert (m["modes"], m["high_quality"]) == (4, 80.0)
    assert m["reverse_kl"] == pytest.approx(math.log(2))
    assert toy.mode_metrics(np.zeros((5, 2)), modes, std)["reverse_kl"] == math.inf


# ==================================================================================================
# Every loss learns the ring
# ==================================================================================================
RING_STEPS = {"nonsaturating": 1500, "minimax": 1500, "lsgan": 1500, "hinge": 1500, "wgan": 1000}


def train_ring(loss, steps, seed=0, batch_size=128):
    """Train a small GAN on the 8-Gaussian ring; returns (mode metrics before, after) over 2,500 samples."""
    tinygan.manual_seed(seed)
    g = make_toy_gan(loss)
    modes, std = toy.mixture("ring")
    z = tinygan.tensor(np.random.default_rng(seed).standard_normal((toy.NUM_EVAL_SAMPLES, 8)).astype(np.float32))
    evaluate = lambda: toy.mode_metrics(g.generate(z).numpy(), modes, std)   # noqa: E731
    with tinygan.no_grad():
        before = evaluate()
    for _ in range(steps):
        g.train_step([(toy.sample(modes, std, batch_size), None) for _ in range(g.config.d_steps)])
    with tinygan.no_grad():
        return before, evaluate()


@pytest.mark.parametrize("loss", [loss for loss in LOSSES if loss != "wgan-gp"])
def test_every_loss_captures_most_ring_modes(loss):
    # wgan-gp is left out: with the toy's Adam lr 1e-3 it found 6 of 8 modes after 500 steps (5 critic steps
    # each) and fewer later (3 at 1000, 1 at 1500); its check is on MNIST (test_examples, QUALITY.md)
    before, after = train_ring(loss, RING_STEPS[loss])
    assert before["modes"] < 6                                     # the untrained G does not pass by chance
    assert after["modes"] >= 6, f"{loss}: {after}"

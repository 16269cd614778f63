"""The remedies for mode collapse and instability piece by piece: packing, the minibatch standard deviation
and DiffAugment against NumPy loops and by float64 gradchecks over hypothesis-drawn shapes; feature
matching and the moving average of G against their formulas; the learning-rate schedules; --recipe; and one
clear line for every bad combination of options. Whole runs and their bit-identical resumption are in
tests/test_examples.py."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygan
from tinygan import nn, optim
from tinygan.app import augment, cli, factories, models, toy
from tinygan.app.errors import CLIError
from tinygan.app.gan import EMA, GAN, feature_matching_loss
from tinygan.app.options import RECIPES, apply_recipe, build_parser, config_from_args, validate
from tinygan.gradcheck import gradcheck


def toy_config(**remedies):
    return models.make_config("toy", 4, "16,16", 0, (2,), **remedies)


def make_gan(config, **options):
    G, D = models.build(config)
    opt_g, opt_d = optim.Adam(G.parameters(), lr=1e-3), optim.Adam(D.parameters(), lr=1e-3)
    return GAN(G, D, opt_g, opt_d, config["latent_dim"], **options)


def snapshot(module):
    return {name: a.copy() for name, a in module.state_dict().items()}


# ==================================================================================================
# Packing
# ==================================================================================================
@pytest.mark.parametrize("shape", [(6, 3), (4, 2, 3, 3)])
def test_pack_joins_consecutive_samples_along_dim_1(shape):
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    y = models.Pack(2)(tinygan.tensor(x)).numpy()
    np.testing.assert_array_equal(y, np.concatenate([x[0::2], x[1::2]], axis=1))   # pack k = samples 2k, 2k+1


def test_pack_refuses_a_batch_it_cannot_cut():
    with pytest.raises(ValueError, match="batch of 5 samples cannot be cut into packs of 2"):
        models.Pack(2)(tinygan.zeros(5, 3))


@pytest.mark.parametrize("arch,conditional,width", [("toy", 0, 2 * 2), ("mlp", 0, 2 * 784), ("mlp", 10, 2 * 794),
                                                    ("dcgan", 0, 2 * 1), ("dcgan", 10, 2 * 11)])
def test_packed_d_is_twice_as_wide_and_scores_each_pack(arch, conditional, width):
    shape = (2,) if arch == "toy" else (1, 28, 28)
    config = models.make_config(arch, 8, None, conditional, shape, pack=2)
    _, D = models.build(config)
    first = next(m for m in D.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
    assert (first.in_features if isinstance(first, nn.Linear) else first.in_channels) == width
    x = tinygan.randn(6, *shape)
    out = D(x, tinygan.tensor(np.arange(6) % 10)) if conditional else D(x)
    assert out.shape == (3, 1)


# ==================================================================================================
# Minibatch standard deviation
# ==================================================================================================
def mbstd_reference(x, group_size):
    n = x.shape[0]
    g = n if group_size is None else min(group_size, n)
    y = x.reshape(g, n // g, *x.shape[1:])
    std = np.sqrt(((y - y.mean(axis=0)) ** 2).mean(axis=0) + 1e-8)         # (N/G, ...)
    stat = std.reshape(n // g, -1).mean(axis=1)                              # one number per group
    column = stat[np.arange(n) % (n // g)]                                  # sample n is in group n mod N/G
    extra = np.broadcast_to(column.reshape(n, 1, *([1] * (x.ndim - 2))), (n, 1) + x.shape[2:])
    return np.concatenate([x, extra], axis=1)


@given(groups=st.integers(1, 3), per_group=st.integers(1, 3), features=st.sampled_from([(3,), (2, 2, 3)]),
       whole=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_mbstd_forward_against_numpy_and_gradcheck(groups, per_group, features, whole, seed):
    n = groups * per_group
    group_size = None if whole else per_group
    x = np.random.default_rng(seed).standard_normal((n,) + features)
    layer = models.MinibatchStdDev(group_size)
    y = layer(tinygan.tensor(x))
    assert y.shape == (n, features[0] + 1) + features[1:]
    np.testing.assert_allclose(y.numpy(), mbstd_reference(x, group_size), rtol=1e-12, atol=1e-14)
    if n > 1:                                                          # one sample: sqrt(0 + eps), a kink-free const
        assert gradcheck(layer, [tinygan.tensor(x, requires_grad=True)])


def test_mbstd_of_a_collapsed_batch_is_tiny_and_refuses_a_bad_group():
    x = tinygan.tensor(np.ones((4, 3)))
    assert np.allclose(models.MinibatchStdDev()(x).numpy()[:, 3], 1e-4)  # sqrt(1e-8): no spread at all
    with pytest.raises(ValueError, match="cannot be cut into groups of 3"):
        models.MinibatchStdDev(3)(tinygan.zeros(4, 3))


@pytest.mark.parametrize("arch", ["toy", "dcgan"])
def test_mbstd_sits_before_ds_last_layer(arch):
    shape = (2,) if arch == "toy" else (1, 28, 28)
    _, D = models.build(models.make_config(arch, 8, None, 0, shape, mbstd=True, mbstd_group=2))
    layers = list(D)
    at = next(i for i, m in enumerate(layers) if isinstance(m, models.MinibatchStdDev))
    assert isinstance(layers[-1], nn.Linear) and at == len(layers) - (2 if arch == "toy" else 3)   # dcgan: Flatten
    assert layers[at].group_size == 2 and D(tinygan.randn(4, *shape)).shape == (4, 1)


# ==================================================================================================
# DiffAugment
# ==================================================================================================
def translate_reference(x, tx, ty):
    n, c, h, w = x.shape
    y = np.zeros_like(x)
    for k in range(n):
        for i in range(h):
            for j in range(w):
                if 0 <= i + tx[k] < h and 0 <= j + ty[k] < w:
                    y[k, :, i, j] = x[k, :, i + tx[k], j + ty[k]]
    return y


def cutout_reference(x, ox, oy, size):
    """Zhao et al.'s rule pixel by pixel: the square's rows and columns clamped into the image."""
    n, c, h, w = x.shape
    y = x.copy()
    for k in range(n):
        for a in range(size[0]):
            for b in range(size[1]):
                i = min(max(ox[k] - size[0] // 2 + a, 0), h - 1)
                j = min(max(oy[k] - size[1] // 2 + b, 0), w - 1)
                y[k, :, i, j] = 0
    return y


images = st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(2, 6), st.integers(2, 6))


@given(shape=images, seed=st.integers(0, 2 ** 16))
def test_translation_against_a_loop_and_gradcheck(shape, seed):
    rng = np.random.default_rng(seed)
    n, _, h, w = shape
    x = rng.standard_normal(shape)
    tx, ty = rng.integers(-h, h + 1, n), rng.integers(-w, w + 1, n)
    y = augment.translate(tinygan.tensor(x), tx, ty)
    np.testing.assert_array_equal(y.numpy(), translate_reference(x, tx, ty))
    assert gradcheck(lambda x: augment.translate(x, tx, ty), [tinygan.tensor(x, requires_grad=True)])


@given(shape=images, seed=st.integers(0, 2 ** 16))
def test_cutout_against_a_loop_and_gradcheck(shape, seed):
    rng = np.random.default_rng(seed)
    n, _, h, w = shape
    size = augment.cutout_size(h, w)
    x = rng.standard_normal(shape)
    ox, oy = rng.integers(0, h + 1, n), rng.integers(0, w + 1, n)
    y = augment.cut_out(tinygan.tensor(x), ox, oy)
    np.testing.assert_array_equal(y.numpy(), cutout_reference(x, ox, oy, size))
    assert gradcheck(lambda x: augment.cut_out(x, ox, oy), [tinygan.tensor(x, requires_grad=True)])


def test_random_offsets_stay_in_range_and_follow_the_seed():
    tinygan.manual_seed(0)
    draws = augment._randint(-4, 5, 2000, "cpu")
    assert draws.min() == -4 and draws.max() == 4 and len(np.unique(draws)) == 9
    x = tinygan.ones(64, 1, 28, 28)
    tinygan.manual_seed(1)
    a = augment.diff_augment(x, ("translation",)).numpy()
    tinygan.manual_seed(1)
    b = augment.diff_augment(x, ("translation",)).numpy()
    np.testing.assert_array_equal(a, b)
    zero_rows = (a == 0).all(axis=3).sum(axis=(1, 2))                # rows that moved in from outside
    zero_cols = (a == 0).all(axis=2).sum(axis=(1, 2))
    assert zero_rows.max() <= 4 and zero_cols.max() <= 4 and (zero_rows + zero_cols).max() > 0   # s = 28/8 -> 4
    c = augment.diff_augment(x, ("cutout",)).numpy()
    assert ((c == 0).sum(axis=(1, 2, 3)) <= 14 * 14).all() and (c == 0).any()


def test_diffaugment_policy_and_input_errors():
    assert augment.parse_policy("translation, cutout") == ("translation", "cutout")
    for bad in ("", "color", "translation,translation"):
        with pytest.raises(ValueError, match="--diffaugment"):
            augment.parse_policy(bad)
    with pytest.raises(ValueError, match=r"images \(N, C, H, W\), got \(4, 2\)"):
        augment.diff_augment(tinygan.zeros(4, 2), ("cutout",))


def test_gan_augments_both_batches_d_sees():
    seen = []
    g = make_gan(toy_config(), diffaugment=("translation",))
    g.augment = lambda x: seen.append(x.shape) or x
    real = toy.sample(*toy.mixture("ring"), 8)
    g.train_step([(real, None)])
    assert len(seen) == 3                               # D step: real and fake; G step: fake


# ==================================================================================================
# Feature matching
# ==================================================================================================
def test_discriminator_features_are_what_the_last_layer_sees():
    tinygan.manual_seed(0)
    for config, labels in ((toy_config(mbstd=True), None),
                           (models.make_config("dcgan", 8, "4,8", 10, (1, 28, 28)), tinygan.tensor(np.arange(4)))):
        _, D = models.build(config)
        x = tinygan.randn(4, *models.parse_sizes(config["out_shape"]))
        f, last = models.discriminator_features(D, x, labels)
        assert f.ndim == 2 and f.shape[0] == 4
        expected = D(x, labels) if labels is not None else D(x)
        if isinstance(last, nn.Linear):
            np.testing.assert_allclose(last(f).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_feature_matching_loss_is_the_squared_distance_of_the_feature_means():
    tinygan.manual_seed(0)
    _, D = models.build(toy_config())
    real, fake = tinygan.randn(16, 2), tinygan.randn(16, 2)
    f_real = models.discriminator_features(D, real)[0].numpy()
    f_fake = models.discriminator_features(D, fake)[0].numpy()
    expected = ((f_real.mean(0) - f_fake.mean(0)) ** 2).sum()
    assert feature_matching_loss(D, real, fake).item() == pytest.approx(expected, rel=1e-5)


def test_feature_matching_trains_g_only_and_needs_the_real_batch():
    tinygan.manual_seed(0)
    g = make_gan(toy_config(), g_loss="feature-matching")
    real = toy.sample(*toy.mixture("ring"), 32)
    G0, D0 = snapshot(g.G), snapshot(g.D)
    fake = g.generate(g.sample_latent(32))
    expected = feature_matching_loss(g.D, real, fake.detach()).item()
    metrics = g.generator_step(fake, real=real)
    assert float(metrics["g_loss"]) == pytest.approx(expected, rel=1e-6)
    assert all(np.array_equal(D0[k], v) for k, v in snapshot(g.D).items())
    assert not all(np.array_equal(G0[k], v) for k, v in snapshot(g.G).items())
    with pytest.raises(ValueError, match="feature matching needs the real batch"):
        g.generator_step(g.generate(g.sample_latent(4)))
    with pytest.raises(ValueError, match="GANConfig: g_loss='fm' is not one of"):
        make_gan(toy_config(), g_loss="fm")


# ==================================================================================================
# The moving average of G
# ==================================================================================================
def test_ema_warm_up_update_and_batchnorm_buffers():
    tinygan.manual_seed(0)
    G = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    G_ema = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = EMA(G, G_ema, decay=0.5)
    assert not G_ema.training and all(not p.requires_grad for p in G_ema.parameters())
    assert [round(min(0.5, (1 + t) / (10 + t)), 12) for t in range(3)] == [0.1, round(2 / 11, 12), 0.25]
    expected = {k: v.copy() for k, v in G.state_dict().items()}
    for t in range(12):
        assert ema.current_decay() == pytest.approx(min(0.5, (1 + t) / (10 + t)))
        G(tinygan.randn(5, 3))                                       # BatchNorm's running buffers move
        for p in G.parameters():
            p.array += 0.1
        d = ema.current_decay()
        for name, value in G.state_dict().items():
            buffer = "running" in name or "num_batches" in name           # copied, not averaged
            expected[name] = value if buffer else d * expected[name] + (1 - d) * value
        ema.update()
    for name, value in G_ema.state_dict().items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-6, err_msg=name)
    assert ema.updates == 12 and ema.current_decay() == 0.5
    with pytest.raises(ValueError, match=r"decay must be in \(0, 1\)"):
        EMA(G, G_ema, 1.0)


def test_gan_updates_g_ema_after_each_step_and_samples_from_it():
    tinygan.manual_seed(0)
    config = toy_config()
    g = make_gan(config, G_ema=models.build_generator(config), ema_decay=0.9)
    assert g.sampler is g.G_ema and g.G_ema is not g.G
    real = toy.sample(*toy.mixture("ring"), 16)
    for _ in range(3):
        g.train_step([(real, None)])
    assert g.ema.updates == 3
    assert not all(np.array_equal(a, b) for a, b in zip(g.G.state_dict().values(), g.G_ema.state_dict().values()))


# ==================================================================================================
# Learning-rate schedules and TTUR
# ==================================================================================================
@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_schedules_decay_both_learning_rates_to_zero_once_per_epoch(schedule):
    config = dict(toy_config(), loss="nonsaturating", d_steps=1, lr=1e-3, lr_g=1e-3, lr_d=4e-3, beta1=0.5,
                  label_smoothing=False, clip=0.05, lr_schedule=schedule, schedule_epochs=4, ema=0.0)
    g = factories.make_gan(config, "cpu")
    schedulers = factories.make_schedulers(config, g)
    rates = [(g.opt_g.param_groups[0]["lr"], g.opt_d.param_groups[0]["lr"])]
    for _ in range(4):
        for s in schedulers:
            s.step()
        rates.append((g.opt_g.param_groups[0]["lr"], g.opt_d.param_groups[0]["lr"]))
    factor = {"linear": lambda e: 1 - e / 4, "cosine": lambda e: (1 + math.cos(math.pi * e / 4)) / 2}[schedule]
    for e, (lr_g, lr_d) in enumerate(rates):
        assert lr_g == pytest.approx(1e-3 * factor(e), abs=1e-15) and lr_d == pytest.approx(4e-3 * factor(e), abs=1e-15)
    assert factories.make_schedulers(dict(config, lr_schedule="constant"), g) == []


# ==================================================================================================
# Options: --recipe, and one clear line for each bad combination
# ==================================================================================================
def parsed(arch, argv):
    args = build_parser(arch).parse_args(argv)
    apply_recipe(args, arch)
    return args


def test_recipe_fills_only_what_was_not_given():
    plain = parsed("toy", [])
    assert all(getattr(plain, k) is None for k in RECIPES["toy"]["best"])
    best = parsed("toy", ["--recipe", "best"])
    assert all(getattr(best, k) == v for k, v in RECIPES["toy"]["best"].items())
    assert parsed("toy", ["--recipe", "best", "--ema", "0.5"]).ema == 0.5
    config = config_from_args("toy", best)
    assert config["recipe"] == "best" and config["ema"] == RECIPES["toy"]["best"]["ema"]
    explicit = config_from_args("toy", parsed("toy", [f"--{k.replace('_', '-')}={v}"
                                                      for k, v in RECIPES["toy"]["best"].items()]))
    assert dict(explicit, recipe="best") == config                 # the recipe is its options, nothing more


@pytest.mark.parametrize("arch", ["toy", "mlp"])
def test_a_wgan_loss_given_with_the_recipe_drops_its_r1(arch):
    """--recipe best brings R1; --loss wgan-gp (refused with --r1) wins over it, as any option given does."""
    assert parsed(arch, ["--recipe", "best"]).r1 == RECIPES[arch]["best"]["r1"]
    for loss in ("wgan", "wgan-gp"):
        args = parsed(arch, ["--recipe", "best", "--loss", loss])
        assert args.r1 is None
        validate(args, "prog")                                      # no "--r1 is for the other losses"
    with pytest.raises(CLIError, match="--r1 is for the other losses"):
        validate(parsed(arch, ["--recipe", "best", "--loss", "wgan-gp", "--r1", "1"]), "prog")


def test_quality_measures_the_toy_recipe_that_the_examples_run():
    """benchmarks/quality.py's "recipe best" row trains exactly the options of --recipe best, so QUALITY.md's
    numbers are the recipe's."""
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "quality.py"
    spec = importlib.util.spec_from_file_location("quality", path)
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    options = quality.REMEDIES[quality.RECIPE_ROW]
    assert config_from_args("toy", parsed("toy", options)) == dict(
        config_from_args("toy", parsed("toy", ["--recipe", "best"])), recipe="plain")


def test_the_plain_recipe_is_todays_models():
    """Without options the models are the seed's: same parameter names, so old checkpoints load."""
    for arch, shape, names in (("toy", (2,), ["1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"]),
                               ("dcgan", (1, 28, 28), ["0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias",
                                                       "3.running_mean", "3.running_var", "3.num_batches_tracked",
                                                       "6.weight", "6.bias"])):
        config = config_from_args(arch, parsed(arch, []))
        assert (config["pack"], config["mbstd"], config["spectral_norm"], config["ema"], config["g_loss"],
                config["lr_schedule"], config["diffaugment"]) == (1, False, False, 0.0, "default", "constant", "")
        assert list(models.build(config)[1].state_dict()) == names


@pytest.mark.parametrize("arch,argv,message", [
    ("toy", ["--pack", "0"], "--pack must be a positive integer, got 0"),
    ("toy", ["--pack", "3"], "--batch-size 256 is not a multiple of --pack 3"),
    ("toy", ["--mbstd-group", "4"], "--mbstd-group goes with --mbstd"),
    ("toy", ["--mbstd", "--mbstd-group", "3"], "--mbstd-group 3 does not divide the 256 samples"),
    ("toy", ["--mbstd", "--mbstd-group", "3", "--pack", "2"], "does not divide the 128 packs"),
    ("toy", ["--ema", "1"], "--ema must be a decay in (0, 1)"),
    ("toy", ["--lr-g", "0"], "--lr-g must be a positive number"),
    ("toy", ["--lr-d", "nan"], "--lr-d must be a positive number"),
    ("toy", ["--diffaugment", "translation"], "--diffaugment transforms images; toy_2d_gan.py trains on 2-D points"),
    ("toy", ["--lr-schedule", "step"], "invalid choice: 'step'"),
    ("toy", ["--recipe", "fancy"], "invalid choice: 'fancy'"),
    ("toy", ["--g-loss", "fm"], "invalid choice: 'fm'"),
    ("mlp", ["--diffaugment", "rotate"], "--diffaugment takes a comma-separated list of translation, cutout"),
])
def test_bad_remedy_options_are_one_line_and_exit_2(tmp_path, arch, argv, message, capsys):
    assert cli.main(argv + ["--out", str(tmp_path / "x"), "--device", "cpu"], arch=arch) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "x").exists()


def test_resume_keeps_the_remedies_and_stops_where_the_schedule_ends(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["--device", "cpu", "--quiet"]
    assert cli.main(["--steps-per-epoch", "2", "--epochs", "1", "--pack", "2", "--lr-schedule", "linear",
                     "--out", str(out)] + common, arch="toy") == 0
    resume = ["--resume", str(out / "checkpoint.npz")] + common
    assert cli.main(resume + ["--epochs", "2"], arch="toy") == 2
    assert ("--epochs 2: the run's --lr-schedule linear brings the learning rates to 0 at epoch 1"
            in capsys.readouterr().err)
    ckpt = tinygan.load(out / "checkpoint.npz")
    ckpt["config"]["lr_schedule"] = "constant"                     # the same run without a schedule
    tinygan.save(ckpt, out / "checkpoint.npz")
    assert cli.main(resume + ["--epochs", "2", "--pack", "4"], arch="toy") == 2
    assert "--pack 4 differs from the checkpoint's 2" in capsys.readouterr().err
    assert cli.main(resume + ["--epochs", "2", "--recipe", "best"], arch="toy") == 2
    assert "--recipe best differs from the checkpoint's plain" in capsys.readouterr().err

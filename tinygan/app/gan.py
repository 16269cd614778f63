"""Training a GAN: the losses, one training step, and the metrics it reports.

A training step (Goodfellow et al. 2014, Algorithm 1) is ``d_steps`` discriminator updates followed by one
generator update, each network with its own optimizer:

1. Discriminator step, on a real batch and a fake batch that is DETACHED from the generator's graph, so the
   discriminator's loss cannot change the generator: ``D`` learns to score real high and fake low.
2. Generator step, through the (just updated) discriminator: ``G`` learns to make ``D`` score its fakes high.
   ``D``'s parameters stop asking for gradients during this step, so ``D`` is left exactly as it was.

The losses, written with the discriminator's raw outputs ("logits" l; D(x) = sigmoid(l) for the first three):

    nonsaturating  D: BCE(l_real, 1) + BCE(l_fake, 0)      G: BCE(l_fake, 1) = mean(softplus(-l_fake))
    minimax        D: as above                             G: mean(log(1 - D(G(z)))) = -mean(softplus(l_fake))
    lsgan          D: (mean((l_real-1)^2) + mean(l_fake^2))/2   G: mean((l_fake-1)^2)/2
    hinge          D: mean(relu(1 - l_real)) + mean(relu(1 + l_fake))   G: -mean(l_fake)
    wgan           D: mean(l_fake) - mean(l_real), weights clipped to [-c, c]   G: -mean(l_fake)
    wgan-gp        D: as wgan, plus lambda * mean((||dD(x_hat)/dx_hat|| - 1)^2)    G: -mean(l_fake)

WGAN-GP (Gulrajani et al. 2017) keeps the critic 1-Lipschitz with a gradient penalty instead of clipping:
x_hat = e real + (1 - e) fake with e ~ U(0, 1) per sample, and D's gradient at x_hat pushed towards norm 1.
``r1_gamma`` (Mescheder et al. 2018) adds (gamma / 2) mean(||dD(x)/dx||^2) over the real batch to D's loss of
the other losses. Both differentiate a gradient: ``tinygan.autograd.grad(..., create_graph=True)`` records
D's backward so that D's loss can be differentiated through it (docs/08_higher_order.md). The critic must
not use BatchNorm (its second derivative is not in tinygan, and a per-batch norm mixes the samples' gradients).

"minimax" is the game as first written; its generator gradient vanishes while D wins easily, which is why
"nonsaturating" (G maximises log D(G(z)) instead) is the default.

Remedies for mode collapse and instability (the examples' options in brackets, all off by default, each saved
in the checkpoint and resumed bit-exactly):

- packing [--pack M] (PacGAN, Lin et al. 2018) and the minibatch standard deviation [--mbstd] (Karras et al.
  2018) change D's architecture (tinygan/app/models.py): D scores M samples at a time, or sees the spread of
  the batch, so a G that puts every sample on one mode is easy to catch.
- feature matching [--g-loss feature-matching] (Salimans et al. 2016): G's loss becomes
  ||mean f(real) - mean f(G(z))||^2 (sum of squares over the features), f = D's features before its last
  layer, on the step's last real batch (a constant to G) and the fake batch; D keeps its loss. G then matches
  the statistics D looks at instead of chasing D's current verdict.
- an exponential moving average of G's weights for sampling [--ema DECAY] (``EMA``): after every generator
  step G_ema <- d_t G_ema + (1 - d_t) G with d_t = min(DECAY, (1 + t) / (10 + t)), t the number of earlier
  updates (the warm-up of TensorFlow's ExponentialMovingAverage with num_updates), so the first steps' bad
  generators are forgotten quickly instead of weighing in for ~1/(1 - DECAY) steps. BatchNorm's running
  buffers are copied from G, as StyleGAN2-ADA does: they are themselves running averages of G's recent
  activations, and averaging them again would mix in statistics of much older generators. (Neither is exact
  for G_ema's averaged weights; recomputing the statistics through G_ema would be.) G_ema trains nothing;
  sample pictures, ``python -m tinygan.sample`` and ``python -m tinygan.evaluate`` use it when present.
- DiffAugment [--diffaugment translation,cutout] (Zhao et al. 2020; tinygan/app/augment.py): every batch D
  sees, real and fake, in both steps, is translated and cut out by differentiable ops.
- spectral normalisation [--spectral-norm] (Miyato et al. 2018): every Linear and Conv2d of D normalised by
  ``tinygan.nn.utils.spectral_norm``.
- separate learning rates [--lr-g, --lr-d] (TTUR, Heusel et al. 2017) and a schedule [--lr-schedule] stepped
  once per epoch by ``tinygan.optim.lr_scheduler`` (in tinygan/app/training.py).

Each step returns its metrics as 0-d arrays left on the device: reading a GPU number back to the host waits
for all queued work, so ``MetricsLog`` collects them and reads them back only every few steps.

``GAN(..., log_grad_norms=True)`` (the examples' ``--log-grad-norms``) adds one metric per layer: the L2 norm
of that layer's gradient, sqrt(sum of g^2 over its weight and bias), named ``grad_G.0``, ``grad_D.1``, ... after
the parameter names (``0.weight`` and ``0.bias`` are layer ``0``). G's norms come from the generator step, D's
from the (last) discriminator step, read after ``backward`` and before the update; they are 0-d device arrays
like the losses, so they cost no host synchronisation and are captured with the rest of a CUDA graph step.
Watching them shows what the losses hide: G's gradients shrinking towards zero while D wins (the vanishing
gradient of the minimax loss), or D's layers growing.

``GAN(..., cuda_graph=True)`` (GPU only) records the whole step as one CUDA graph and replays it
(tinygan/app/graph_step.py): same results, one launch per step, no host synchronisation.

The settings above live in one ``GANConfig``, checked when it is made: ``GAN(G, D, opt_g, opt_d, 100,
loss="hinge")`` is short for ``GAN(G, D, opt_g, opt_d, GANConfig(100, loss="hinge"))``.
"""
import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Optional

import numpy as np

import tinygan
from tinygan import functional as F
from tinygan.app import augment as augmentation
from tinygan.app import models
from tinygan.app.graph_step import CudaGraphStep
from tinygan.core import array_backend as backend
from tinygan.core import no_grad

LOSSES = ("nonsaturating", "minimax", "lsgan", "hinge", "wgan", "wgan-gp")
WASSERSTEIN = ("wgan", "wgan-gp")                    # a critic's raw score, G's loss -mean(l_fake)
G_LOSSES = ("default", "feature-matching")            # default: the --loss's own generator loss
METRICS = ("d_loss", "g_loss", "d_real", "d_fake")  # d_real, d_fake: D(x) and D(G(z)), batch means
GRAD_NORM_PREFIX = "grad_"                            # grad_G.0: the gradient norm of G's layer "0"


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite: training stops, naming the step and the loss."""

    def __init__(self, step, name, value):
        self.step, self.name, self.value = step, name, value
        super().__init__(f"{name} is {value} at step {step}: training stopped (try a lower --lr)")


# ==================================================================================================
# Losses
# ==================================================================================================
def _mean_square(x, target):
    d = x - target
    return (d * d).mean()


def discriminator_loss(loss, real_out, fake_out, real_target=1.0):
    """The discriminator's loss on its raw outputs for a real and a fake batch (lower is better for D).

    ``real_target`` below 1 (0.9) is one-sided label smoothing: only the real targets are softened.
    """
    if loss in ("nonsaturating", "minimax"):
        ones = tinygan.full(real_out.shape, real_target, dtype=real_out.dtype, device=real_out.device)
        zeros = tinygan.zeros(*fake_out.shape, dtype=fake_out.dtype, device=fake_out.device)
        return (F.binary_cross_entropy_with_logits(real_out, ones)
                + F.binary_cross_entropy_with_logits(fake_out, zeros))
    if loss == "lsgan":
        return (_mean_square(real_out, real_target) + _mean_square(fake_out, 0.0)) * 0.5
    if loss == "hinge":
        return tinygan.relu(1.0 - real_out).mean() + tinygan.relu(1.0 + fake_out).mean()
    if loss in WASSERSTEIN:
        return fake_out.mean() - real_out.mean()
    raise ValueError(f"unknown GAN loss {loss!r}: expected one of {LOSSES}")


def generator_loss(loss, fake_out):
    """The generator's loss on the discriminator's raw outputs for a fake batch (lower is better for G)."""
    if loss == "nonsaturating":
        ones = tinygan.ones(*fake_out.shape, dtype=fake_out.dtype, device=fake_out.device)
        return F.binary_cross_entropy_with_logits(fake_out, ones)   # -mean(log D(G(z)))
    if loss == "minimax":
        return -tinygan.softplus(fake_out).mean()                  # mean(log(1 - D(G(z)))), stably
    if loss == "lsgan":
        return _mean_square(fake_out, 1.0) * 0.5
    if loss in ("hinge",) + WASSERSTEIN:
        return -fake_out.mean()
    raise ValueError(f"unknown GAN loss {loss!r}: expected one of {LOSSES}")


def _input_gradient(D, x, labels, conditional):
    """dD(x)/dx summed over the batch (each sample's own gradient: samples do not interact in D), recorded
    (create_graph=True) so that a penalty on it can be differentiated with respect to D's weights."""
    out = D(x, labels) if conditional else D(x)
    g, = tinygan.autograd.grad(out.sum(), x, create_graph=True)
    return out, g


def gradient_penalty(D, real, fake, labels=None, conditional=False):
    """WGAN-GP's mean((||dD(x_hat)/dx_hat||_2 - 1)^2) at x_hat = e real + (1 - e) fake, e ~ U(0, 1) per sample."""
    n = real.shape[0]
    e = tinygan.rand(n, *([1] * (real.ndim - 1)), dtype=real.dtype, device=real.device)   # (N, 1, ...)
    x_hat = (e * real + (1 - e) * fake).detach().requires_grad_()
    _, g = _input_gradient(D, x_hat, labels, conditional)
    norm = ((g * g).reshape(n, -1).sum(dim=1) + 1e-12).sqrt()   # (N, ...) -> (N, features); +1e-12: finite at 0
    return ((norm - 1) ** 2).mean()


def r1_penalty(g):
    """R1's mean(||dD(x)/dx||^2) over the real batch, from the recorded input gradient g."""
    return (g * g).reshape(g.shape[0], -1).sum(dim=1).mean()     # (N, ...) -> (N, features) -> ()


def feature_matching_loss(D, real, fake, labels=None):
    """||mean f(real) - mean f(fake)||^2 (Salimans et al. 2016), f = D's features before its last layer; the
    real features are constants (no graph), the gradient reaches G through f(fake)."""
    with no_grad():
        f_real, _ = models.discriminator_features(D, real, labels)        # (N, F)
    f_fake, _ = models.discriminator_features(D, fake, labels)            # (N, F)
    d = f_real.mean(dim=0) - f_fake.mean(dim=0)                           # (F,)
    return (d * d).sum()


# ==================================================================================================
# The moving average of G's weights
# ==================================================================================================
class EMA:
    """G_ema <- d_t G_ema + (1 - d_t) G after each generator step, d_t = min(decay, (1 + t) / (10 + t)), t the
    number of earlier updates; BatchNorm's running buffers are copied from G (see the module docstring).

    ``G_ema`` is a second generator of the same architecture, in eval mode, that no optimizer touches.
    """

    def __init__(self, G, G_ema, decay):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA: decay must be in (0, 1), got {decay}")
        self.G, self.G_ema, self.decay, self.updates = G, G_ema, float(decay), 0
        G_ema.load_state_dict(G.state_dict())
        G_ema.requires_grad_(False)
        G_ema.eval()

    def current_decay(self):
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    def update(self):
        d = self.current_decay()
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            a = p_ema.array
            a *= d                                      # in place, in the parameter's dtype, on its device
            a += (1.0 - d) * p.array
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.array[...] = b.array
        self.updates += 1

    def state_dict(self):
        """What a checkpoint keeps: G_ema's weights and buffers, and the number of updates (the warm-up's t)."""
        return {"updates": self.updates, "G_ema": self.G_ema.state_dict()}

    def load_state_dict(self, state):
        self.G_ema.load_state_dict(state["G_ema"])
        self.updates = int(state["updates"])


def layers(module, prefix):
    """[(column, [parameters])], one entry per layer, in order: the parameters named "<layer>.weight",
    "<layer>.bias" (``named_parameters``) become column "grad_<prefix>.<layer>"."""
    groups = {}
    for name, p in module.named_parameters():
        layer = name.rpartition(".")[0] or name
        groups.setdefault(f"{GRAD_NORM_PREFIX}{prefix}.{layer}", []).append(p)
    return list(groups.items())


def _sum_of_squares(g):
    flat = g.reshape(-1)
    if backend.get_array_module(flat) is np:
        return np.asarray(np.dot(flat, flat))          # one BLAS pass, no temporary array
    return (flat * flat).sum()                          # CuPy: stays on the device (no sync, capturable)


def grad_norms(groups):
    """{column: the L2 norm of the layer's gradient} for ``layers()``'s groups, as 0-d arrays on the device
    (a parameter without a gradient counts as zero)."""
    norms = {}
    for column, params in groups:
        total = None
        for p in params:
            if p.grad is not None:
                s = _sum_of_squares(p.grad.array)
                total = s if total is None else total + s
        xp = backend.get_array_module(params[0].array)
        norms[column] = xp.zeros((), dtype=params[0].array.dtype) if total is None else xp.sqrt(total)
    return norms


def _report(loss, out):
    """The D(x)-style number to report for a batch of raw outputs: mean sigmoid, or the mean raw score for
    losses whose discriminator is not a classifier (wgan, hinge: a critic; lsgan: regresses to 1 and 0)."""
    if loss in ("nonsaturating", "minimax"):
        return tinygan.sigmoid(out).mean().array
    return out.mean().array


# ==================================================================================================
# The settings of a game
# ==================================================================================================
@dataclass(frozen=True)
class GANConfig:
    """The settings of a GAN's training step, checked once when made: a bad one raises ValueError naming the
    field and its value. Numbers become Python ints and floats, ``diffaugment`` a tuple of transform names."""
    latent_dim: int                    # z's length: G maps z ~ N(0, I), shape (N, latent_dim), to samples
    loss: str = "nonsaturating"        # the pair of losses, one of LOSSES (the table in the module docstring)
    d_steps: int = 1                   # discriminator updates per generator update, each on its own real batch
    label_smoothing: float = 0.0       # one-sided: D's target for real samples is 1 - label_smoothing
    clip_value: float = 0.01           # wgan: D's weights are clipped to [-clip_value, clip_value] after its step
    gp_weight: float = 10.0            # wgan-gp: lambda in lambda * mean((||dD(x_hat)/dx_hat|| - 1)^2)
    r1_gamma: float = 0.0              # R1: adds (r1_gamma / 2) mean(||dD(x)/dx||^2) over real x to D's loss; 0: off
    g_loss: str = "default"            # G's loss: "default" (the loss's own) or "feature-matching"
    diffaugment: tuple = ()            # DiffAugment's transforms of every batch D sees: ("translation", "cutout")
    ema_decay: float = 0.999           # with G_ema: G_ema <- d G_ema + (1 - d) G, d = min(ema_decay, (1+t)/(10+t))
    num_classes: Optional[int] = None  # a conditional GAN: G(z, labels) and D(x, labels), 0 <= labels < num_classes
    log_grad_norms: bool = False       # each layer's gradient L2 norm joins the metrics (grad_G.0, grad_D.1, ...)
    device: str = "cpu"                # where the latent noise is drawn: "cpu" or "gpu" (the networks' device)
    cuda_graph: bool = False           # replay each step as one CUDA graph (GPU only; tinygan/app/graph_step.py)

    def __post_init__(self):
        self._choice("loss", LOSSES)
        self._choice("g_loss", G_LOSSES)
        self._number("latent_dim", int, lambda v: v >= 1, "must be an integer >= 1")
        self._number("d_steps", int, lambda v: v >= 1, "must be an integer >= 1")
        self._number("label_smoothing", float, lambda v: 0 <= v < 1, "must be in [0, 1)")
        self._number("clip_value", float, lambda v: v > 0, "must be > 0")
        self._number("gp_weight", float, lambda v: v >= 0, "must be >= 0")
        self._number("r1_gamma", float, lambda v: v >= 0, "must be >= 0")
        self._number("ema_decay", float, lambda v: 0 < v < 1, "must be in (0, 1)")
        if self.num_classes is not None:
            self._number("num_classes", int, lambda v: v >= 1, "must be None or an integer >= 1")
        if self.r1_gamma and self.loss in WASSERSTEIN:
            raise ValueError(f"GANConfig: r1_gamma={self.r1_gamma!r} is for a discriminator's losses, not "
                             f"loss={self.loss!r} (wgan-gp has its own gradient penalty)")
        object.__setattr__(self, "diffaugment", self._policy())
        object.__setattr__(self, "log_grad_norms", bool(self.log_grad_norms))
        object.__setattr__(self, "cuda_graph", bool(self.cuda_graph))
        self._check_device()

    @property
    def real_target(self):
        """D's target for a real sample: 1 - label_smoothing."""
        return 1.0 - self.label_smoothing

    def _choice(self, field, choices):
        value = getattr(self, field)
        if value not in choices:
            raise ValueError(f"GANConfig: {field}={value!r} is not one of {choices}")

    def _number(self, field, kind, ok, rule):
        """Check a number field with ``ok`` and store it as ``kind`` (int or float); bools are not numbers here."""
        value = getattr(self, field)
        number = isinstance(value, numbers.Integral if kind is int else numbers.Real) and not isinstance(value, bool)
        if not number or not ok(value):
            raise ValueError(f"GANConfig: {field}={value!r} {rule}")
        object.__setattr__(self, field, kind(value))

    def _policy(self):
        """diffaugment as a tuple of transform names (a "translation,cutout" string is accepted too)."""
        names = self.diffaugment
        if not names:
            return ()
        try:
            return augmentation.parse_policy(names if isinstance(names, str) else ",".join(names))
        except (TypeError, ValueError):
            raise ValueError(f"GANConfig: diffaugment={names!r} must list transforms of {augmentation.POLICIES}, "
                             f"each at most once") from None

    def _check_device(self):
        try:
            device = backend.check_device(self.device)
        except ValueError:
            raise ValueError(f"GANConfig: device={self.device!r} is not a device: expected 'cpu' or 'gpu'") from None
        if self.cuda_graph and device != "gpu":
            raise ValueError(f"GANConfig: cuda_graph=True needs device 'gpu', got device={self.device!r}")


# ==================================================================================================
# The GAN and its training step
# ==================================================================================================
class GAN:
    """A generator, a discriminator, one optimizer each, and the rules of their game.

    ``G(z)`` (or ``G(z, labels)`` when ``num_classes`` is set: a conditional GAN) maps latent vectors to
    samples; ``D(x)`` (or ``D(x, labels)``) returns one raw score per sample, shape (N, 1).

    ``config``: a GANConfig, or the latent size (its one required field); keywords are GANConfig's fields and
    override a given config's. ``G_ema``: a second generator of G's architecture, made the moving average of
    G's weights (``EMA``). The steps read ``self.config`` each time, so ``gan.config =
    dataclasses.replace(gan.config, label_smoothing=0.1)`` changes the rules from the next step on; what
    ``device``, ``cuda_graph``, ``log_grad_norms`` and ``ema_decay`` set up is made here, once.
    """

    def __init__(self, G, D, opt_g, opt_d, config=None, *, G_ema=None, **settings):
        if isinstance(config, GANConfig):
            config = dataclasses.replace(config, **settings)
        else:
            config = GANConfig(**settings) if config is None else GANConfig(config, **settings)
        self.G, self.D, self.opt_g, self.opt_d, self.config = G, D, opt_g, opt_d, config
        self.ema = EMA(G, G_ema, config.ema_decay) if G_ema is not None else None
        self._layers = {"G": layers(G, "G"), "D": layers(D, "D")} if config.log_grad_norms else None
        self.graph_step = None        # the step replayed as a CUDA graph (config.cuda_graph)
        if config.cuda_graph:
            self.graph_step = CudaGraphStep(self._eager_step, opt_d, opt_g, config.device)

    @property
    def log_grad_norms(self):
        return self._layers is not None

    @property
    def conditional(self):
        return self.config.num_classes is not None

    @property
    def metric_names(self):
        """The names of the metrics ``train_step`` returns: METRICS, then the gradient norms (if logged)."""
        if not self.log_grad_norms:
            return METRICS
        return METRICS + tuple(column for net in ("G", "D") for column, _ in self._layers[net])

    def grad_norm_labels(self):
        """{column: "G.0 Linear 100->256"}: each logged layer, named for a plot's legend."""
        modules = {"G": dict(self.G.named_modules()), "D": dict(self.D.named_modules())}
        labels = {}
        for column in self.metric_names[len(METRICS):]:
            net, _, layer = column[len(GRAD_NORM_PREFIX):].partition(".")
            m = modules[net].get(layer)
            label = f"{net}.{layer}" + ("" if m is None else f" {type(m).__name__}")
            sizes = [getattr(m, a, None) for a in ("in_features", "out_features", "in_channels", "out_channels")]
            if sizes[0] is not None or sizes[2] is not None:
                label += f" {sizes[0] or sizes[2]}->{sizes[1] or sizes[3]}"
            labels[column] = label
        return labels

    def sample_latent(self, n):
        """n latent vectors z ~ N(0, I), drawn by tinygan's seeded generator."""
        return tinygan.randn(n, self.config.latent_dim, device=self.config.device)

    def generate(self, z, labels=None):
        return self.G(z, labels) if self.conditional else self.G(z)

    def discriminate(self, x, labels=None):
        return self.D(x, labels) if self.conditional else self.D(x)

    @property
    def G_ema(self):
        """The moving average of G (``G_ema=...``), or None."""
        return None if self.ema is None else self.ema.G_ema

    @property
    def sampler(self):
        """The generator to draw pictures and scores from: G_ema when there is one, else G."""
        return self.G if self.ema is None else self.ema.G_ema

    def augment(self, x):
        """DiffAugment's transforms of a batch D is about to see (x itself without ``diffaugment``)."""
        policy = self.config.diffaugment
        return augmentation.diff_augment(x, policy) if policy else x

    def discriminator_step(self, real, fake, labels=None):
        """One update of D on a real batch and a fake batch that must not carry G's graph."""
        if fake.requires_grad:
            raise ValueError("discriminator_step: the fake batch must be detached from the generator "
                             "(fake.detach()), or D's loss would also train G")
        cfg = self.config
        real, fake = self.augment(real), self.augment(fake)
        if cfg.r1_gamma:                          # D(real) and its input gradient, recorded, in one go
            real_out, g = _input_gradient(self.D, real.detach().requires_grad_(), labels, self.conditional)
        else:
            real_out = self.discriminate(real, labels)
        fake_out = self.discriminate(fake, labels)
        loss = discriminator_loss(cfg.loss, real_out, fake_out, cfg.real_target)
        if cfg.r1_gamma:
            loss = loss + 0.5 * cfg.r1_gamma * r1_penalty(g)
        if cfg.loss == "wgan-gp":
            loss = loss + cfg.gp_weight * gradient_penalty(self.D, real, fake, labels, self.conditional)
        self.opt_d.zero_grad()
        loss.backward()
        norms = grad_norms(self._layers["D"]) if self.log_grad_norms else {}   # before the update
        self.opt_d.step()
        if cfg.loss == "wgan":                        # keep the critic (roughly) 1-Lipschitz
            c = cfg.clip_value
            for p in self.D.parameters():
                backend.get_array_module(p.array).clip(p.array, -c, c, out=p.array)
        with no_grad():
            return {"d_loss": loss.array, "d_real": _report(cfg.loss, real_out),
                    "d_fake": _report(cfg.loss, fake_out), **norms}

    def generator_step(self, fake, labels=None, real=None):
        """One update of G through D, whose parameters are frozen for the step (``real``: the real batch that
        feature matching compares with)."""
        self.D.requires_grad_(False)             # no gradient work for D, and D is not touched
        try:
            fake = self.augment(fake)
            if self.config.g_loss == "feature-matching":
                if real is None:
                    raise ValueError("generator_step: feature matching needs the real batch (real=...)")
                loss = feature_matching_loss(self.D, self.augment(real), fake, labels)
            else:
                loss = generator_loss(self.config.loss, self.discriminate(fake, labels))
            self.opt_g.zero_grad()
            loss.backward()
            norms = grad_norms(self._layers["G"]) if self.log_grad_norms else {}
            self.opt_g.step()
        finally:
            self.D.requires_grad_(True)
        return {"g_loss": loss.array, **norms}

    def manual_seed(self, seed):
        """Restart the in-graph noise from ``seed`` (with cuda_graph; tinygan.manual_seed seeds the rest)."""
        if self.graph_step is not None:
            self.graph_step.manual_seed(seed)

    def train_step(self, batches):
        """``d_steps`` discriminator updates, one per (real, labels) batch, then one generator update.

        The last fake batch is made with G's graph kept: D trains on it detached, then G's step reuses it
        (one generator forward saved per step, as in PyTorch's DCGAN example). Returns the metrics of the
        last D step and the G step as 0-d device arrays.
        """
        if self.graph_step is not None:
            metrics = self.graph_step(batches, self.config)
        else:
            metrics = self._eager_step(batches)
        if self.ema is not None:                  # outside a captured graph: its decay changes every step
            self.ema.update()
        return metrics

    def _eager_step(self, batches):
        for i, (real, labels) in enumerate(batches):
            z = self.sample_latent(real.shape[0])
            if i == len(batches) - 1:
                fake = self.generate(z, labels)
            else:
                with no_grad():
                    fake = self.generate(z, labels)
            metrics = self.discriminator_step(real, fake.detach(), labels)
        metrics.update(self.generator_step(fake, labels, real))
        return metrics


# ==================================================================================================
# Metrics: kept on the device, read back every few steps
# ==================================================================================================
class MetricsLog:
    """Collects each step's metric arrays and reads them back to the host in one go every ``sync_every``
    steps (every step costs nothing on the CPU; on the GPU one read-back waits for all queued work).

    ``columns``: the metrics of each step, in the order of the rows (default: METRICS; ``GAN.metric_names``
    adds the gradient norms). ``flush`` checks every value it reads and raises NonFiniteLossError naming the
    first bad step.
    """

    def __init__(self, sync_every=1, columns=METRICS):
        self.sync_every = max(1, int(sync_every))
        self.columns = tuple(columns)
        self.pending = []                              # (step, epoch, {name: 0-d array})
        self.rows = []                                 # [step, epoch, d_loss, g_loss, d_real, d_fake, ...]

    def add(self, step, epoch, metrics):
        """Record one step; returns True when it flushed (new rows are ready to show)."""
        self.pending.append((step, epoch, metrics))
        if len(self.pending) >= self.sync_every:
            self.flush()
            return True
        return False

    def flush(self):
        if not self.pending:
            return
        xp = backend.get_array_module(self.pending[0][2]["d_loss"])
        stacked = xp.stack([xp.stack([m[name].astype(xp.float32) for name in self.columns])
                            for _, _, m in self.pending])    # one (steps, columns) array: a single read-back
        values = backend.asnumpy(stacked)
        pending, self.pending = self.pending, []
        for (step, epoch, _), row in zip(pending, values):
            for name, value in zip(self.columns, row):
                if not math.isfinite(float(value)):
                    raise NonFiniteLossError(step, name, float(value))
            self.rows.append([step, epoch] + [float(v) for v in row])

    def latest(self):
        """The most recent row as a dict, or None."""
        if not self.rows:
            return None
        return dict(zip(("step", "epoch") + self.columns, self.rows[-1]))

    def as_arrays(self):
        """The rows as a dict of 1-D float arrays (for checkpoints and plots)."""
        names = ("step", "epoch") + self.columns
        table = np.asarray(self.rows, dtype=np.float64).reshape(-1, len(names))
        return {name: table[:, i] for i, name in enumerate(names)}

    def load_arrays(self, arrays):
        """The rows of ``as_arrays``'s dict (a checkpoint's history); KeyError names a missing column."""
        names = ("step", "epoch") + self.columns
        columns = [np.asarray(arrays[name], dtype=np.float64) for name in names]
        self.rows = [[int(r[0]), int(r[1])] + [float(v) for v in r[2:]] for r in zip(*columns)]

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

Remedies for mode collapse and instability (issue 14; the examples' options in brackets, all off by default,
each saved in the checkpoint and resumed bit-exactly):

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
  once per epoch by ``tinygan.optim.lr_scheduler`` (in tinygan/app/cli.py).

Each step returns its metrics as 0-d arrays left on the device: reading a GPU number back to the host waits
for all queued work, so ``MetricsLog`` collects them and reads them back only every few steps.

``GAN(..., log_grad_norms=True)`` (the examples' ``--log-grad-norms``) adds one metric per layer: the L2 norm
of that layer's gradient, sqrt(sum of g^2 over its weight and bias), named ``grad_G.0``, ``grad_D.1``, ... after
the parameter names (``0.weight`` and ``0.bias`` are layer ``0``). G's norms come from the generator step, D's
from the (last) discriminator step, read after ``backward`` and before the update; they are 0-d device arrays
like the losses, so they cost no host synchronisation and are captured with the rest of a CUDA graph step.
Watching them shows what the losses hide: G's gradients shrinking towards zero while D wins (the vanishing
gradient of the minimax loss), or D's layers growing.

``GAN(..., cuda_graph=True)`` (GPU only) records the whole step as one CUDA graph (tinygan/cuda_graph.py) and
replays it: the first step runs eagerly (it makes the optimizers' state), the second is captured, and from
then on each step copies its batches into the captured input buffers, launches the graph and copies the
metrics out, with no host synchronisation. The noise comes from ``cuda_graph.CounterRandom``, whose counter
is on the device, and Adam's bias corrections from a device step count. A batch of another shape runs
eagerly (same results); changing a hyperparameter (``param_groups[0]["lr"] = ...``), the loss settings or
the optimizers' buffers makes the next step capture again.
"""
import math

import numpy as np

import tinygan
from tinygan import backend
from tinygan import cuda_graph as graphs
from tinygan import functional as F
from tinygan.app import augment as augmentation
from tinygan.app import models
from tinygan.tensor import no_grad

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
# The GAN and its training step
# ==================================================================================================
class GAN:
    """A generator, a discriminator, one optimizer each, and the rules of their game.

    ``G(z)`` (or ``G(z, labels)`` when ``num_classes`` is set: a conditional GAN) maps latent vectors to
    samples; ``D(x)`` (or ``D(x, labels)``) returns one raw score per sample, shape (N, 1).
    """

    def __init__(self, G, D, opt_g, opt_d, latent_dim, loss="nonsaturating", d_steps=1,
                 label_smoothing=0.0, clip_value=0.01, num_classes=None, device="cpu", cuda_graph=False,
                 log_grad_norms=False, gp_weight=10.0, r1_gamma=0.0, g_loss="default", diffaugment=(),
                 G_ema=None, ema_decay=0.999):
        if loss not in LOSSES:
            raise ValueError(f"unknown GAN loss {loss!r}: expected one of {LOSSES}")
        if g_loss not in G_LOSSES:
            raise ValueError(f"unknown generator loss {g_loss!r}: expected one of {G_LOSSES}")
        self.g_loss = g_loss
        self.diffaugment = augmentation.parse_policy(",".join(diffaugment)) if diffaugment else ()
        self.ema = EMA(G, G_ema, ema_decay) if G_ema is not None else None
        if d_steps < 1:
            raise ValueError(f"d_steps must be at least 1, got {d_steps}")
        if r1_gamma and loss in WASSERSTEIN:
            raise ValueError(f"r1_gamma is for a discriminator's losses, not loss {loss!r} (wgan-gp has its own "
                             f"gradient penalty)")
        self.gp_weight, self.r1_gamma = float(gp_weight), float(r1_gamma)
        self.G, self.D, self.opt_g, self.opt_d = G, D, opt_g, opt_d
        self.latent_dim, self.loss, self.d_steps = latent_dim, loss, d_steps
        self.real_target = 1.0 - label_smoothing
        self.clip_value = clip_value
        self.num_classes = num_classes
        self.device = device
        self.log_grad_norms = bool(log_grad_norms)
        self._layers = {"G": layers(G, "G"), "D": layers(D, "D")} if self.log_grad_norms else None
        self.cuda_graph = bool(cuda_graph)
        self.graph = None             # the captured step (cuda_graph.CapturedStep) once there is one
        self.noise = None             # graph mode: the in-graph generator of the latent noise
        self._graph_key = None        # what the captured step froze (shapes, hyperparameters, buffers)
        self._static = None           # the captured step's input batches: fixed device buffers
        self._warmed_up = False       # one eager step in graph mode comes before the first capture
        if self.cuda_graph:
            if backend.check_device(device) != "gpu":
                raise ValueError(f"cuda_graph=True needs device 'gpu', got {device!r}")
            self.noise = graphs.CounterRandom(max(backend.get_rng_state()["seed"], 0), device)
            for opt in (opt_d, opt_g):
                opt.keep_step_on_device()

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

    @property
    def conditional(self):
        return self.num_classes is not None

    def sample_latent(self, n):
        """n latent vectors z ~ N(0, I), drawn by tinygan's seeded generator."""
        return tinygan.randn(n, self.latent_dim, device=self.device)

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
        return augmentation.diff_augment(x, self.diffaugment) if self.diffaugment else x

    def discriminator_step(self, real, fake, labels=None):
        """One update of D on a real batch and a fake batch that must not carry G's graph."""
        if fake.requires_grad:
            raise ValueError("discriminator_step: the fake batch must be detached from the generator "
                             "(fake.detach()), or D's loss would also train G")
        real, fake = self.augment(real), self.augment(fake)
        if self.r1_gamma:                         # D(real) and its input gradient, recorded, in one go
            real_out, g = _input_gradient(self.D, real.detach().requires_grad_(), labels, self.conditional)
        else:
            real_out = self.discriminate(real, labels)
        fake_out = self.discriminate(fake, labels)
        loss = discriminator_loss(self.loss, real_out, fake_out, self.real_target)
        if self.r1_gamma:
            loss = loss + 0.5 * self.r1_gamma * r1_penalty(g)
        if self.loss == "wgan-gp":
            loss = loss + self.gp_weight * gradient_penalty(self.D, real, fake, labels, self.conditional)
        self.opt_d.zero_grad()
        loss.backward()
        norms = grad_norms(self._layers["D"]) if self.log_grad_norms else {}   # before the update
        self.opt_d.step()
        if self.loss == "wgan":                       # keep the critic (roughly) 1-Lipschitz
            c = self.clip_value
            for p in self.D.parameters():
                backend.get_array_module(p.array).clip(p.array, -c, c, out=p.array)
        with no_grad():
            return {"d_loss": loss.array, "d_real": _report(self.loss, real_out),
                    "d_fake": _report(self.loss, fake_out), **norms}

    def generator_step(self, fake, labels=None, real=None):
        """One update of G through D, whose parameters are frozen for the step (``real``: the real batch that
        feature matching compares with)."""
        self.D.requires_grad_(False)             # no gradient work for D, and D is not touched
        try:
            fake = self.augment(fake)
            if self.g_loss == "feature-matching":
                if real is None:
                    raise ValueError("generator_step: feature matching needs the real batch (real=...)")
                loss = feature_matching_loss(self.D, self.augment(real), fake, labels)
            else:
                loss = generator_loss(self.loss, self.discriminate(fake, labels))
            self.opt_g.zero_grad()
            loss.backward()
            norms = grad_norms(self._layers["G"]) if self.log_grad_norms else {}
            self.opt_g.step()
        finally:
            self.D.requires_grad_(True)
        return {"g_loss": loss.array, **norms}

    def manual_seed(self, seed):
        """Restart the in-graph noise from ``seed`` (graph mode; tinygan.manual_seed seeds the rest)."""
        if self.noise is not None:
            self.noise.manual_seed(seed)

    def train_step(self, batches):
        """``d_steps`` discriminator updates, one per (real, labels) batch, then one generator update.

        The last fake batch is made with G's graph kept: D trains on it detached, then G's step reuses it
        (one generator forward saved per step, as in PyTorch's DCGAN example). Returns the metrics of the
        last D step and the G step as 0-d device arrays.
        """
        metrics = self._graph_step(batches) if self.cuda_graph else self._eager_step(batches)
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

    # ---- CUDA graph mode ------------------------------------------------------------------------
    def _frozen(self, batches):
        """What a captured step bakes in: input shapes, hyperparameters, settings, and the buffers' identity."""
        shapes = tuple((tuple(r.shape), r.dtype.str, None if l is None else (tuple(l.shape), l.dtype.str))
                       for r, l in batches)
        return (shapes, repr(self.opt_d.hyperparameters()), repr(self.opt_g.hyperparameters()), self.loss,
                self.d_steps, self.real_target, self.clip_value, self.gp_weight, self.r1_gamma, self.g_loss,
                self.diffaugment,
                tuple(id(a) for opt in (self.opt_d, self.opt_g) for a in opt.buffers()))

    def _graph_step(self, batches):
        with backend.drawing_from(self.device, self.noise):
            key = self._frozen(batches)
            if self.graph is not None and key[0] != self._graph_key[0]:
                return self._eager_step(batches)           # another batch shape (an epoch's last): eagerly
            if self.graph is None or key != self._graph_key:
                if not self._warmed_up:                    # warm-up: optimizer state, compiled kernels, cuBLAS
                    self._warmed_up = True                 # handles and cached arrays made outside the graph
                    return self._eager_step(batches)
                self._capture(batches)
                self._graph_key = self._frozen(batches)
            for (real, labels), (static_real, static_labels) in zip(batches, self._static):
                static_real.array[...] = real.array          # device-to-device copies on the current stream
                if labels is not None:
                    static_labels.array[...] = labels.array
            self.opt_d.before_replay()
            self.opt_g.before_replay()
            self.graph.launch()
            self.opt_d.replayed(len(batches))
            self.opt_g.replayed(1)
            return {name: value.copy() for name, value in self.graph.outputs.items()}   # the next launch
                                                                                        # overwrites them

    def _capture(self, batches):
        """Record one training step on fixed input buffers as a CUDA graph (nothing runs until launch)."""
        self.graph = None                                  # the old graph and its memory go first
        self._static = [(tinygan.Tensor(real.array.copy()),
                         None if labels is None else tinygan.Tensor(labels.array.copy()))
                        for real, labels in batches]
        steps = (self.opt_d._step, self.opt_g._step)
        try:
            self.graph = graphs.capture(lambda: self._eager_step(self._static), self.device)
        finally:
            self.opt_d._step, self.opt_g._step = steps     # capture ran the host code, not the steps


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

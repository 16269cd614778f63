"""A GAN training step recorded once as a CUDA graph and replayed (``GAN(..., cuda_graph=True)``, --cuda-graph).

tinygan/cuda_graph.py records and launches graphs; this module is what a training step needs around that:

- warm-up: the first step runs eagerly (it makes the optimizers' state, compiles kernels and fills caches
  outside the graph); the second step is captured, and every later one is a replay;
- fixed input buffers: a replay copies its batches into the buffers the graph was captured on, launches the
  graph on the current stream and copies the metrics out (the next launch overwrites them): no host
  synchronisation anywhere;
- noise: the latent vectors come from ``cuda_graph.CounterRandom``, whose counter lives on the device, so each
  replay draws new ones;
- step counts: each optimizer keeps its step count on the device too (``Optimizer.keep_step_on_device``); the
  graph advances it and Adam's bias corrections read it. Capture runs the optimizers' host code once
  (``Optimizer.capturing`` puts their host counts back) and the host counts the launches (``replayed``);
- capturing again: a graph freezes the batches' shapes, the optimizers' hyperparameters, the GAN's settings
  and which buffers the optimizers hold. When one of these changes (``param_groups[0]["lr"] = ...``, a new
  GANConfig, a loaded state that rebuilt the buffers) the next step is captured again, except for a batch of
  another shape (an epoch's short last batch), which runs eagerly with the same results.
"""
import tinygan
from tinygan import cuda_graph as graphs
from tinygan import rng
from tinygan.core import array_backend as backend


def _shapes(batches):
    """The shapes and dtypes of a step's (real, labels) batches: what the graph's input buffers are made for."""
    return tuple((tuple(r.shape), r.dtype.str, None if l is None else (tuple(l.shape), l.dtype.str))
                 for r, l in batches)


class CudaGraphStep:
    """``step(batches)`` replayed as a CUDA graph.

    ``step`` is the eager training step: a function of a list of (real, labels) batches that returns
    {name: 0-d device array}; it steps ``opt_d`` once per batch and ``opt_g`` once. Call the object with the
    batches and the settings the step depends on (anything comparable: a change captures again).
    """

    def __init__(self, step, opt_d, opt_g, device):
        self.step, self.opt_d, self.opt_g, self.device = step, opt_d, opt_g, device
        self.noise = graphs.CounterRandom(max(rng.get_rng_state()["seed"], 0), device)
        self.graph = None             # the captured step (cuda_graph.CapturedStep) once there is one
        self.static_batches = None    # the (real, labels) buffers the graph reads its batches from
        self.key = None               # capture_key() of the step the graph was captured from
        self.warmed_up = False        # one eager step comes before the first capture
        for opt in (opt_d, opt_g):
            opt.keep_step_on_device()

    def manual_seed(self, seed):
        """Restart the in-graph noise from ``seed``."""
        self.noise.manual_seed(seed)

    def capture_key(self, batches, settings):
        """What a captured step bakes in: input shapes, hyperparameters, settings and the buffers' identity."""
        buffers = tuple(id(a) for opt in (self.opt_d, self.opt_g) for a in opt.buffers())
        return (_shapes(batches), repr(self.opt_d.hyperparameters()), repr(self.opt_g.hyperparameters()),
                settings, buffers)

    def __call__(self, batches, settings):
        with rng.drawing_from(self.device, self.noise):
            key = self.capture_key(batches, settings)
            if self.graph is not None and key[0] != self.key[0]:
                return self.step(batches)                  # another batch shape (an epoch's last): eagerly
            if self.graph is None or key != self.key:
                if not self.warmed_up:                     # state, kernels and caches made outside the graph
                    self.warmed_up = True
                    return self.step(batches)
                self.capture(batches)
                self.key = self.capture_key(batches, settings)
            return self.replay(batches)

    def capture(self, batches):
        """Record one training step on new fixed input buffers (nothing runs until a launch)."""
        self.graph = None                                  # the old graph and its memory go first
        self.static_batches = [(tinygan.Tensor(real.array.copy()),
                                None if labels is None else tinygan.Tensor(labels.array.copy()))
                               for real, labels in batches]
        with self.opt_d.capturing(), self.opt_g.capturing():
            self.graph = graphs.capture(lambda: self.step(self.static_batches), self.device)

    def replay(self, batches):
        """Copy the batches into the graph's buffers, launch it, and return copies of its metrics."""
        for (real, labels), (static_real, static_labels) in zip(batches, self.static_batches):
            static_real.array[...] = real.array              # device-to-device copies on the current stream
            if labels is not None:
                static_labels.array[...] = labels.array
        self.opt_d.before_replay()
        self.opt_g.before_replay()
        self.graph.launch()
        self.opt_d.replayed(len(batches))
        self.opt_g.replayed(1)
        return {name: value.copy() for name, value in self.graph.outputs.items()}   # the next launch
                                                                                    # overwrites them

"""Random numbers: one seeded generator per device, NumPy's Generator on "cpu", CuPy's RandomState on "gpu".

``tinygan.manual_seed(0)`` seeds both; ``randn``/``rand``/``permutation`` draw from the generator of the device
they are asked for (tinygan.creation's ``randn``, dropout's masks, weight initialisation, DataLoader shuffling).
"""
import contextlib

import numpy as np

from tinygan.core import array_backend

_seed = None
_generators = {}
_drawing_from = {}      # device -> a generator standing in for the seeded one (see drawing_from)


def manual_seed(seed):
    """Seed tinygan's random generators on every device; the same seed on one device gives identical runs."""
    global _seed
    _seed = int(seed)
    _generators.clear()


def manual_seed_device(device, seed):
    """Seed only ``device``'s generator (``torch.cuda.manual_seed`` seeds the GPU's and leaves the CPU's alone)."""
    device = array_backend.check_device(device)
    _generators[device] = (np.random.default_rng(int(seed)) if device == "cpu"
                           else array_backend.require_gpu().random.RandomState(int(seed)))


def get_generator(device):
    """The seeded generator of ``device``: numpy.random.Generator on the CPU, cupy.random.RandomState on the GPU."""
    device = array_backend.check_device(device)
    gen = _drawing_from.get(device) or _generators.get(device)
    if gen is None:
        if device == "cpu":
            gen = np.random.default_rng(_seed)
        else:
            gen = array_backend.require_gpu().random.RandomState(_seed)
        _generators[device] = gen
    return gen


@contextlib.contextmanager
def drawing_from(device, generator):
    """Inside this block ``randn``/``rand`` on ``device`` draw from ``generator`` (any object with
    ``standard_normal(size=, dtype=)`` and ``random_sample(size=, dtype=)``): a CUDA-graph training step
    draws from tinygan.cuda_graph.CounterRandom, whose state is on the device."""
    device = array_backend.check_device(device)
    saved = _drawing_from.get(device)
    _drawing_from[device] = generator
    try:
        yield generator
    finally:
        if saved is None:
            _drawing_from.pop(device, None)
        else:
            _drawing_from[device] = saved


def randn(shape, dtype, device):
    """Standard normal samples drawn on ``device`` by tinygan's seeded generator."""
    return get_generator(device).standard_normal(size=shape, dtype=dtype)


def rand(shape, dtype, device):
    """Uniform samples in [0, 1) drawn on ``device`` by tinygan's seeded generator."""
    gen = get_generator(device)
    if device == "cpu":
        return gen.random(size=shape, dtype=dtype)
    return gen.random_sample(size=shape, dtype=dtype)


def permutation(n, device):
    """A random permutation of range(n) on ``device``."""
    return get_generator(device).permutation(n)


def get_rng_state():
    """The seed and the CPU generator's state as plain dicts (for checkpoints).

    CuPy's RandomState exposes no state to save, so a GPU run resumed from a checkpoint restarts the GPU
    stream from the seed: it trains correctly but is not bit-identical to an uninterrupted run.
    """
    return {"seed": -1 if _seed is None else _seed, "cpu": get_generator("cpu").bit_generator.state}


def set_rng_state(state):
    """Restore the CPU generator's state saved by ``get_rng_state``."""
    get_generator("cpu").bit_generator.state = state["cpu"]

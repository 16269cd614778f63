"""CUDA graphs: a whole training step recorded once and replayed as one launch, with in-graph random numbers.

A GAN step on the GPU is a few hundred small kernel launches; Python and CuPy spend longer queueing them than
the GPU spends running them. CUDA stream capture records the launches of one step into a graph that the GPU
replays with a single ``cudaGraphLaunch`` (CuPy's ``Stream.begin_capture`` / ``end_capture`` /
``Graph.launch``, cupy/cupy#4567). What a replay does NOT do is run Python again, so:

- every array the step touches is a fixed buffer: new data must be copied INTO the captured input buffers
  before each launch (``copy_into``), and results are read from the captured output arrays after it;
- every Python number is frozen at capture: whatever changes per step (the Adam step count, the random
  numbers) must be computed on the device from device state (``Optimizer.keep_step_on_device``, and
  ``CounterRandom`` below);
- nothing may synchronise with the host while capturing (CuPy's ``begin_capture`` docstring: synchronous
  device-host transfers are not allowed), and cuRAND's host API replays the same numbers in every launch,
  which is why the latent noise comes from ``CounterRandom``, a counter-based generator whose counter lives on
  the device and is advanced inside the graph.

Memory: a graph bakes in the addresses of every array it uses. ``capture`` therefore allocates everything
made during capture from a private ``cupy.cuda.MemoryPool`` that nobody else allocates from and that lives as
long as the graph (PyTorch's "private memory pool" for graphs, pytorch/pytorch#51075; Paddle does the same,
PaddlePaddle/Paddle#36190). Blocks freed during the capture may be reused later in the same capture: the
captured work runs in capture order on one stream, so that reuse is safe. The capture stream is a
non-blocking stream (the legacy null stream cannot capture); the graph is launched on the current stream, so
it is ordered with the batch copies before it and the metric copies after it, as with PyTorch's
``CUDAGraph.replay``.
"""
import math

import numpy as np

from tinygan import rng
from tinygan.core import array_backend
from tinygan.kernels import FusedKernel

# ==================================================================================================
# Random numbers drawn inside the graph: a hash of (seed, a device counter, the element index)
# ==================================================================================================
# splitmix64's finaliser (Steele, Lea & Flood 2014) mixes the key into 64 well-spread bits; draw k of element
# i uses the key seed + counter * golden + 2 * i (+ 1 for the second uniform). The top bits that fit T's
# mantissa make a uniform: u in (0, 1] for the logarithm, [0, 1) for rand. The bodies keep to the C subset
# of tinygan/kernels.py (no braces or ternaries; U is the unsigned 64-bit type of the counter and index).
_MIX = """
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
    z = z ^ (z >> 31);
"""
_KEY = "U z = seed + counter * 0x9E3779B97F4A7C15 + idx * 2;"

NORMAL_KERNEL = FusedKernel(
    "tinygan_counter_normal", "U seed, U counter, U idx, U shift, T scale, T two_pi", "T out",
    _KEY + _MIX + """
    T u1 = ((z >> shift) + 1) * scale;
    U w = seed + counter * 0x9E3779B97F4A7C15 + idx * 2 + 1;
    """ + _MIX.replace("z", "w") + """
    T u2 = (w >> shift) * scale;
    out = sqrt(-2 * log(u1)) * cos(two_pi * u2);
    """)

UNIFORM_KERNEL = FusedKernel(
    "tinygan_counter_uniform", "U seed, U counter, U idx, U shift, T scale", "T out",
    _KEY + _MIX + """
    out = (z >> shift) * scale;
    """)

_MANTISSA = {np.dtype(np.float32): 24, np.dtype(np.float64): 53}


class CounterRandom:
    """A seeded generator whose state is two device numbers, so a CUDA graph draws new numbers every launch.

    ``standard_normal`` (Box-Muller) and ``random_sample`` fill a new array from a hash of (seed, counter,
    element index) and then add 1 to the counter on the device: the same kernel launches, captured once,
    give a fresh draw at every replay. Eager and captured use give the same numbers for the same seed.
    Same method names as cupy.random.RandomState, so ``rng.drawing_from`` can put it behind
    ``tinygan.randn`` / ``tinygan.rand`` (the GAN's latent noise, Dropout's masks).
    """

    def __init__(self, seed, device="gpu"):
        self.xp = array_backend.xp_for(device)
        self.seed_array = self.xp.zeros((), dtype=np.uint64)    # device state: read by the kernels
        self.counter = self.xp.zeros((), dtype=np.uint64)
        self._index = {}                                        # n -> arange(n) as uint64, made once
        self.manual_seed(seed)

    def manual_seed(self, seed):
        """Restart the stream from ``seed`` (device fills: allowed between launches, never inside a capture)."""
        self.seed_array.fill(int(seed) & 0xFFFFFFFFFFFFFFFF)
        self.counter.fill(0)

    def _indices(self, shape):
        n = math.prod(shape)
        idx = self._index.get(n)
        if idx is None:
            idx = self._index[n] = self.xp.arange(n, dtype=np.uint64)
        return idx.reshape(shape)

    def _draw(self, kernel, size, dtype, **extra):
        dtype = np.dtype(dtype)
        if dtype not in _MANTISSA:
            raise TypeError(f"CounterRandom draws float32 or float64, not {dtype}")
        shape = () if size is None else (tuple(size) if isinstance(size, (tuple, list)) else (int(size),))
        out = self.xp.empty(shape, dtype=dtype)
        bits = _MANTISSA[dtype]
        kernel(self.xp, seed=self.seed_array, counter=self.counter, idx=self._indices(shape), shift=64 - bits,
               scale=2.0 ** -bits, out=out, **extra)
        self.counter += 1
        return out

    def standard_normal(self, size=None, dtype=np.float64):
        return self._draw(NORMAL_KERNEL, size, dtype, two_pi=2 * np.pi)

    def random_sample(self, size=None, dtype=np.float64):
        return self._draw(UNIFORM_KERNEL, size, dtype)


# ==================================================================================================
# Capturing a step
# ==================================================================================================
class CapturedStep:
    """A captured CUDA graph with the private memory pool and stream it needs, and the step's outputs.

    ``launch()`` replays it on the current stream; ``outputs`` are the arrays the captured function returned,
    overwritten by every launch (copy what you keep before the next one).
    """

    def __init__(self, graph, pool, stream, outputs):
        self.graph, self.pool, self.stream, self.outputs = graph, pool, stream, outputs
        self.launches = 0

    def launch(self):
        self.graph.launch()           # on the current stream: after the batch copies, before the metric copies
        self.launches += 1


def capture(fn, device="gpu"):
    """Record ``fn()`` (GPU work only: no host reads, no host-to-device copies) as a CUDA graph.

    Run ``fn`` eagerly at least once before (a warm-up): optimizer state, kernel compilation, cached index
    arrays are then made outside the graph. Nothing runs during capture; launch the result to run it.
    """
    if array_backend.check_device(device) != "gpu":
        raise ValueError(f"CUDA graphs need the GPU, not {device!r}")
    cupy = array_backend.require_gpu()
    pool = cupy.cuda.MemoryPool()          # private: only this graph's captured allocations come from it
    stream = cupy.cuda.Stream(non_blocking=True)
    with cupy.cuda.using_allocator(pool.malloc), stream:
        stream.begin_capture()
        try:
            outputs = fn()
        finally:
            graph = stream.end_capture()   # ends a failed capture too, so the stream is usable again
    return CapturedStep(graph, pool, stream, outputs)


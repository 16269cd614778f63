"""Fused CuPy kernels: one pass in CUDA C instead of several array ops, compiled once per array module.

On the GPU every array op is a kernel launch and a trip through memory. The hot elementwise work of a GAN
step (LeakyReLU, tanh's backward, BCE with logits, BatchNorm's per-channel tail) and the optimizer updates
are each written once more as one ``cupy.ElementwiseKernel`` (Chainer does the same), beside the plain
formula they replace: each op's module defines its kernels and calls them only when ``fusable`` says so.
The CPU always runs the plain NumPy code.

The bodies are kept to a subset of C that is also valid Python once the ``T`` declarations and semicolons are
dropped (no ternaries, no braces), so the tests compile each body with NVRTC and run it on NumPy arrays
(tests/gpu_kernels.py) even on machines without a GPU.

Set ``tinygan.kernels.enabled = False`` to make ops and optimizers on the GPU use their plain array-op path
(the one the CPU always runs), e.g. to compare the two; ``tinygan.optim.fused.enabled`` turns off the
optimizers' kernels alone.
"""
import numpy as np

enabled = True

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))   # what the kernels' type T is compiled for


def fusable(xp, *arrays):
    """True when kernels are enabled, ``xp`` is not NumPy, and the arrays share one dtype T: float32 or float64."""
    if xp is np or not enabled:
        return False
    dtype = arrays[0].dtype
    return dtype in FLOAT_DTYPES and all(a.dtype == dtype for a in arrays)


class FusedKernel:
    """An elementwise kernel in CUDA C, compiled by CuPy on first use; called with its arguments by name."""

    def __init__(self, name, in_params, out_params, body):
        self.name = name
        self.in_params = in_params      # e.g. "T grad, T lr"
        self.out_params = out_params    # e.g. "T param, T exp_avg": written (read too when the body reads them)
        self.body = body
        self.in_names = [a.split()[-1] for a in in_params.split(",")]
        self.out_names = [a.split()[-1] for a in out_params.split(",")]
        self._kernels = {}              # array module -> its compiled kernel (CuPy, or a stand-in in tests)

    def __call__(self, xp, **args):
        """Run the kernel (``xp`` is cupy) on arrays, broadcast together, and Python-number scalars, by name."""
        names = self.in_names + self.out_names
        missing = set(names) - set(args)
        extra = set(args) - set(names)
        if missing or extra:
            raise TypeError(f"{self.name}: missing arguments {sorted(missing)}, unexpected {sorted(extra)}")
        kernel = self._kernels.get(xp)
        if kernel is None:
            kernel = self._kernels[xp] = xp.ElementwiseKernel(self.in_params, self.out_params, self.body, self.name)
        kernel(*[args[n] for n in names])

    def __repr__(self):
        return f"FusedKernel({self.name!r})"

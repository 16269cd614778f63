"""Fused CuPy kernels for the optimizer updates: one pass over the flat buffers, built once and cached.

On the GPU a dozen separate array ops per step means a dozen kernel launches and a dozen trips through
memory; one ``cupy.ElementwiseKernel`` reads the gradient and the state once and writes the parameter and the
state once (Chainer's optimizers do the same). The kernel wrapper, ``FusedKernel``, lives in
tinygan/kernels.py, shared with the ops' fused kernels; it is compiled the first time it is called and reused.

The bodies are kept to a subset of C that is also valid Python once the ``T`` declarations and semicolons are
dropped (no ternaries, no braces), so the tests run each body on NumPy arrays and compare it with the
published update even on machines without a GPU.

Set ``tinygan.optim.fused.enabled = False`` to make optimizers on the GPU use the plain array-op path (the
one the CPU always uses), e.g. to compare the two.
"""
from tinygan.kernels import FusedKernel  # noqa: F401  (tinygan.optim.fused.FusedKernel names it too)

enabled = True

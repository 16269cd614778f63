"""Fused CuPy kernels for the optimizer updates: one pass over the flat buffers, built once and cached.

On the GPU a dozen separate array ops per step means a dozen kernel launches and a dozen trips through
memory; one ``cupy.ElementwiseKernel`` reads the gradient and the state once and writes the parameter and the
state once (Chainer's optimizers do the same). The kernel is compiled the first time it is called and reused.

The bodies are kept to a subset of C that is also valid Python once the ``T`` declarations and semicolons are
dropped (no ternaries, no braces), so the tests run each body on NumPy arrays and compare it with the
published update even on machines without a GPU.

Set ``tinygan.optim.fused.enabled = False`` to make optimizers on the GPU use the plain array-op path (the
one the CPU always uses), e.g. to compare the two.
"""
enabled = True


class FusedKernel:
    """An elementwise update in CUDA C, compiled by CuPy on first use; called with its arguments by name."""

    def __init__(self, name, in_params, out_params, body):
        self.name = name
        self.in_params = in_params      # e.g. "T grad, T lr"
        self.out_params = out_params    # e.g. "T param, T exp_avg": read and written in place
        self.body = body
        self.in_names = [a.split()[-1] for a in in_params.split(",")]
        self.out_names = [a.split()[-1] for a in out_params.split(",")]
        self._kernels = {}              # array module -> its compiled kernel (CuPy, or a stand-in in tests)

    def __call__(self, xp, **args):
        """Run the kernel (``xp`` is cupy) on flat arrays and Python-number scalars given by name."""
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

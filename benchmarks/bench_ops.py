"""Forward and backward time of each op at the GAN's shapes, tinygan beside PyTorch: where the step's time goes.

For each op and shape: ``k`` forward calls are timed (recording the graph, as in training), then the ``k``
backward calls from those outputs with a fixed random upstream gradient. tinygan and torch repeats are
interleaved; each number is the median over repeats of the per-call time. Every input requires grad (in the
GAN, D's input does in G's step). The "overhead" rows time an op on a single element: what one op costs in
Python bookkeeping alone. Adam rows time one ``step()`` over the flat buffers of a whole network.

    python benchmarks/bench_ops.py                    # all ops, with torch when importable
    python benchmarks/bench_ops.py --only conv --threads 1 --write

Also checks that every output and gradient is float32 (a "!" in the dtype column names any other dtype).
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _path in (REPO, HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                   help="threads for numpy's BLAS and torch (default: usable cores)")
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--min-time", type=float, default=0.05, help="seconds per timed repeat and direction")
    p.add_argument("--only", help="run only ops whose name contains this text (e.g. conv, adam, linear)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--write", action="store_true", help="replace the bench_ops section of RESULTS.md")
    p.add_argument("--unset-openblas-env", action="store_true",
                   help="re-run without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (benchmarks only)")
    return p.parse_args(argv)


def _prepare_env(args):
    """Thread counts must be set before numpy/torch load their BLAS; re-exec when env vars must go."""
    if args.unset_openblas_env and any(v in os.environ for v in OPENBLAS_VARS):
        env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
        env["TINYGAN_BENCH_OPENBLAS_WAS"] = repr({v: os.environ.get(v) for v in OPENBLAS_VARS})
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)


# ==================================================================================================
# The ops: name, shape label, and a builder per framework returning (fn, inputs)
# ==================================================================================================
def _specs():
    """(name, label, make) triples; make(lib, rand) -> (fn, inputs), lib being 'tinygan' or 'torch'."""
    specs = []

    def fns(lib):
        if lib == "tinygan":
            import tinygan.functional as F
            from tinygan import conv
            return {"linear": F.linear, "conv2d": getattr(F, "conv2d", conv.conv2d),
                    "conv_transpose2d": getattr(F, "conv_transpose2d", conv.conv_transpose2d),
                    "batch_norm": F.batch_norm, "leaky_relu": F.leaky_relu, "relu": F.relu, "tanh": F.tanh,
                    "bce_logits": F.binary_cross_entropy_with_logits}
        import torch.nn.functional as F
        import torch
        return {"linear": F.linear, "conv2d": F.conv2d, "conv_transpose2d": F.conv_transpose2d,
                "batch_norm": F.batch_norm, "leaky_relu": F.leaky_relu, "relu": F.relu, "tanh": torch.tanh,
                "bce_logits": F.binary_cross_entropy_with_logits}

    def linear(n, i, o, display="linear"):
        def make(lib, rand):
            f = fns(lib)["linear"]
            return (lambda x, W, b: f(x, W, b)), [rand((n, i)), rand((o, i)), rand((o,))]
        specs.append((display, f"({n},{i})->{o}", make))

    def conv(n, c, h, o, transpose=False):
        name = "conv_transpose2d" if transpose else "conv2d"

        def make(lib, rand):
            f = fns(lib)[name]
            W = rand((c, o, 4, 4)) if transpose else rand((o, c, 4, 4))
            return (lambda x, W, b: f(x, W, b, 2, 1)), [rand((n, c, h, h)), W, rand((o,))]
        specs.append((name, f"({n},{c},{h},{h})->{o} k4s2p1", make))

    def batch_norm(shape):
        def make(lib, rand):
            f = fns(lib)["batch_norm"]
            C = shape[1]
            if lib == "tinygan":
                import numpy as np
                rm, rv = np.zeros(C, np.float32), np.ones(C, np.float32)
            else:
                import torch
                rm, rv = torch.zeros(C), torch.ones(C)
            return (lambda x, w, b: f(x, rm, rv, w, b, training=True)), [rand(shape), rand((C,)), rand((C,))]
        specs.append(("batch_norm", str(shape).replace(" ", ""), make))

    def unary(name, shape, display=None, **kw):
        def make(lib, rand):
            f = fns(lib)[name]
            return (lambda x: f(x, **kw)), [rand(shape)]
        specs.append((display or name, str(shape).replace(" ", ""), make))

    def bce(shape):
        def make(lib, rand):
            f = fns(lib)["bce_logits"]
            if lib == "tinygan":
                import tinygan
                t = tinygan.ones(*shape)
            else:
                import torch
                t = torch.ones(shape)
            return (lambda x: f(x, t)), [rand(shape)]
        specs.append(("bce_logits", str(shape).replace(" ", ""), make))

    # MLP GAN, batch 64 (and the two big layers at 256)
    for i, o in ((100, 256), (256, 512), (512, 784), (784, 512), (512, 256), (256, 1)):
        linear(64, i, o)
    linear(256, 512, 784)
    linear(256, 784, 512)
    unary("leaky_relu", (64, 512), negative_slope=0.2)
    unary("tanh", (64, 784))
    bce((64, 1))
    # DCGAN, batch 64
    linear(64, 100, 128 * 7 * 7)
    linear(64, 128 * 7 * 7, 1)
    conv(64, 1, 28, 64)
    conv(64, 64, 14, 128)
    conv(64, 128, 7, 64, transpose=True)
    conv(64, 64, 14, 1, transpose=True)
    batch_norm((64, 128, 7, 7))
    batch_norm((64, 64, 14, 14))
    unary("relu", (64, 128, 7, 7))
    unary("leaky_relu", (64, 64, 14, 14), negative_slope=0.2)
    unary("tanh", (64, 1, 28, 28))
    # fixed cost of one op call: a single element
    unary("leaky_relu", (1,), display="overhead: leaky_relu", negative_slope=0.2)
    linear(1, 1, 1, display="overhead: linear")
    return specs


# ==================================================================================================
# Timing
# ==================================================================================================
def _randers(seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)

    def arrays(shape):
        return np.asarray(rng.standard_normal(shape) * 0.5, dtype=np.float32)

    def tg(shape):
        import tinygan
        return tinygan.tensor(arrays(shape), requires_grad=True)

    def th(shape):
        import torch
        return torch.from_numpy(arrays(shape)).requires_grad_(True)
    return {"tinygan": tg, "torch": th}, arrays


class Case:
    """One op in one framework: its inputs, a fixed upstream gradient, and a calibrated call count."""

    def __init__(self, lib, make, rand, arrays):
        self.lib = lib
        self.fn, self.inputs = make(lib, rand)
        y = self.fn(*self.inputs)
        gy = arrays(tuple(y.shape))
        if lib == "tinygan":
            import tinygan
            self.gy = tinygan.tensor(gy)
        else:
            import torch
            self.gy = torch.from_numpy(gy)
        self.k = 1
        self.dtypes = set()
        y.backward(self.gy)
        self.dtypes.add(str(y.dtype).replace("torch.", ""))
        for t in self.inputs:
            if t.grad is not None:
                self.dtypes.add(str(t.grad.dtype).replace("torch.", ""))

    def run(self):
        """(forward s/call, backward s/call) over k calls."""
        t0 = time.perf_counter()
        ys = [self.fn(*self.inputs) for _ in range(self.k)]
        t1 = time.perf_counter()
        for y in ys:
            y.backward(self.gy)
        t2 = time.perf_counter()
        return (t1 - t0) / self.k, (t2 - t1) / self.k

    def calibrate(self, min_time):
        f, b = self.run()
        self.k = max(1, min(2000, int(min_time / max(f + b, 1e-7))))


class AdamCase:
    """One Adam step over a whole network's parameters (grads filled with random values once)."""

    def __init__(self, lib, model, net):
        import numpy as np
        from models import tinygan_models, torch_models
        self.lib = lib
        idx = 0 if net == "G" else 1
        if lib == "tinygan":
            import tinygan.optim
            module = tinygan_models(model)[idx]
            self.opt = tinygan.optim.Adam(module.parameters(), lr=2e-4, betas=(0.5, 0.999))
            for p in module.parameters():
                p.grad.array[...] = np.random.default_rng(0).standard_normal(p.shape).astype(np.float32)
        else:
            import torch
            module = torch_models(model)[idx]
            self.opt = torch.optim.Adam(module.parameters(), lr=2e-4, betas=(0.5, 0.999))
            for p in module.parameters():
                p.grad = torch.randn_like(p)
        self.params = sum(int(np.prod(p.shape)) for p in module.parameters())
        self.dtypes = {"float32"}
        self.k = 1

    def run(self):
        t0 = time.perf_counter()
        for _ in range(self.k):
            self.opt.step()
        return (time.perf_counter() - t0) / self.k, 0.0

    def calibrate(self, min_time):
        f, _ = self.run()
        self.k = max(1, min(2000, int(min_time / max(f, 1e-7))))


def measure(cases, repeats):
    """Interleaved repeats (ABBA order); median forward and backward ms per call for each framework."""
    libs = list(cases)
    times = {lib: ([], []) for lib in libs}
    for r in range(repeats):
        for lib in (libs if r % 2 == 0 else libs[::-1]):
            f, b = cases[lib].run()
            times[lib][0].append(f * 1e3)
            times[lib][1].append(b * 1e3)
    return {lib: (statistics.median(f), statistics.median(b)) for lib, (f, b) in times.items()}


def main(argv=None):
    args = parse_args(argv)
    _prepare_env(args)
    import numpy as np
    from models import torch_available
    use_torch = not args.no_torch and torch_available()
    if use_torch:
        import torch
        torch.set_num_threads(args.threads)
    libs = ["tinygan", "torch"] if use_torch else ["tinygan"]
    rand, arrays = _randers()

    rows = []
    specs = _specs()
    adam = [(f"adam.step {model} {net}", model, net) for model in ("mlp", "dcgan") for net in ("G", "D")]
    for name, label, make in specs:
        if args.only and args.only not in name:
            continue
        cases = {lib: Case(lib, make, rand[lib], arrays) for lib in libs}
        for c in cases.values():
            c.calibrate(args.min_time)
        rows.append((name, label, measure(cases, args.repeats), {lib: c.dtypes for lib, c in cases.items()}))
        _print_row(rows[-1], use_torch)
    for name, model, net in adam:
        if args.only and args.only not in name:
            continue
        cases = {lib: AdamCase(lib, model, net) for lib in libs}
        for c in cases.values():
            c.calibrate(args.min_time)
        rows.append((name, f"{cases['tinygan'].params} params", measure(cases, args.repeats),
                     {lib: c.dtypes for lib, c in cases.items()}))
        _print_row(rows[-1], use_torch)

    table = format_table(rows, use_torch)
    from bench_gan_step import _blas_info
    info = [f"- threads: {args.threads}; numpy {np.__version__} with {_blas_info()}; torch "
            f"{torch.__version__ if use_torch else 'not installed'}; {args.repeats} interleaved repeats of "
            f">= {args.min_time:g} s; median ms per call; every input requires grad",
            "- ratio = tinygan / torch (< 1: tinygan faster); adam rows: torch's default Adam (per-parameter "
            "loop on the CPU) vs tinygan's one pass over the flat buffer"]
    was = os.environ.get("TINYGAN_BENCH_OPENBLAS_WAS")
    if was:
        info.append(f"- OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for this run only (were {was})")
    print("\n".join(info + [""] + table))
    if args.write:
        from bench_gan_step import write_results
        import datetime
        write_results("bench_ops", [f"## Per-op timings ({datetime.date.today()})", ""] + info + [""] + table)
        print("written to benchmarks/RESULTS.md")
    return 0


def _print_row(row, use_torch):
    name, label, t, dtypes = row
    line = f"{name:22s} {label:28s} tinygan fwd {t['tinygan'][0]:8.3f} bwd {t['tinygan'][1]:8.3f} ms"
    if use_torch:
        line += f" | torch fwd {t['torch'][0]:8.3f} bwd {t['torch'][1]:8.3f} ms"
    bad = sorted(d for d in dtypes["tinygan"] if d != "float32")
    if bad:
        line += f"  ! tinygan dtypes {bad}"
    print(line, flush=True)


def format_table(rows, use_torch):
    head = ["op", "shape", "tinygan fwd", "tinygan bwd"]
    if use_torch:
        head += ["torch fwd", "torch bwd", "fwd ratio", "bwd ratio"]
    head.append("dtypes")
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, label, t, dtypes in rows:
        tg = t["tinygan"]
        cells = [name, label, f"{tg[0]:.3f}", f"{tg[1]:.3f}" if tg[1] else "-"]
        if use_torch:
            th = t["torch"]
            cells += [f"{th[0]:.3f}", f"{th[1]:.3f}" if th[1] else "-", f"{tg[0] / th[0]:.2f}",
                      f"{tg[1] / th[1]:.2f}" if th[1] else "-"]
        bad = sorted(d for d in dtypes["tinygan"] if d != "float32")
        cells.append("! " + ", ".join(bad) if bad else "float32")
        out.append("| " + " | ".join(cells) + " |")
    return out


if __name__ == "__main__":
    sys.exit(main())

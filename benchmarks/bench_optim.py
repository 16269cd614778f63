"""Time one Adam step over the seed MLP GAN's parameters: tinygan's flat-buffer Adam vs a naive NumPy Adam.

G = Linear(100,256), Linear(256,512), Linear(512,784); D = Linear(784,512), Linear(512,256), Linear(256,1):
about 1.1M float32 parameters in two optimizers (one per net, as in training). Each timed call steps both.

    naive   for each parameter: about a dozen NumPy expressions, each allocating a temporary
    flat    tinygan.optim.Adam: one pass of in-place ufuncs (out=) over one flat buffer per net

Prints the median, quartiles and minimum of 50 steps after 5 warm-up steps, the variants interleaved.

    python benchmarks/bench_optim.py [--device cpu|gpu] [--steps 50]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

import tinygan  # noqa: E402
from tinygan import backend, nn  # noqa: E402

LR, BETAS, EPS = 2e-4, (0.5, 0.999), 1e-8


def mlp_gan(device):
    G = nn.Sequential(nn.Linear(100, 256), nn.Linear(256, 512), nn.Linear(512, 784))
    D = nn.Sequential(nn.Linear(784, 512), nn.Linear(512, 256), nn.Linear(256, 1))
    return G.to(device), D.to(device)


class NaiveAdam:
    """The textbook loop: per parameter, new arrays for every intermediate (what DeZero's update_one does)."""

    def __init__(self, params):
        self.params = list(params)
        self.m = [p.array * 0 for p in self.params]
        self.v = [p.array * 0 for p in self.params]
        self.t = 0

    def step(self):
        self.t += 1
        b1, b2 = BETAS
        for i, p in enumerate(self.params):
            xp = backend.get_array_module(p.array)
            g = p.grad.array
            self.m[i] = b1 * self.m[i] + (1 - b1) * g
            self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
            m_hat = self.m[i] / (1 - b1 ** self.t)
            v_hat = self.v[i] / (1 - b2 ** self.t)
            p.array -= LR * m_hat / (xp.sqrt(v_hat) + EPS)


def give_grads(params):
    for p in params:
        if p.grad is None:
            p.grad = tinygan.Tensor.from_array(backend.get_array_module(p.array).ones_like(p.array))
        p.grad.array[...] = 1e-3


def time_interleaved(steps_by_name, device, steps, warmup=5):
    """Median, min and quartiles of each step function, run alternately so machine noise hits all alike."""
    times = {name: [] for name in steps_by_name}
    for i in range(warmup + steps):
        for name, step in steps_by_name.items():
            backend.synchronize(device)
            t0 = time.perf_counter()
            step()
            backend.synchronize(device)
            if i >= warmup:
                times[name].append(time.perf_counter() - t0)
    result = {}
    for name, ts in times.items():
        q = statistics.quantiles(ts, n=4)
        result[name] = (statistics.median(ts), min(ts), q[0], q[2])
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    tinygan.manual_seed(0)

    G1, D1 = mlp_gan(args.device)
    n = sum(p.numel() for p in G1.parameters()) + sum(p.numel() for p in D1.parameters())
    give_grads(list(G1.parameters()) + list(D1.parameters()))
    naive = [NaiveAdam(G1.parameters()), NaiveAdam(D1.parameters())]

    G2, D2 = mlp_gan(args.device)
    opts = [tinygan.optim.Adam(G2.parameters(), lr=LR, betas=BETAS),
            tinygan.optim.Adam(D2.parameters(), lr=LR, betas=BETAS)]
    give_grads(list(G2.parameters()) + list(D2.parameters()))

    results = time_interleaved({
        "naive per-parameter NumPy Adam": lambda: [o.step() for o in naive],
        "tinygan.optim.Adam (flat buffers)": lambda: [o.step() for o in opts],
        "tinygan zero_grad (both nets)": lambda: [o.zero_grad() for o in opts],
    }, args.device, args.steps)
    print(f"Adam step over the MLP GAN's {n:,} parameters (G and D, two optimizers), device={args.device}, "
          f"numpy {np.__version__}, median of {args.steps} interleaved steps [quartiles]")
    base = results["naive per-parameter NumPy Adam"][0]
    for name, (median, best, q1, q3) in results.items():
        speedup = "" if "zero_grad" in name else f"  ({base / median:.2f}x vs naive)"
        print(f"  {name:36s} median {median * 1e3:7.3f} ms  [{q1 * 1e3:.3f}, {q3 * 1e3:.3f}]  "
              f"min {best * 1e3:7.3f} ms{speedup}")


if __name__ == "__main__":
    main()

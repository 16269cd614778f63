"""What a recorded backward costs: ``backward(create_graph=True)`` against a plain ``backward()``, and a
WGAN-GP critic step against a WGAN one, on the MLP critic (784-512-256-1, LeakyReLU 0.2, batch 64, CPU).

    python benchmarks/bench_create_graph.py              # 15 repeats; medians
    python benchmarks/bench_create_graph.py --threads 1

Each repeat times the same work in alternating order, after a warm-up:
- ``plain``: D(x).sum().backward() with x and D's weights requiring grad (backward only; the forward is
  built outside the timer);
- ``create_graph``: the same backward with create_graph=True (every op's backward_graph on Tensors, recorded);
- ``critic wgan`` / ``critic wgan-gp``: one discriminator update of the GAN loop (forward, loss, backward,
  Adam step); wgan-gp adds the interpolates' forward, the recorded input gradient and the backward through it.
The issue's bound: create_graph at most 3x plain.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--iters", type=int, default=20, help="iterations per timed repeat")
    args = parser.parse_args()
    if args.threads:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.threads)

    import tinygan
    from tinygan import nn, optim
    from tinygan.app import gan as gan_mod, models

    tinygan.manual_seed(0)
    D = models.mlp_discriminator((1, 28, 28), (512, 256))
    G = models.mlp_generator(100, (256, 512), (1, 28, 28))
    x = tinygan.randn(64, 1, 28, 28)

    def plain():
        out = D(x.detach().requires_grad_())
        start = time.perf_counter()
        out.sum().backward()
        return time.perf_counter() - start

    def recorded():
        out = D(x.detach().requires_grad_())
        start = time.perf_counter()
        out.sum().backward(create_graph=True)
        return time.perf_counter() - start

    def critic_step(loss):
        opt_g = optim.Adam(G.parameters(), lr=1e-4, betas=(0.0, 0.9))
        opt_d = optim.Adam(D.parameters(), lr=1e-4, betas=(0.0, 0.9))
        gan = gan_mod.GAN(G, D, opt_g, opt_d, 100, loss=loss, d_steps=5)
        real = tinygan.randn(64, 1, 28, 28)
        with tinygan.no_grad():
            fake = G(tinygan.randn(64, 100))

        def step():
            start = time.perf_counter()
            gan.discriminator_step(real, fake)
            return time.perf_counter() - start
        return step

    cases = {"plain backward": plain, "create_graph backward": recorded,
             "critic step wgan": critic_step("wgan"), "critic step wgan-gp": critic_step("wgan-gp")}
    for fn in cases.values():                         # warm-up
        for _ in range(3):
            fn()
    times = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, fn in cases.items():
            for param in D.parameters():
                param.grad = None
            times[name].append(sum(fn() for _ in range(args.iters)) / args.iters)
    medians = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    threads = args.threads or os.cpu_count()
    print(f"MLP critic 784-512-256-1, batch 64, CPU, {threads} thread(s), median of {args.repeats} repeats "
          f"x {args.iters} iterations")
    for name, ms in medians.items():
        print(f"  {name:24s} {ms:8.3f} ms")
    print(f"  create_graph / plain backward: {medians['create_graph backward'] / medians['plain backward']:.2f}x "
          f"(bound: 3x)")
    print(f"  wgan-gp / wgan critic step:    {medians['critic step wgan-gp'] / medians['critic step wgan']:.2f}x")


if __name__ == "__main__":
    main()

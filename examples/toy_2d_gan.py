"""A GAN on a 2-D mixture of Gaussians: does it find every mode, or collapse onto a few?

    --dataset ring: 8 Gaussians on a circle of radius 1, std 0.01 (PacGAN's benchmark)
    --dataset grid: 25 Gaussians at {-4, -2, 0, 2, 4}^2, std 0.05

    G: z (8) -> 128 -> 128 -> 2 and D: 2 -> 128 -> 128 -> 1, LeakyReLU(0.2); Adam, lr 1e-3, betas (0.5, 0.999)

After each epoch it draws 2,500 samples and reports the modes captured (a mode counts when a sample lies
within 3 std of it), the % of high-quality samples (within 3 std of their nearest mode) and the reverse KL of
the mode histogram to uniform (tinygan/app/toy.py), and plots the samples over the true modes.
Needs no download; the defaults train in under a minute on a CPU.

    python examples/toy_2d_gan.py --out runs/toy
    python examples/toy_2d_gan.py --dataset grid --loss hinge
    python examples/toy_2d_gan.py --recipe best          # R1, EMA, lr decay, 4x64 layers: every mode, ~90% precise
    python examples/toy_2d_gan.py --pack 2 --mbstd       # remedies for collapse one by one: see --help
"""
import pathlib
import sys

try:
    from tinygan.app.cli import main
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    from tinygan.app.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], arch="toy"))

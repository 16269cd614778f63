"""The GAN of Goodfellow et al. (2014) on MNIST, with fully connected networks.

    G: z (100) -> 256 -> 512 -> 784, LeakyReLU(0.2) between layers, Tanh out, viewed as (N, 1, 28, 28)
    D: image (784) -> 512 -> 256 -> 1, LeakyReLU(0.2) between layers, a logit out
    Adam, lr 2e-4, betas (0.5, 0.999), batch 64, the non-saturating loss

The networks are built in tinygan/app/models.py (so ``python -m tinygan.sample`` can rebuild them from a
checkpoint); the training step is tinygan/app/gan.py; the options are tinygan/app/options.py, the loop and its
outputs tinygan/app/training.py (tinygan/app/cli.py names the rest).

    python examples/mnist_mlp_gan.py --epochs 20 --out runs/mlp
    python examples/mnist_mlp_gan.py --help
    python examples/mnist_mlp_gan.py --recipe best       # + the R1 penalty (--r1 10): every digit, 1/4 the FLD
"""
import pathlib
import sys

try:
    from tinygan.app.cli import main
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    from tinygan.app.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], arch="mlp"))

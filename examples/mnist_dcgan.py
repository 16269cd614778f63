"""A small DCGAN (Radford et al. 2015) on MNIST.

    G: z (100) -> Linear -> (128, 7, 7) -> BatchNorm, ReLU
         -> ConvTranspose2d(128, 64, 4, 2, 1) -> (64, 14, 14) -> BatchNorm, ReLU
         -> ConvTranspose2d(64, 1, 4, 2, 1) -> (1, 28, 28) -> Tanh
    D: image (1, 28, 28) -> Conv2d(1, 64, 4, 2, 1) -> (64, 14, 14) -> LeakyReLU(0.2)
         -> Conv2d(64, 128, 4, 2, 1) -> (128, 7, 7) -> BatchNorm, LeakyReLU(0.2) -> Flatten -> Linear -> logit
    Adam, lr 2e-4, betas (0.5, 0.999), batch 64, the non-saturating loss

The networks are built in tinygan/app/models.py; the training step is tinygan/app/gan.py; the options are
tinygan/app/options.py, the loop and its outputs tinygan/app/training.py. On a CPU an epoch of the 60k training
images takes a while: try --split test, or --device gpu.

    python examples/mnist_dcgan.py --epochs 5 --out runs/dcgan
    python examples/mnist_dcgan.py --help
    python examples/mnist_dcgan.py --recipe best         # + R1 (--r1 10, D with LayerNorm), batch 8: 1/3 the FLD
    python examples/mnist_dcgan.py --diffaugment translation,cutout --spectral-norm --ema 0.99   # remedies: --help
"""
import pathlib
import sys

try:
    from tinygan.app.cli import main
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    from tinygan.app.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], arch="dcgan"))

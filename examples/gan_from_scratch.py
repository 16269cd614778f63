"""A GAN from scratch (Goodfellow et al. 2014) on MNIST: the PyTorch training loop, run by tinygan.

    python examples/gan_from_scratch.py --data-dir ../shared/data/mnist --split test --epochs 20
"""
import os
import sys
import time

import tinygan
from tinygan import nn, optim
from tinygan.app.cli import CLIError, OneLineParser, run_command
from tinygan.app.data import DatasetError, MNISTBatches, data_error_line, load_mnist
from tinygan.app.plotting import save_grid
from tinygan.app.sample import output_paths

parser = OneLineParser(prog="gan_from_scratch.py", description=__doc__.splitlines()[0], allow_abbrev=False)
parser.add_argument("--data-dir", help="folder with the MNIST IDX files (default: download them)")
parser.add_argument("--split", choices=("train", "test"), default="train", help="60k train or 10k test images")
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
parser.add_argument("--out", default="gan_from_scratch.png", help="where to save 64 samples at the end")
parser.add_argument("--overwrite", action="store_true", help="replace an existing --out picture")
parser.add_argument("--limit-batches", type=int, default=None, help="stop each epoch after N batches")
parser.add_argument("--no-download", action="store_true", help="fail instead of downloading missing MNIST files")
parser.set_defaults(npy=None)       # (for output_paths, shared with python -m tinygan.sample: no .npy here)


def main(args):    # a bad option, missing data, Ctrl-C: one line on stderr, no traceback (run_command, below)
    for option, value in (("--epochs", args.epochs), ("--limit-batches", args.limit_batches)):
        if value is not None and value < 1:                         # nonsense: refused before any work
            raise CLIError(f"{option} must be a positive integer, got {value}", 2)
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise CLIError(f"--data-dir {args.data_dir}: no such folder", 2)
    output_paths(args, "grid")      # --out: a picture's suffix, a writable folder, no file unless --overwrite
    tinygan.manual_seed(0)
    try:
        images, _ = load_mnist(args.data_dir, split=args.split, download=not args.no_download)  # uint8 (N, 1, 28, 28)
    except DatasetError as exc:
        raise CLIError(data_error_line(exc, args, "trains on it")) from None
    data = MNISTBatches(images, batch_size=64, device=args.device, flat=True)   # float32 (64, 784) in [-1, 1]

    # G maps noise z to an image; D maps an image to one logit: D(x) = sigmoid(logit) = P(x is real).
    G = nn.Sequential(nn.Linear(100, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
                      nn.Linear(512, 784), nn.Tanh()).to(args.device)
    D = nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256), nn.LeakyReLU(0.2),
                      nn.Linear(256, 1)).to(args.device)
    opt_g = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()              # BCE(logit, y) = -[y log D + (1 - y) log(1 - D)], computed stably
    real_label = tinygan.ones(64, 1, device=args.device)
    fake_label = tinygan.zeros(64, 1, device=args.device)

    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        for i, real in enumerate(data):
            if i == args.limit_batches:
                break
            fake = G(tinygan.randn(64, 100, device=args.device))
            # D step: maximise log D(x) + log(1 - D(G(z))), i.e. minimise BCE(D(x), 1) + BCE(D(G(z)), 0).
            # fake.detach(): this loss must train D only, so its backward stops before G.
            d_loss = bce(D(real), real_label) + bce(D(fake.detach()), fake_label)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            # G step, through D: maximise log D(G(z)) (the non-saturating loss; minimising log(1 - D(G(z)))
            # as first written gives G almost no gradient while D easily rejects its fakes): BCE(D(G(z)), 1).
            # Freezing D is not needed for correctness (only opt_g steps here, and opt_d.zero_grad() clears
            # D's grads before its next step); it skips computing D's weight gradients, which nothing uses.
            D.requires_grad_(False)
            g_loss = bce(D(fake), real_label)
            opt_g.zero_grad()
            g_loss.backward()                     # through D's layers into G's weights
            opt_g.step()
            D.requires_grad_(True)
        print(f"epoch {epoch}/{args.epochs}  d_loss {d_loss.item():.3f}  g_loss {g_loss.item():.3f}  "
              f"({time.perf_counter() - start:.1f} s)")   # the epoch's last batch; D at chance: 1.386, g 0.693

    with tinygan.no_grad():
        samples = G(tinygan.randn(64, 100, device=args.device)).reshape(64, 1, 28, 28)
    save_grid(samples.numpy(), args.out, nrow=8)            # written atomically: never half a file
    print(f"wrote {args.out}")


sys.exit(run_command("gan_from_scratch.py", parser, main,
                     interrupted=lambda args: f"before {args.out} was written (it is saved after the last epoch)"))

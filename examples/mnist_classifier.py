"""Train LeNet-5 on MNIST with tinygan: the classifier that judges generated digits (tinygan/app/judge.py).

Images are scaled to [-1, 1], as MNISTBatches gives real digits and a tanh generator gives fakes. With
``--holdout N`` the network trains on the first (len - N) images of the split and is tested on the last N;
without it, a --split train run is tested on the 10k test split (a --split test run holds out 2,000).

    python examples/mnist_classifier.py --data-dir ../shared/data/mnist --split test --holdout 2000 \\
        --epochs 12 --seed 0 --out runs/lenet          # how tinygan/app/weights/lenet_mnist.npz was made

Writes to --out: lenet.npz (tinygan.save, atomic; tinygan.app.judge.load_judge(path=...) reads it) and
metrics.csv (epoch, train_loss, train_acc, holdout_acc), and prints a summary.
"""
import argparse
import pathlib
import sys
import time

import numpy as np

try:
    import tinygan
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    import tinygan
from tinygan import nn, optim
from tinygan.app.data import DatasetError, MNISTBatches, load_mnist
from tinygan.app.judge import Judge, LeNet, lenet_checkpoint
from tinygan.app.plotting import write_csv
from tinygan.fileio import unwritable_reason

PROG = "mnist_classifier.py"
OUTPUTS = ("lenet.npz", "metrics.csv")


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (default: $TINYGAN_DATA or the cache)")
    parser.add_argument("--split", choices=("train", "test"), default="train", help="60k train or 10k test images")
    parser.add_argument("--holdout", type=int, default=None,
                        help="test on the last N images of the split, train on the rest (default: the test split "
                             "for --split train, 2000 for --split test)")
    parser.add_argument("--epochs", type=positive, default=12)
    parser.add_argument("--batch-size", type=positive, default=64)
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    parser.add_argument("--activation", choices=("relu", "tanh"), default="relu")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/lenet", help="folder for lenet.npz and metrics.csv")
    parser.add_argument("--overwrite", action="store_true", help="replace lenet.npz and metrics.csv in --out")
    parser.add_argument("--limit-batches", type=positive, default=None, help="stop each epoch after N batches")
    parser.add_argument("--no-download", action="store_true", help="never download missing MNIST files")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)
    if not args.lr > 0:
        parser.error(f"--lr must be positive, got {args.lr}")

    out = pathlib.Path(args.out)
    existing = [name for name in OUTPUTS if (out / name).exists()]
    if existing and not args.overwrite:             # checked first: no training thrown away
        sys.exit(f"{PROG}: {out} already holds {', '.join(existing)}: pass --overwrite to replace, or another --out")
    reason = unwritable_reason(out)                 # a file, or read-only: said now, not after training
    if reason is not None:
        sys.exit(f"{PROG}: --out {out} {reason}")
    if args.device == "gpu" and not tinygan.device_available("gpu"):
        sys.exit(f"{PROG}: --device gpu: no usable GPU (CuPy or a CUDA device is missing)")

    try:
        images, labels = load_mnist(args.data_dir, split=args.split, download=not args.no_download)
        if args.holdout is None and args.split == "train":
            test_images, test_labels = load_mnist(args.data_dir, split="test", download=not args.no_download)
            train_images, train_labels, tested_on = images, labels, "the test split"
    except DatasetError as exc:                     # missing or corrupt files: one line, no traceback
        sys.exit(f"{PROG}: {str(exc).splitlines()[0]} (--data-dir DIR; --split test for the 10k split)")
    if args.holdout is not None or args.split == "test":
        n = 2000 if args.holdout is None else args.holdout
        if not 0 < n < len(images):
            sys.exit(f"{PROG}: --holdout {n}: must be between 1 and {len(images) - 1} for the {len(images)} "
                     f"images of the {args.split} split")
        train_images, train_labels = images[:-n], labels[:-n]
        test_images, test_labels = images[-n:], labels[-n:]
        tested_on = f"the last {n} {args.split} images"
    if args.batch_size > len(train_images):
        sys.exit(f"{PROG}: --batch-size {args.batch_size} is larger than the {len(train_images)} training images")

    tinygan.manual_seed(args.seed)
    np.random.seed(args.seed)
    data = MNISTBatches(train_images, train_labels, batch_size=args.batch_size, device=args.device)  # [-1, 1]
    test_x = MNISTBatches(test_images, batch_size=len(test_images), device=args.device, shuffle=False,
                          drop_last=False).images                                       # (N, 1, 28, 28)
    model = LeNet(args.activation).to(args.device)
    judge = Judge(model, args.device)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    out.mkdir(parents=True, exist_ok=True)
    if not args.quiet:
        print(f"LeNet-5 ({args.activation}): {sum(p.array.size for p in model.parameters())} parameters; training "
              f"on {len(train_images)} {args.split} images, testing on {tested_on}; device {args.device}")

    rows, start = [], time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for i, (x, y) in enumerate(data):
            if i == args.limit_batches:
                break
            logits = model(x)                                       # (B, 10)
            loss = loss_fn(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(y)
            correct += int((logits.array.argmax(axis=1) == y.array).sum())
            seen += len(y)
        holdout_acc = float((judge.predict(test_x) == test_labels).mean())
        rows.append((epoch, loss_sum / seen, correct / seen, holdout_acc))
        if not args.quiet:
            print(f"epoch {epoch}/{args.epochs}  loss {rows[-1][1]:.4f}  train acc {rows[-1][2]:.4f}  "
                  f"holdout acc {holdout_acc:.4f}  ({time.perf_counter() - start:.0f} s)")

    tinygan.save(lenet_checkpoint(model, seed=args.seed, epochs=args.epochs, split=args.split,
                                  holdout_accuracy=holdout_acc, tested_on=tested_on), out / "lenet.npz")
    write_csv(out / "metrics.csv", ["epoch", "train_loss", "train_acc", "holdout_acc"], rows)
    print(f"{PROG}: accuracy {holdout_acc:.4f} on {tested_on} after {args.epochs} epochs "
          f"({time.perf_counter() - start:.0f} s); wrote {out / 'lenet.npz'} and {out / 'metrics.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The judge of generated digits: a LeNet-5 classifier trained by tinygan, shipped with the package.

    from tinygan.app.judge import load_judge
    judge = load_judge("cpu")             # the weights in tinygan/app/weights/lenet_mnist.npz, hash checked
    judge.features(x)                     # (N, 84) float64: the penultimate layer, for FLD and precision/recall
    judge.probs(x)                        # (N, 10) float64 softmax, for the classifier score and digit coverage
    judge.features_and_probs(x)           # both from one pass of the network (what evaluate uses)
    judge.predict(x)                      # (N,) int64 digits

``x`` is (N, 1, 28, 28) or (N, 784), a NumPy or CuPy array or a Tensor, scaled to [-1, 1] as MNISTBatches
gives real images and a tanh generator gives fakes. Nothing is ever downloaded: the weights ship in the package
and their SHA-256 is checked on load.

LeNet-5 (LeCun et al. 1998, with ReLU and max pooling):

    (1, 28, 28) -> Conv2d(1, 6, 5, padding=2) -> ReLU -> MaxPool2d(2) -> (6, 14, 14)
                -> Conv2d(6, 16, 5) -> ReLU -> MaxPool2d(2) -> (16, 5, 5) -> Flatten -> 400
                -> Linear(400, 120) -> ReLU -> Linear(120, 84) -> ReLU -> 84 features
                -> Linear(84, 10) -> 10 logits

How the shipped weights were made (only the 10k MNIST test split is available offline, so the judge trains on
its first 8,000 images and is tested on the last 2,000, which it never saw):

    python examples/mnist_classifier.py --data-dir ../shared/data/mnist --split test --holdout 2000 \\
        --epochs 12 --seed 0 --out runs/lenet
    cp runs/lenet/lenet.npz tinygan/app/weights/lenet_mnist.npz

That run (seed 0, 15 s on a 2-core CPU) reached 98.15% on the 2,000 held-out images (HOLDOUT_ACCURACY). The
epoch count was fixed before looking at the holdout curve, not picked as its best epoch. Trained on the 60k
train split instead (``--split train``, tested on the 10k test split), LeNet-5 should pass 99%; that could not
be checked here, where only the test split is available. A rebuilt file
holds the same weights on the same machine and library versions but not the same bytes (the zip entries carry
a timestamp), so after rebuilding, put its SHA-256 in WEIGHTS_SHA256.
"""
import hashlib
import pathlib

import numpy as np

from tinygan import nn
from tinygan.core import array_backend as backend
from tinygan.core import array_of, no_grad
from tinygan.creation import tensor
from tinygan.functional import softmax
from tinygan.serialization import load

WEIGHTS = pathlib.Path(__file__).resolve().parent / "weights" / "lenet_mnist.npz"
WEIGHTS_SHA256 = "7fc1770a1a31383b8d5c1f04499473c03eb3be6014d19982837a09ff618cb30f"
HOLDOUT_ACCURACY = 0.9815        # on the last 2,000 MNIST test images (1963 of 2000), never trained on
FORMAT = "tinygan-lenet"
BATCH = 1000                     # images per forward pass in features/probs/predict


class JudgeWeightsError(RuntimeError):
    """The judge's weights file is missing, altered (SHA-256 mismatch) or not a LeNet checkpoint."""


class LeNet(nn.Module):
    """LeNet-5 for 28x28 digits: ``body`` gives the 84 penultimate features, ``head`` the 10 logits."""

    def __init__(self, activation="relu"):
        super().__init__()
        act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
        self.activation = activation
        self.body = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), act(), nn.MaxPool2d(2),      # (N, 1, 28, 28) -> (N, 6, 14, 14)
            nn.Conv2d(6, 16, 5), act(), nn.MaxPool2d(2),                # -> (N, 16, 10, 10) -> (N, 16, 5, 5)
            nn.Flatten(),                                               # -> (N, 400)
            nn.Linear(400, 120), act(),
            nn.Linear(120, 84), act())                                  # -> (N, 84)
        self.head = nn.Linear(84, 10)                                   # -> (N, 10) logits

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def sha256sum(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def lenet_checkpoint(model, **info):
    """What the example saves with tinygan.save: the format, the activation, the weights and ``info``."""
    return {"format": FORMAT, "activation": model.activation, "state_dict": model.state_dict(), **info}


def load_lenet(path, device="cpu", sha256=None):
    """A LeNet in eval mode on ``device`` from a file written by examples/mnist_classifier.py.

    With ``sha256``, the file's hash must match it (JudgeWeightsError naming the file and both hashes if not).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise JudgeWeightsError(f"judge weights {path} not found: rebuild them as tinygan/app/weights/README.md "
                                f"says, or reinstall tinygan")
    if sha256 is not None:
        actual = sha256sum(path)
        if actual != sha256:
            raise JudgeWeightsError(f"judge weights {path} are not the shipped file: SHA-256 {actual}, expected "
                                    f"{sha256}; reinstall tinygan, or rebuild them as "
                                    f"tinygan/app/weights/README.md says and record the new hash in judge.py")
    try:
        ckpt = load(path)
        if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
            raise ValueError(f"format {ckpt.get('format') if isinstance(ckpt, dict) else None!r}, "
                             f"expected {FORMAT!r}")
        model = LeNet(ckpt["activation"])
        model.load_state_dict(ckpt["state_dict"])
    except Exception as exc:
        raise JudgeWeightsError(f"judge weights {path}: not a LeNet checkpoint written by "
                                f"examples/mnist_classifier.py ({type(exc).__name__}: {exc})") from exc
    return model.to(backend.check_device(device)).eval()


class Judge:
    """A trained LeNet that scores images in [-1, 1]: features, probabilities and predicted digits."""

    def __init__(self, model, device="cpu", batch_size=BATCH):
        self.model = model.eval()
        self.device = device
        self.batch_size = int(batch_size)

    def __repr__(self):
        return f"Judge(LeNet-5 ({self.model.activation}), device='{self.device}', batch_size={self.batch_size})"

    def _batches(self, images):
        """(N, 1, 28, 28) float32 Tensors on the judge's device, ``batch_size`` images at a time."""
        x = array_of(images)
        x = backend.to_device(x, self.device)                          # NumPy, CuPy or lists, any device
        if x.ndim == 2 and x.shape[1] == 784:
            x = x.reshape(len(x), 1, 28, 28)                            # (N, 784) -> (N, 1, 28, 28)
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"Judge: expects images (N, 1, 28, 28) or (N, 784), got shape {tuple(x.shape)}")
        for lo in range(0, len(x), self.batch_size):
            yield tensor(x[lo:lo + self.batch_size], dtype=np.float32, device=self.device)

    def _run(self, images, fn, width):
        self.model.eval()
        with no_grad():
            parts = [backend.asnumpy(fn(batch).array).astype(np.float64) for batch in self._batches(images)]
        return np.concatenate(parts) if parts else np.zeros((0, width))

    def features(self, images):
        """(N, 84) float64 NumPy: the penultimate layer's activations."""
        return self._run(images, self.model.features, 84)

    def logits(self, images):
        """(N, 10) float64 NumPy logits."""
        return self._run(images, self.model, 10)

    def probs(self, images):
        """(N, 10) float64 NumPy class probabilities (softmax of the logits; each row sums to 1)."""
        return self._run(images, lambda x: softmax(self.model(x).to(dtype=np.float64), dim=1), 10)

    def features_and_probs(self, images):
        """(features (N, 84), probabilities (N, 10)), both float64 NumPy, from one pass of the network: the
        head runs on the features, so the convolutions run once (``features`` then ``probs`` runs them twice)."""
        self.model.eval()
        features, probs = [], []
        with no_grad():
            for batch in self._batches(images):
                f = self.model.features(batch)
                features.append(backend.asnumpy(f.array).astype(np.float64))
                probs.append(backend.asnumpy(softmax(self.model.head(f).to(dtype=np.float64), dim=1).array))
        if not features:
            return np.zeros((0, 84)), np.zeros((0, 10))
        return np.concatenate(features), np.concatenate(probs)

    def predict(self, images):
        """(N,) int64 NumPy predicted digits."""
        return self.logits(images).argmax(axis=1).astype(np.int64)


def load_judge(device="cpu", path=None):
    """The shipped LeNet judge on ``device``; ``path`` loads another file (its hash is then not checked)."""
    model = load_lenet(WEIGHTS if path is None else path, device, sha256=WEIGHTS_SHA256 if path is None else None)
    return Judge(model, device)

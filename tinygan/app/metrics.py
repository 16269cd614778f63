"""How good and how varied a GAN's samples are, as numbers: computed on plain arrays, independent of any model.

The MNIST metrics take what a trained digit classifier gives for each image (its features, or its class
probabilities p(y|x)); the toy metric takes the 2-D points themselves.

    frechet_distance     FLD, the MNIST analogue of FID: the Frechet (2-Wasserstein) distance between Gaussians
                         fitted to real and generated features (Heusel et al. 2017)
    classifier_score     the Inception Score with a digit classifier: exp(E_x KL(p(y|x) || p(y))) (Salimans et
                         al. 2016); high when each sample is one clear digit and all digits appear
    digit_coverage       which digits the generator draws: their histogram, how many it covers, KL to the real
                         split's histogram, the classifier's mean confidence
    precision_recall     improved precision and recall (Kynkaanniemi et al. 2019): how much of the fakes lies on
                         the real manifold (quality), how much of the real manifold the fakes reach (coverage)
    mode_metrics         the 2-D toy mixtures: modes captured, % high-quality samples, reverse KL (PacGAN)

Arrays may be NumPy or CuPy (copied to the host); all sums run in float64.
"""
import math

import numpy as np

from tinygan.core import array_backend as backend

EPS = 1e-12                 # floor under probabilities before a log: log(0) never happens


def _host64(x):
    """``x`` as a float64 NumPy array (copied from the GPU if it lives there)."""
    return np.asarray(backend.asnumpy(x), dtype=np.float64)


def _safe_log(p):
    """log(max(p, EPS)): exact for p >= EPS, finite for p = 0 (where it is always multiplied by p = 0)."""
    return np.log(np.maximum(p, EPS))


# ==================================================================================================
# Frechet distance (FLD / FID)
# ==================================================================================================
def fit_gaussian(features):
    """(mu, sigma): the mean (D,) and the unbiased covariance (D, D) of (N, D) features, one row per sample."""
    x = _host64(features)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"fit_gaussian needs (N, D) features with N >= 2, got shape {x.shape}")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def sqrt_psd(sigma):
    """S^(1/2) = V diag(sqrt(w)) V^T for symmetric PSD S = V diag(w) V^T, round-off negatives in w clipped to 0."""
    w, V = np.linalg.eigh((sigma + sigma.T) / 2)
    return (V * np.sqrt(np.clip(w, 0.0, None))) @ V.T


def trace_sqrt_product(sigma1, sigma2):
    """Tr (S1 S2)^(1/2) = sum sqrt(eig(S1^(1/2) S2 S1^(1/2))): S1 S2 is similar to that symmetric PSD matrix."""
    root1 = sqrt_psd(sigma1)
    m = root1 @ sigma2 @ root1
    w = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(w, 0.0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), the squared 2-Wasserstein distance of two Gaussians."""
    mu1, mu2 = np.atleast_1d(_host64(mu1)), np.atleast_1d(_host64(mu2))
    sigma1, sigma2 = np.atleast_2d(_host64(sigma1)), np.atleast_2d(_host64(sigma2))
    d = len(mu1)
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"frechet_distance: shapes {mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape} "
                         f"are not (D,), (D, D), (D,), (D, D)")
    diff = mu1 - mu2
    distance = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2)
    return max(float(distance), 0.0)            # >= 0 in exact arithmetic; round-off can dip below by ~1e-15


def frechet_distance_of(features_a, features_b):
    """frechet_distance of the Gaussians fitted to two (N, D) feature sets (FLD on classifier features)."""
    return frechet_distance(*fit_gaussian(features_a), *fit_gaussian(features_b))


# ==================================================================================================
# Classifier (Inception) score
# ==================================================================================================
def classifier_score(probs, splits=10):
    """(mean, std) over splits of exp(E_x KL(p(y|x) || p(y))), p(y) the split's mean of p(y|x).

    As the Inception Score is computed (Salimans et al. 2016): the N samples are cut into ``splits`` equal
    parts of N // splits (a remainder is left out) and the score's mean and std over the parts reported.
    From 1 (every sample the same class, or every p(y|x) the same) to the number of classes (each sample one
    confident class, all classes equally often).
    """
    p = _host64(probs)
    if p.ndim != 2 or not 1 <= splits <= len(p):
        raise ValueError(f"classifier_score needs (N, classes) probabilities with N >= splits = {splits}, "
                         f"got shape {p.shape}")
    size = len(p) // splits
    parts = p[:splits * size].reshape(splits, size, p.shape[1])           # (splits, N // splits, classes)
    p_y = parts.mean(axis=1, keepdims=True)                                # (splits, 1, classes)
    kl = (parts * (_safe_log(parts) - _safe_log(p_y))).sum(axis=2)        # (splits, N // splits)
    scores = np.exp(kl.mean(axis=1))
    return float(scores.mean()), float(scores.std())


# ==================================================================================================
# Digit coverage
# ==================================================================================================
def class_histogram(probs_or_labels, num_classes=10):
    """(classes,) fractions of samples per class: labels counted, or probabilities' argmax counted."""
    x = backend.asnumpy(probs_or_labels)
    labels = np.asarray(x).argmax(axis=1) if np.ndim(x) == 2 else np.asarray(x, dtype=np.int64)
    if len(labels) == 0 or labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"class_histogram needs at least one label, each in [0, {num_classes})")
    return np.bincount(labels, minlength=num_classes) / len(labels)


def digit_coverage(probs_or_labels, real_histogram=None, num_classes=10, min_share=0.01):
    """Histogram of predicted digits, digits holding >= min_share of samples, KL(generated || real), confidence.

    ``probs_or_labels``: (N, classes) classifier probabilities or (N,) predicted labels. ``real_histogram``:
    the real split's class counts or fractions (``class_histogram(real_labels)``); None means uniform.

    The KL is KL(generated || real) = sum_y g(y) log(g(y) / r(y)), the direction of the toy's reverse KL:
    the real histogram has every digit, so it stays finite (at most log(1 / min r), log 10 for uniform r, when
    the generator draws one digit) and needs no eps where the generator misses a digit; KL(real || generated)
    would be infinite, or a number made of the eps, for every missed digit.
    ``confidence`` is the mean of max_y p(y|x) (None when labels were given).
    """
    x = backend.asnumpy(probs_or_labels)
    histogram = class_histogram(x, num_classes)
    real = np.full(num_classes, 1.0 / num_classes) if real_histogram is None else _host64(real_histogram)
    if real.shape != (num_classes,):
        raise ValueError(f"real_histogram has shape {real.shape}, expected ({num_classes},)")
    real = real / real.sum()
    kl = float((histogram * (_safe_log(histogram) - _safe_log(real))).sum())
    confidence = float(_host64(x).max(axis=1).mean()) if np.ndim(x) == 2 else None
    return {"histogram": histogram, "digits": int((histogram >= min_share).sum()), "num_classes": num_classes,
            "kl_to_real": kl, "confidence": confidence}


# ==================================================================================================
# Improved precision and recall
# ==================================================================================================
def squared_distances(a, b):
    """(n, m) ||a_i - b_j||^2 = ||a_i||^2 + ||b_j||^2 - 2 a_i . b_j, clipped at 0 against round-off."""
    d = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2 * (a @ b.T)
    return np.maximum(d, 0.0)


def knn_radii(x, k=3, block=1000):
    """(N,) squared distance from each row of x to its k-th nearest neighbour among the other rows."""
    if not 1 <= k < len(x):
        raise ValueError(f"k-NN radii need 1 <= k < N, got k={k}, N={len(x)}")
    radii = np.empty(len(x))
    for start in range(0, len(x), block):                   # a (block, N) slab at a time bounds the memory
        d = squared_distances(x[start:start + block], x)    # (block, N)
        rows = np.arange(len(d))
        d[rows, start + rows] = np.inf                      # not its own neighbour
        radii[start:start + block] = np.partition(d, k - 1, axis=1)[:, k - 1]
    return radii


def fraction_inside(points, centres, radii, block=1000):
    """Fraction of points inside at least one ball ||p - c_j||^2 <= radii_j (the manifold of the centres)."""
    inside = np.empty(len(points), dtype=bool)
    for start in range(0, len(points), block):
        d = squared_distances(points[start:start + block], centres)              # (block, M)
        inside[start:start + block] = (d <= radii[None, :]).any(axis=1)
    return float(inside.mean())


def unit_rows(features):
    """Each row scaled to length 1, x / ||x|| (rows of zeros stay zeros): features compared by direction."""
    x = _host64(features)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), EPS)


def precision_recall(real_features, fake_features, k=3, block=1000):
    """(precision, recall): fakes inside the reals' k-NN balls, reals inside the fakes' k-NN balls.

    Kynkaanniemi et al. 2019: each real sample's ball reaches its k-th nearest real neighbour, and the union
    of the balls estimates the real manifold; precision is the fraction of fakes on it (quality), recall the
    fraction of reals on the fakes' manifold, built the same way (coverage). Distances are computed ``block``
    rows at a time: 1,000 x 10,000 float64 is 80 MB.
    """
    real, fake = _host64(real_features), _host64(fake_features)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"precision_recall needs (N, D) and (M, D) features, got {real.shape}, {fake.shape}")
    precision = fraction_inside(fake, real, knn_radii(real, k, block), block)
    recall = fraction_inside(real, fake, knn_radii(fake, k, block), block)
    return precision, recall


# ==================================================================================================
# Modes of the 2-D toy mixtures
# ==================================================================================================
def mode_metrics(points, modes, std):
    """Modes captured, % high-quality samples and reverse KL to uniform, for (N, 2) samples.

    The PacGAN (Lin et al. 2018, after VEEGAN) metrics, over 2,500 samples by convention: a mode is captured
    when at least one sample lies within 3 std of it; high-quality samples are those within 3 std of their
    nearest mode; the reverse KL is KL(p || uniform) of the high-quality samples' histogram over the modes,
    0 when every mode gets the same share, log(K) when all land on one (inf with no high-quality sample).
    """
    points = _host64(points)
    modes = _host64(modes)
    dist = np.sqrt(((points[:, None, :] - modes[None, :, :]) ** 2).sum(-1))   # (N, K)
    nearest = dist.argmin(1)
    close = dist[np.arange(len(points)), nearest] <= 3 * std                  # high-quality samples
    counts = np.bincount(nearest[close], minlength=len(modes))
    if counts.sum() == 0:
        reverse_kl = math.inf
    else:
        p = counts / counts.sum()
        nz = p > 0
        reverse_kl = float((p[nz] * np.log(p[nz] * len(modes))).sum())
    return {"modes": int((counts > 0).sum()), "num_modes": len(modes),
            "high_quality": 100.0 * float(close.mean()) if len(points) else 0.0,
            "reverse_kl": reverse_kl}

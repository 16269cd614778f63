"""The sample-quality metrics against cases whose answer is known in closed form."""
import math

import numpy as np
import pytest

from tinygan.app import metrics, toy


def random_spd(rng, d, rank=None):
    """A random symmetric positive (semi-)definite (d, d) matrix, of the given rank."""
    a = rng.standard_normal((d, rank or d))
    return a @ a.T + (1e-3 * np.eye(d) if rank is None else 0)


# ==================================================================================================
# Frechet distance
# ==================================================================================================
def test_frechet_distance_of_a_gaussian_to_itself_is_zero():
    rng = np.random.default_rng(0)
    mu, sigma = rng.standard_normal(16), random_spd(rng, 16)
    assert metrics.frechet_distance(mu, sigma, mu, sigma) <= 1e-6 * np.trace(sigma)


def test_frechet_distance_in_one_dimension_is_the_squared_differences():
    m1, s1, m2, s2 = 0.5, 2.0, -1.0, 0.5          # means and standard deviations
    assert metrics.frechet_distance(m1, s1 ** 2, m2, s2 ** 2) == pytest.approx((m1 - m2) ** 2 + (s1 - s2) ** 2)


def test_frechet_distance_with_diagonal_covariances_sums_over_dimensions():
    rng = np.random.default_rng(1)
    m1, m2 = rng.standard_normal(5), rng.standard_normal(5)
    a, b = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)          # variances
    expected = ((m1 - m2) ** 2 + (np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert metrics.frechet_distance(m1, np.diag(a), m2, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_with_commuting_covariances():
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))                # shared eigenvectors: S1 S2 = S2 S1
    a, b = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    mu = rng.standard_normal(6)
    expected = ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()               # the diagonal case in q's basis
    assert metrics.frechet_distance(mu, s1, mu, s2) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_of_non_commuting_2x2_covariances():
    # for a 2x2 matrix with eigenvalues l1, l2 >= 0: Tr M^(1/2) = sqrt(l1) + sqrt(l2) = sqrt(Tr M + 2 sqrt(det M))
    s1, s2 = np.array([[2.0, 0.9], [0.9, 1.0]]), np.array([[1.0, -0.3], [-0.3, 0.5]])
    assert not np.allclose(s1 @ s2, s2 @ s1)
    m = s1 @ s2
    expected = np.trace(s1) + np.trace(s2) - 2 * math.sqrt(np.trace(m) + 2 * math.sqrt(np.linalg.det(m)))
    assert metrics.frechet_distance(np.zeros(2), s1, np.zeros(2), s2) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_against_scipy_sqrtm():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(3)
    mu1, mu2, s1, s2 = rng.standard_normal(8), rng.standard_normal(8), random_spd(rng, 8), random_spd(rng, 8)
    diff = mu1 - mu2
    expected = diff @ diff + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_is_symmetric_and_non_negative():
    rng = np.random.default_rng(4)
    for _ in range(20):
        d = int(rng.integers(1, 10))
        args = rng.standard_normal(d), random_spd(rng, d), rng.standard_normal(d), random_spd(rng, d)
        there, back = metrics.frechet_distance(*args), metrics.frechet_distance(*args[2:], *args[:2])
        assert there >= 0 and there == pytest.approx(back, rel=1e-9, abs=1e-12)


def test_frechet_distance_with_rank_deficient_covariances_is_finite():
    rng = np.random.default_rng(5)
    s1, s2 = random_spd(rng, 10, rank=3), random_spd(rng, 10, rank=2)   # round-off makes eigenvalues < 0
    mu = np.zeros(10)
    for a, b in [(s1, s2), (s1, s1), (s2, np.zeros((10, 10)))]:
        d = metrics.frechet_distance(mu, a, mu, b)
        assert np.isfinite(d) and d >= 0
    assert metrics.frechet_distance(mu, s1, mu, s1) < 1e-6 * np.trace(s1)
    features = rng.standard_normal((50, 3)) @ rng.standard_normal((3, 10))   # 10-D features on a 3-D subspace
    assert np.isfinite(metrics.frechet_distance_of(features, features[::-1] + 1))


def test_fitted_frechet_distance_converges_to_the_closed_form():
    rng = np.random.default_rng(6)
    m1, m2, a, b = np.zeros(4), np.full(4, 0.5), np.array([1.0, 2, 3, 4]), np.array([2.0, 1, 1, 0.5])
    exact = ((m1 - m2) ** 2 + (np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    errors = []
    for n in (100, 1000, 30000):
        x = m1 + np.sqrt(a) * rng.standard_normal((n, 4))
        y = m2 + np.sqrt(b) * rng.standard_normal((n, 4))
        errors.append(abs(metrics.frechet_distance_of(x, y) - exact))
    assert errors[-1] < 0.02 * exact and errors[-1] < errors[0]


def test_fit_gaussian_is_the_sample_mean_and_unbiased_covariance():
    x = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]])
    mu, sigma = metrics.fit_gaussian(x)
    assert np.allclose(mu, [2, 4]) and np.allclose(sigma, np.cov(x.T)) and sigma.shape == (2, 2)
    assert metrics.fit_gaussian(x[:, :1])[1].shape == (1, 1)


# ==================================================================================================
# Classifier score
# ==================================================================================================
def test_classifier_score_of_confident_even_predictions_is_the_number_of_classes():
    probs = np.eye(10)[np.arange(1000) % 10]                     # one-hot, each class 10% of every split
    mean, std = metrics.classifier_score(probs, splits=10)
    assert mean == pytest.approx(10) and std == pytest.approx(0, abs=1e-9)


def test_classifier_score_is_one_for_a_single_class_or_uniform_predictions():
    assert metrics.classifier_score(np.eye(10)[np.full(500, 3)])[0] == pytest.approx(1)
    assert metrics.classifier_score(np.full((500, 10), 0.1))[0] == pytest.approx(1)


def test_classifier_score_std_over_splits():
    probs = np.eye(10)[np.arange(100) % 10]
    assert metrics.classifier_score(np.tile(probs, (4, 1)), splits=4)[1] == pytest.approx(0, abs=1e-12)
    mixed = np.concatenate([probs, np.eye(10)[np.zeros(100, dtype=int)]])   # a score of 10, then of 1
    assert metrics.classifier_score(mixed, splits=2) == pytest.approx((5.5, 4.5))


# ==================================================================================================
# Digit coverage
# ==================================================================================================
def test_coverage_of_a_generator_that_draws_one_digit():
    probs = np.full((200, 10), 0.01)
    probs[:, 7] = 0.91
    c = metrics.digit_coverage(probs, real_histogram=np.full(10, 1000))
    assert c["digits"] == 1 and c["histogram"][7] == 1
    assert c["kl_to_real"] == pytest.approx(math.log(10))      # the largest KL(generated || uniform real)
    assert c["confidence"] == pytest.approx(0.91)


def test_coverage_of_the_real_histogram_itself():
    real_labels = np.repeat(np.arange(10), [98, 113, 103, 101, 98, 89, 96, 103, 97, 101])   # MNIST test split
    real = metrics.class_histogram(real_labels)
    c = metrics.digit_coverage(np.random.default_rng(0).permutation(real_labels), real_histogram=real)
    assert c["digits"] == 10 and c["kl_to_real"] == pytest.approx(0, abs=1e-12) and c["confidence"] is None
    assert np.allclose(c["histogram"], real) and c["histogram"].sum() == pytest.approx(1)


def test_coverage_counts_digits_above_one_percent():
    labels = np.concatenate([np.zeros(990, dtype=int), np.full(10, 4)])          # digit 4 is exactly 1%
    assert metrics.digit_coverage(labels)["digits"] == 2
    assert metrics.digit_coverage(labels[1:-1])["digits"] == 1                   # 9 of 998: under 1%
    with pytest.raises(ValueError):
        metrics.digit_coverage(np.array([0, 10]))


# ==================================================================================================
# Precision and recall
# ==================================================================================================
def clusters(rng, centres, n, std=0.1, d=8):
    """n points around each of the given centres (scalars: the point c * ones(d))."""
    return np.concatenate([c + std * rng.standard_normal((n, d)) for c in centres])


def test_precision_recall_of_identical_sets_is_one():
    x = clusters(np.random.default_rng(0), [0, 5], 100)
    assert metrics.precision_recall(x, x.copy()) == (1.0, 1.0)


def test_precision_recall_of_far_apart_sets_is_zero():
    rng = np.random.default_rng(1)
    assert metrics.precision_recall(clusters(rng, [0, 5], 100), clusters(rng, [50, 80], 100)) == (0.0, 0.0)


def test_fakes_on_half_of_the_real_clusters_have_full_precision_and_half_recall():
    rng = np.random.default_rng(2)
    real, fake = clusters(rng, [0, 5, 10, 15], 500, d=2), clusters(rng, [0, 10], 500, d=2)
    precision, recall = metrics.precision_recall(real, fake, k=3)
    # k = 3 balls cover ~97% of a 2-D blob's own distribution (less in more dimensions: 88% in 8-D)
    assert precision > 0.95 and recall == pytest.approx(0.5, abs=0.03)


def test_precision_recall_in_blocks_equals_all_at_once():
    rng = np.random.default_rng(3)
    real, fake = clusters(rng, [0, 1], 60, std=0.5, d=4), clusters(rng, [0.5, 3], 45, std=0.5, d=4)
    whole = metrics.precision_recall(real, fake, k=5, block=10 ** 6)
    assert 0 < whole[0] < 1 and 0 < whole[1] < 1
    # exact: counts of points inside balls; the point nearest a ball's edge here is 7e-5 (relative) from it,
    # beyond any float64 rounding, so the blocks' different matrix products cannot move it across
    assert metrics.precision_recall(real, fake, k=5, block=7) == whole
    # not exact: ||a||^2 + ||b||^2 - 2 a.b from a (7, 4) and a (120, 4) block may run different GEMM kernels;
    # allowed: a few float64 roundings of the squared norms the difference is taken from
    scale = (real * real).sum(axis=1).max()
    np.testing.assert_allclose(metrics.knn_radii(real, 5, block=7), metrics.knn_radii(real, 5, block=1000),
                               rtol=0, atol=16 * np.finfo(np.float64).eps * scale)


def test_knn_radius_is_the_kth_neighbour_other_than_itself():
    x = np.array([[0.0], [1.0], [3.0], [7.0]])
    assert np.allclose(metrics.knn_radii(x, k=1), np.array([1, 1, 2, 4]) ** 2)
    assert np.allclose(metrics.knn_radii(x, k=2), np.array([3, 2, 3, 6]) ** 2)


# ==================================================================================================
# The toy's mode metrics
# ==================================================================================================
def test_mode_metrics_has_one_definition_reachable_from_toy():
    assert toy.mode_metrics is metrics.mode_metrics
    modes, std = toy.mixture("grid")
    m = metrics.mode_metrics(np.concatenate([modes[:5], modes[:5] + 1.0]), modes, std)
    assert (m["modes"], m["num_modes"], m["high_quality"]) == (5, 25, 50.0)
    assert m["reverse_kl"] == pytest.approx(math.log(5))


def test_unit_rows_scales_each_row_to_length_one_and_keeps_zero_rows():
    from tinygan.app.metrics import unit_rows
    x = np.array([[3.0, 4.0], [0.0, 0.0], [-2.0, 0.0]])
    np.testing.assert_allclose(unit_rows(x), [[0.6, 0.8], [0.0, 0.0], [-1.0, 0.0]])

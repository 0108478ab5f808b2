"""Fréchet distance: closed forms, identical distributions, streaming sums, torchmetrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg
from torchmetrics.image.fid import _compute_fid

from mri_metrics.errors import MetricInputError, ShapeMismatchError
from mri_metrics.frechet import FeatureStats, frechet_distance, frechet_distance_from_moments


def test_diagonal_covariances_match_the_closed_form() -> None:
    rng = np.random.default_rng(0)
    mu_a, mu_b = rng.normal(size=6), rng.normal(size=6)
    var_a, var_b = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    expected = float(((mu_a - mu_b) ** 2).sum() + ((np.sqrt(var_a) - np.sqrt(var_b)) ** 2).sum())
    ours = frechet_distance_from_moments(mu_a, np.diag(var_a), mu_b, np.diag(var_b))
    assert ours == pytest.approx(expected, rel=1e-12)


def test_identical_and_singular_distributions() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(20, 64))  # fewer samples than dimensions: singular covariance
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-9)
    full_rank = rng.normal(size=(300, 16))
    assert frechet_distance(full_rank, full_rank + 2.0) == pytest.approx(4.0 * 16, rel=1e-9)


def test_general_covariances_match_scipy_sqrtm() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(8, 8)), rng.normal(size=(8, 8))
    cov_a, cov_b = a @ a.T + 0.1 * np.eye(8), b @ b.T + 0.1 * np.eye(8)
    mu_a, mu_b = rng.normal(size=8), rng.normal(size=8)
    root = linalg.sqrtm(cov_a @ cov_b).real
    expected = float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))
    assert frechet_distance_from_moments(mu_a, cov_a, mu_b, cov_b) == pytest.approx(
        expected, rel=1e-10
    )


def test_equals_torchmetrics_fid_on_the_same_features() -> None:
    rng = np.random.default_rng(3)
    real = rng.normal(size=(200, 16))
    fake = rng.normal(0.3, 1.2, size=(150, 16))
    stats_r, stats_f = FeatureStats.of(real), FeatureStats.of(fake)
    expected = _compute_fid(
        torch.from_numpy(stats_r.mean),
        torch.from_numpy(stats_r.covariance),
        torch.from_numpy(stats_f.mean),
        torch.from_numpy(stats_f.covariance),
    )
    assert frechet_distance(real, fake) == pytest.approx(float(expected), rel=1e-9)


def test_streaming_and_merged_sums_equal_one_pass() -> None:
    rng = np.random.default_rng(4)
    features = rng.normal(5.0, 2.0, size=(90, 12))
    whole = FeatureStats.of(features)
    first, second = FeatureStats(12), FeatureStats(12)
    for batch in np.array_split(features[:40], 3):
        first.update(batch)
    second.update(features[40:])
    first.merge(second)
    np.testing.assert_allclose(first.mean, features.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(first.covariance, np.cov(features, rowvar=False), rtol=1e-9)
    np.testing.assert_allclose(first.covariance, whole.covariance, rtol=1e-12, atol=1e-12)


def test_bad_inputs() -> None:
    with pytest.raises(MetricInputError, match="at least 2"):
        _ = FeatureStats.of(np.zeros((1, 3))).covariance
    with pytest.raises(ShapeMismatchError):
        frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(MetricInputError, match=r"\(N, D\)"):
        frechet_distance(np.zeros(4), np.zeros(4))
    with pytest.raises(ShapeMismatchError):
        FeatureStats(3).update(np.zeros((2, 4)))

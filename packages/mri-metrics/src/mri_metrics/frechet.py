"""Fréchet distance between two feature distributions (the "F" in FID), in float64.

FID fits a Gaussian to the features of real and of synthetic images and reports

    d² = ‖μ_a − μ_b‖² + tr(Σ_a) + tr(Σ_b) − 2 tr((Σ_a Σ_b)^½).

The number depends entirely on the feature extractor: an InceptionV3 FID, a random-encoder FID
and a project-encoder FID are different quantities and never comparable; every report must say
which extractor produced the features (see :mod:`mri_metrics.torch.features`). This module holds
the extractor-independent part and needs only numpy and scipy.

The trace of the matrix square root is computed from the eigenvalues of the symmetric
positive semi-definite matrix Σ_a^½ Σ_b Σ_a^½, which has the same trace root as Σ_a Σ_b but,
unlike a general ``sqrtm(Σ_a Σ_b)``, never yields complex parts or needs an ε-offset retry on
the singular covariances that come from fewer samples than feature dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from mri_metrics._inputs import check_finite
from mri_metrics.errors import MetricInputError, ShapeMismatchError

__all__ = ["FeatureStats", "frechet_distance", "frechet_distance_from_moments"]

FloatArray = npt.NDArray[np.float64]


def _as_features(features: npt.ArrayLike, name: str) -> FloatArray:
    values = np.asarray(features, dtype=np.float64)
    if values.ndim != 2:
        raise MetricInputError(f"{name}: expected (N, D) features, got shape {values.shape}")
    check_finite(values, name)
    return values


@dataclass
class FeatureStats:
    """Running sums of features, from which mean and covariance follow.

    Only sums are kept (count, Σx, Σxxᵀ in float64), so statistics of several batches, files
    or processes combine by adding them (:meth:`merge`), exactly like a DDP all-reduce.
    """

    dim: int
    count: int = 0
    total: FloatArray = field(init=False)
    outer: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        if self.dim < 1:
            raise MetricInputError(f"feature dimension must be at least 1, got {self.dim}")
        self.total = np.zeros(self.dim)
        self.outer = np.zeros((self.dim, self.dim))

    def update(self, features: npt.ArrayLike) -> None:
        """Add a batch of ``(N, dim)`` features."""
        values = _as_features(features, "features")
        if values.shape[1] != self.dim:
            raise ShapeMismatchError(
                f"features have {values.shape[1]} dimensions but the statistics hold {self.dim}"
            )
        self.count += values.shape[0]
        self.total += values.sum(axis=0)
        self.outer += values.T @ values

    def merge(self, other: FeatureStats) -> None:
        """Add the sums of ``other`` (same dimension) to these."""
        if other.dim != self.dim:
            raise ShapeMismatchError(f"cannot merge {other.dim}-D statistics into {self.dim}-D")
        self.count += other.count
        self.total += other.total
        self.outer += other.outer

    @property
    def mean(self) -> FloatArray:
        """Mean feature vector."""
        if self.count < 1:
            raise MetricInputError("no features were added; the mean is undefined")
        result: FloatArray = self.total / self.count
        return result

    @property
    def covariance(self) -> FloatArray:
        """Unbiased (N − 1) covariance, as numpy's ``np.cov`` and torchmetrics' FID use."""
        if self.count < 2:
            raise MetricInputError(
                f"a covariance needs at least 2 feature vectors, got {self.count}"
            )
        mean = self.mean
        cov: FloatArray = (self.outer - self.count * np.outer(mean, mean)) / (self.count - 1)
        return (cov + cov.T) / 2.0

    @classmethod
    def of(cls, features: npt.ArrayLike) -> FeatureStats:
        """Statistics of one ``(N, D)`` feature array."""
        values = _as_features(features, "features")
        stats = cls(values.shape[1])
        stats.update(values)
        return stats


def _psd_sqrt(matrix: FloatArray) -> FloatArray:
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    root: FloatArray = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T
    return root


def frechet_distance_from_moments(
    mean_a: npt.ArrayLike, cov_a: npt.ArrayLike, mean_b: npt.ArrayLike, cov_b: npt.ArrayLike
) -> float:
    """Squared Fréchet distance between N(mean_a, cov_a) and N(mean_b, cov_b), in float64.

    Covariances must be symmetric positive semi-definite; tiny negative eigenvalues from
    rounding are clipped to zero. The result is clipped at 0 for the same reason.
    """
    mu_a, mu_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    sigma_a, sigma_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    dim = mu_a.shape[0]
    if mu_b.shape != (dim,) or sigma_a.shape != (dim, dim) or sigma_b.shape != (dim, dim):
        raise ShapeMismatchError(
            f"means {mu_a.shape}, {mu_b.shape} and covariances {sigma_a.shape}, "
            f"{sigma_b.shape} do not describe two distributions of the same dimension"
        )
    root_a = _psd_sqrt((sigma_a + sigma_a.T) / 2.0)
    product = root_a @ sigma_b @ root_a
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2.0)
    trace_root = float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())
    diff = mu_a - mu_b
    distance = float(diff @ diff) + float(np.trace(sigma_a) + np.trace(sigma_b)) - 2 * trace_root
    return max(distance, 0.0)


def frechet_distance(features_a: npt.ArrayLike, features_b: npt.ArrayLike) -> float:
    """Squared Fréchet distance between Gaussians fitted to two ``(N, D)`` feature sets."""
    stats_a = FeatureStats.of(features_a)
    stats_b = FeatureStats.of(features_b)
    if stats_a.dim != stats_b.dim:
        raise ShapeMismatchError(
            f"features_a has {stats_a.dim} dimensions but features_b has {stats_b.dim}"
        )
    return frechet_distance_from_moments(
        stats_a.mean, stats_a.covariance, stats_b.mean, stats_b.covariance
    )

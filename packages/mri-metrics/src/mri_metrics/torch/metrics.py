"""torchmetrics ``Metric`` classes for masked image quality and Fréchet distance.

Every state is a sum with ``dist_reduce_fx="sum"``, so under DDP each process accumulates its own
shard and one all-reduce gives the exact result on all the data (no gathering of lists, no
averaging of averages). Image metrics average per-image scores: the state is the sum of scores
and the number of images. States are float64 so long evaluations do not drift.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from mri_metrics.errors import MetricInputError, NotBinaryError, ShapeMismatchError
from mri_metrics.frechet import frechet_distance_from_moments
from mri_metrics.torch.features import FeatureExtractor
from mri_metrics.torch.similarity import ssim

__all__ = ["ForegroundSSIM", "FrechetDistance", "MaskedMAE", "MaskedPSNR"]


def _weights(mask: Tensor | None, like: Tensor, spatial_dims: int) -> Tensor:
    """Per-voxel 0/1 weights flattened over the spatial axes; all ones without a mask."""
    if mask is None:
        return torch.ones_like(like).flatten(-spatial_dims)
    if mask.shape != like.shape:
        raise ShapeMismatchError(
            f"mask has shape {tuple(mask.shape)} but the images have {tuple(like.shape)}"
        )
    if mask.dtype != torch.bool and not bool(((mask == 0) | (mask == 1)).all()):
        raise NotBinaryError("mask: may hold only 0 and 1")
    weights = mask.to(like.dtype).flatten(-spatial_dims)
    if bool((weights.sum(dim=-1) == 0).any()):
        raise MetricInputError("mask selects no voxel in some image; its score is undefined")
    return weights


class _PerImageMean(Metric):
    """Mean of a per-image score, kept as (sum of scores, number of images)."""

    full_state_update = False
    higher_is_better: bool | None = None
    score_sum: Tensor
    images: Tensor

    def __init__(self, spatial_dims: int) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise MetricInputError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        self.spatial_dims = spatial_dims
        self.add_state("score_sum", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("images", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def _add(self, scores: Tensor) -> None:
        self.score_sum += scores.detach().to(torch.float64).sum()
        self.images += scores.numel()

    def compute(self) -> Tensor:
        if self.images == 0:
            raise MetricInputError(f"{type(self).__name__}: compute() called before update()")
        return self.score_sum / self.images


class ForegroundSSIM(_PerImageMean):
    """Mean over images of SSIM averaged over each image's mask (see :mod:`mri_metrics.similarity`).

    ``update(pred, ref, mask=None)`` takes ``(B, *spatial)`` tensors; without a mask each image's
    interior is averaged. ``data_range=None`` uses each reference image's max - min.
    """

    higher_is_better = True

    def __init__(
        self,
        spatial_dims: int = 3,
        *,
        data_range: float | None = None,
        sigma: float = 1.5,
        win_size: int = 11,
    ) -> None:
        super().__init__(spatial_dims)
        self.data_range = data_range
        self.sigma = sigma
        self.win_size = win_size

    def update(self, pred: Tensor, ref: Tensor, mask: Tensor | None = None) -> None:
        if mask is not None:
            _weights(mask, pred, self.spatial_dims)
        scores = ssim(
            pred,
            ref,
            mask=mask,
            spatial_dims=self.spatial_dims,
            data_range=self.data_range,
            sigma=self.sigma,
            win_size=self.win_size,
        )
        self._add(scores.reshape(-1))


class MaskedPSNR(_PerImageMean):
    """Mean over images of PSNR (dB) over each image's mask.

    ``data_range=None`` uses each reference image's max - min over its mask, as
    :func:`mri_metrics.intensity.psnr` does. An image equal to its reference scores ``inf``.
    """

    higher_is_better = True

    def __init__(self, spatial_dims: int = 3, *, data_range: float | None = None) -> None:
        super().__init__(spatial_dims)
        self.data_range = data_range

    def update(self, pred: Tensor, ref: Tensor, mask: Tensor | None = None) -> None:
        if pred.shape != ref.shape:
            raise ShapeMismatchError(f"pred {tuple(pred.shape)} vs ref {tuple(ref.shape)}")
        weights = _weights(mask, ref, self.spatial_dims).to(torch.float64)
        p = pred.flatten(-self.spatial_dims).to(torch.float64)
        r = ref.flatten(-self.spatial_dims).to(torch.float64)
        error = ((p - r) ** 2 * weights).sum(dim=-1) / weights.sum(dim=-1)
        if self.data_range is None:
            inside = weights > 0
            high = torch.where(inside, r, torch.full_like(r, -torch.inf)).amax(dim=-1)
            low = torch.where(inside, r, torch.full_like(r, torch.inf)).amin(dim=-1)
            peak = high - low
        else:
            peak = torch.full_like(error, self.data_range)
        if not bool((peak > 0).all()):
            raise MetricInputError("data range is not positive (a constant reference?); pass it")
        self._add((10.0 * torch.log10(peak**2 / error)).reshape(-1))


class MaskedMAE(_PerImageMean):
    """Mean over images of the mean absolute error over each image's mask."""

    higher_is_better = False

    def update(self, pred: Tensor, ref: Tensor, mask: Tensor | None = None) -> None:
        if pred.shape != ref.shape:
            raise ShapeMismatchError(f"pred {tuple(pred.shape)} vs ref {tuple(ref.shape)}")
        weights = _weights(mask, ref, self.spatial_dims).to(torch.float64)
        diff = (pred.to(torch.float64) - ref.to(torch.float64)).abs().flatten(-self.spatial_dims)
        self._add(((diff * weights).sum(dim=-1) / weights.sum(dim=-1)).reshape(-1))


class FrechetDistance(Metric):
    """Fréchet distance between features of real and of generated images.

    ``update(images, real=True|False)`` runs ``extractor`` on the images (or, with no extractor,
    takes ``(N, num_features)`` features directly) and adds count, Σf and Σffᵀ to the real or
    the generated sums. :attr:`extractor_name` must go into every report: distances from
    different extractors are different quantities.
    """

    full_state_update = False
    higher_is_better = False
    real_count: Tensor
    real_total: Tensor
    real_outer: Tensor
    fake_count: Tensor
    fake_total: Tensor
    fake_outer: Tensor

    def __init__(
        self, extractor: FeatureExtractor | None = None, *, num_features: int | None = None
    ) -> None:
        super().__init__()
        if extractor is not None:
            dim = extractor.num_features
        elif num_features is not None:
            dim = num_features
        else:
            raise MetricInputError("give a feature extractor or num_features for raw features")
        self.extractor = extractor
        self.num_features = dim
        self.extractor_name = extractor.name if extractor is not None else "precomputed"
        for side in ("real", "fake"):
            self.add_state(f"{side}_count", torch.zeros((), dtype=torch.float64), "sum")
            self.add_state(f"{side}_total", torch.zeros(dim, dtype=torch.float64), "sum")
            self.add_state(f"{side}_outer", torch.zeros(dim, dim, dtype=torch.float64), "sum")

    def update(self, images: Tensor, real: bool) -> None:
        if self.extractor is not None:
            with torch.no_grad():
                features = self.extractor(images)
        else:
            features = images
        if features.ndim != 2 or features.shape[1] != self.num_features:
            raise ShapeMismatchError(
                f"expected (N, {self.num_features}) features, got {tuple(features.shape)}"
            )
        values = features.detach().to(torch.float64)
        side = "real" if real else "fake"
        setattr(self, f"{side}_count", getattr(self, f"{side}_count") + values.shape[0])
        setattr(self, f"{side}_total", getattr(self, f"{side}_total") + values.sum(dim=0))
        setattr(self, f"{side}_outer", getattr(self, f"{side}_outer") + values.T @ values)

    def _moments(self, side: str) -> tuple[Tensor, Tensor]:
        count = getattr(self, f"{side}_count")
        if count < 2:
            raise MetricInputError(f"{side} images: need at least 2, got {int(count)}")
        mean = getattr(self, f"{side}_total") / count
        outer = getattr(self, f"{side}_outer")
        cov = (outer - count * torch.outer(mean, mean)) / (count - 1)
        return mean, cov

    def compute(self) -> Tensor:
        mean_a, cov_a = self._moments("real")
        mean_b, cov_b = self._moments("fake")
        distance = frechet_distance_from_moments(
            mean_a.cpu().numpy(), cov_a.cpu().numpy(), mean_b.cpu().numpy(), cov_b.cpu().numpy()
        )
        return torch.tensor(distance, dtype=torch.float64)

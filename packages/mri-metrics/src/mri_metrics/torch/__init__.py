"""Torch paths of the metrics: batched Dice, GPU SSIM, torchmetrics ``Metric`` classes, FID
feature extractors.

Needs the ``torch`` extra; importing this package without it raises an ImportError that says
what to install. The numpy/scipy functions in :mod:`mri_metrics.overlap`,
:mod:`mri_metrics.similarity`, :mod:`mri_metrics.intensity` and :mod:`mri_metrics.frechet`
compute the same numbers without torch.
"""

from __future__ import annotations

try:
    import torch as _torch
    import torchmetrics as _torchmetrics
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without torch
    raise ImportError(
        'mri_metrics.torch needs torch and torchmetrics: pip install "mri-metrics[torch]"'
    ) from exc

from mri_metrics.torch.features import FeatureExtractor, InceptionV3Features, RandomConvEncoder
from mri_metrics.torch.metrics import ForegroundSSIM, FrechetDistance, MaskedMAE, MaskedPSNR
from mri_metrics.torch.overlap import dice, region_dice
from mri_metrics.torch.similarity import ssim, ssim_map

del _torch, _torchmetrics

__all__ = [
    "FeatureExtractor",
    "ForegroundSSIM",
    "FrechetDistance",
    "InceptionV3Features",
    "MaskedMAE",
    "MaskedPSNR",
    "RandomConvEncoder",
    "dice",
    "region_dice",
    "ssim",
    "ssim_map",
]

"""mri-metrics: segmentation and image-quality metrics for brain-tumour MRI.

The core needs only numpy, scipy and mri-io (NIfTI files, label maps, the suite's error root);
torch paths sit behind ``pip install "mri-metrics[torch]"`` (:mod:`mri_metrics.torch`).
"""

from mri_metrics.__about__ import __version__
from mri_metrics.errors import (
    MetricInputError,
    NonFiniteError,
    NotBinaryError,
    ShapeMismatchError,
    UnknownLabelError,
)
from mri_metrics.frechet import FeatureStats, frechet_distance
from mri_metrics.intensity import mae, mse, psnr
from mri_metrics.lesion import (
    BratsLesionResult,
    LesionScore,
    MatchedLesionResult,
    MatchedPair,
    MetsLesionResult,
    brats2023_lesion_scores,
    brats_mets_scores,
    matched_lesion_scores,
)
from mri_metrics.overlap import (
    ConfusionCounts,
    confusion_counts,
    dice,
    iou,
    sensitivity,
    specificity,
    volume_difference,
)
from mri_metrics.profiles import PROFILES, EmptyMaskError, Profile, get_profile
from mri_metrics.regions import LABEL_CONVENTIONS, LabelConvention, region_masks
from mri_metrics.scoring import score_segmentation
from mri_metrics.similarity import scoring_mask, ssim, ssim_map
from mri_metrics.surface import SurfaceDistances, assd, hausdorff, hd95, nsd, surface_distances

#: The BraTS lesion-wise algorithms under one name: the 2023 challenge script's by default.
lesion_wise = brats2023_lesion_scores
#: Fréchet distance between two feature sets (the FID when the features are Inception's).
fid = frechet_distance

__all__ = [
    "LABEL_CONVENTIONS",
    "PROFILES",
    "BratsLesionResult",
    "ConfusionCounts",
    "EmptyMaskError",
    "FeatureStats",
    "LabelConvention",
    "LesionScore",
    "MatchedLesionResult",
    "MatchedPair",
    "MetricInputError",
    "MetsLesionResult",
    "NonFiniteError",
    "NotBinaryError",
    "Profile",
    "ShapeMismatchError",
    "SurfaceDistances",
    "UnknownLabelError",
    "__version__",
    "assd",
    "brats2023_lesion_scores",
    "brats_mets_scores",
    "confusion_counts",
    "dice",
    "fid",
    "frechet_distance",
    "get_profile",
    "hausdorff",
    "hd95",
    "iou",
    "lesion_wise",
    "mae",
    "matched_lesion_scores",
    "mse",
    "nsd",
    "psnr",
    "region_masks",
    "score_segmentation",
    "scoring_mask",
    "sensitivity",
    "specificity",
    "ssim",
    "ssim_map",
    "surface_distances",
    "volume_difference",
]

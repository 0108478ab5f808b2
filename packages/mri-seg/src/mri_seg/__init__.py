"""mri-seg: Train brain-tumour segmenters and segment cases.

The 3D U-Net (:class:`UNet3D`, presets ``brats`` and ``tiny``) segments four-sequence cases
by sliding-window inference; :class:`Segmenter2D` is HF-GAN's 2D slice segmenter, whose
frozen predictions give the generator its focal Tversky term (:func:`focal_tversky_loss`).
"""

from mri_seg.__about__ import __version__
from mri_seg.evaluation import region_dice, score_cases
from mri_seg.inference import (
    InferenceSettings,
    predict_probabilities,
    predict_to_file,
    segment_case,
)
from mri_seg.losses import FocalTverskyLoss, RegionDiceBCELoss, dice_ce_loss, focal_tversky_loss
from mri_seg.networks import UNET_PRESETS, Segmenter2D, UNet3D
from mri_seg.postprocess import BRATS_MIN_SIZES, remove_small_components
from mri_seg.pretrained import load_segmenter
from mri_seg.targets import TargetSpec
from mri_seg.training import TrainConfig, TrainResult, train_unet
from mri_seg.training2d import Segmenter2DConfig, train_segmenter2d, tumour_type_of

__all__ = [
    "BRATS_MIN_SIZES",
    "UNET_PRESETS",
    "FocalTverskyLoss",
    "InferenceSettings",
    "RegionDiceBCELoss",
    "Segmenter2D",
    "Segmenter2DConfig",
    "TargetSpec",
    "TrainConfig",
    "TrainResult",
    "UNet3D",
    "__version__",
    "dice_ce_loss",
    "focal_tversky_loss",
    "load_segmenter",
    "predict_probabilities",
    "predict_to_file",
    "region_dice",
    "remove_small_components",
    "score_cases",
    "segment_case",
    "train_segmenter2d",
    "train_unet",
    "tumour_type_of",
]

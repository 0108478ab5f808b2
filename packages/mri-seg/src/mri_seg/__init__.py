"""mri-seg: Train brain-tumour segmenters and segment cases.

One subpackage per model family, with the same file names (config, networks, losses, data,
training, inference): :mod:`mri_seg.unet`, the 3D U-Net (:class:`UNet3D`, presets ``brats``
and ``tiny``) that segments four-sequence cases by sliding-window inference, and
:mod:`mri_seg.segmenter2d`, HF-GAN's 2D slice segmenter (:class:`Segmenter2D`), whose frozen
predictions give the generator its focal Tversky term (:func:`focal_tversky_loss`). Every
family's network is a :class:`Segmenter` (``segment(case) -> labels``), and
:func:`load_segmenter` reads any of their model folders.
"""

from mri_seg.__about__ import __version__
from mri_seg.checkpoint import TrainResult
from mri_seg.contract import InferenceSettings, Segmenter
from mri_seg.evaluation import region_dice, score_cases
from mri_seg.ganet import GANetConfig, GANetSeg, train_ganet
from mri_seg.loader import load_segmenter
from mri_seg.postprocess import BRATS_MIN_SIZES, remove_small_components
from mri_seg.prediction import predict_to_file
from mri_seg.segmenter2d import (
    FocalTverskyLoss,
    Segmenter2D,
    Segmenter2DConfig,
    focal_tversky_loss,
    train_segmenter2d,
    tumour_type_of,
)
from mri_seg.synthtumour import SynthTumourConfig, SynthTumourUNet, train_synthtumour
from mri_seg.targets import TargetSpec
from mri_seg.unet import (
    UNET_PRESETS,
    RegionDiceBCELoss,
    TrainConfig,
    UNet3D,
    dice_ce_loss,
    predict_probabilities,
    segment_case,
    train_unet,
)

__all__ = [
    "BRATS_MIN_SIZES",
    "UNET_PRESETS",
    "FocalTverskyLoss",
    "GANetConfig",
    "GANetSeg",
    "InferenceSettings",
    "RegionDiceBCELoss",
    "Segmenter",
    "Segmenter2D",
    "Segmenter2DConfig",
    "SynthTumourConfig",
    "SynthTumourUNet",
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
    "train_ganet",
    "train_segmenter2d",
    "train_synthtumour",
    "train_unet",
    "tumour_type_of",
]

"""The 3D U-Net family: MONAI's residual U-Net over four sequences, sliding-window inference.

Its contract: the network (:class:`UNet3D`, presets in :data:`UNET_PRESETS`), its run settings
(:class:`TrainConfig`) and trainer (:func:`train_unet`), its loss (:func:`dice_ce_loss`,
:class:`RegionDiceBCELoss`), its MONAI training pipeline (:func:`case_dataset`,
:func:`training_transforms`, :class:`CropSamples`) and its inference
(:func:`predict_probabilities`, :func:`segment_case`), with two input options: the KLE anomaly
channel (:class:`KLEBasis`) and missing-sequence robustness (:class:`SequenceDropout`).
"""

from mri_seg.unet.config import TrainConfig
from mri_seg.unet.data import CropSamples, case_dataset, training_transforms
from mri_seg.unet.inference import predict_probabilities, segment_case
from mri_seg.unet.kle import KLEBasis
from mri_seg.unet.losses import RegionDiceBCELoss, dice_ce_loss
from mri_seg.unet.networks import UNET_PRESETS, UNet3D, UNetPreset
from mri_seg.unet.robust import SequenceDropout
from mri_seg.unet.training import train_unet, validation_dice

__all__ = [
    "UNET_PRESETS",
    "CropSamples",
    "KLEBasis",
    "RegionDiceBCELoss",
    "SequenceDropout",
    "TrainConfig",
    "UNet3D",
    "UNetPreset",
    "case_dataset",
    "dice_ce_loss",
    "predict_probabilities",
    "segment_case",
    "train_unet",
    "training_transforms",
    "validation_dice",
]

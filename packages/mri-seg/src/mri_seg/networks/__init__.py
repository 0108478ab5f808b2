"""Segmentation networks of every family: the 3D U-Net presets and HF-GAN's 2D segmenter."""

from mri_seg.segmenter2d.networks import CLASSES, TUMOUR_TYPES, VIEWS, Segmenter2D
from mri_seg.unet.networks import UNET_PRESETS, UNet3D, UNetPreset

__all__ = [
    "CLASSES",
    "TUMOUR_TYPES",
    "UNET_PRESETS",
    "VIEWS",
    "Segmenter2D",
    "UNet3D",
    "UNetPreset",
]

"""GANet-Seg: a 2D segmentation U-Net trained with the feedback of an inpainting GAN
pre-trained on healthy brains.

Its contract: the networks (:class:`GANetSeg`, the segmenter :func:`mri_seg.load_segmenter`
reads; :class:`InpaintingGAN` with :func:`load_gan`), the settings (:class:`GANetConfig`,
:data:`GANET_PRESETS`), the trainers (:func:`pretrain_gan`, :func:`train_ganet`) and the
stage-2 loss (:class:`GANetObjective`), the paper's enhancement (:func:`enhance`), the hole
sampler (:func:`sample_hole`), the inference (:func:`segment_case`) and the discriminator's
threshold analysis (:func:`slice_scores`, :func:`threshold_table`).
"""

from mri_seg.ganet.config import GANET_PRESETS, GANetConfig
from mri_seg.ganet.data import enhance, sample_hole
from mri_seg.ganet.inference import segment_case
from mri_seg.ganet.networks import GANetSeg, InpaintingGAN, load_gan
from mri_seg.ganet.thresholds import slice_scores, threshold_table, write_threshold_report
from mri_seg.ganet.training import GANetObjective, pretrain_gan, train_ganet

__all__ = [
    "GANET_PRESETS",
    "GANetConfig",
    "GANetObjective",
    "GANetSeg",
    "InpaintingGAN",
    "enhance",
    "load_gan",
    "pretrain_gan",
    "sample_hole",
    "segment_case",
    "slice_scores",
    "threshold_table",
    "train_ganet",
    "write_threshold_report",
]

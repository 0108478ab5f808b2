"""HF-GAN's 2D segmenter family: a slice network with view and tumour-type codes.

Its contract: the network (:class:`Segmenter2D` with its :data:`CLASSES`, :data:`VIEWS`,
:data:`TUMOUR_TYPES`), its run settings (:class:`Segmenter2DConfig`) and trainer
(:func:`train_segmenter2d`), its loss (:func:`focal_tversky_loss`, also HF-GAN's Tversky
term), its training data (:func:`tumour_slices`, :func:`tumour_type_of`) and its inference
(:func:`segment_case`: every slice of every view, probabilities averaged).
"""

from mri_seg.segmenter2d.config import Segmenter2DConfig
from mri_seg.segmenter2d.data import SliceSet, tumour_slices, tumour_type_of
from mri_seg.segmenter2d.inference import segment_case
from mri_seg.segmenter2d.losses import FocalTverskyLoss, focal_tversky_loss
from mri_seg.segmenter2d.networks import CLASSES, TUMOUR_TYPES, VIEWS, Segmenter2D
from mri_seg.segmenter2d.training import slice_dice, train_segmenter2d

__all__ = [
    "CLASSES",
    "TUMOUR_TYPES",
    "VIEWS",
    "FocalTverskyLoss",
    "Segmenter2D",
    "Segmenter2DConfig",
    "SliceSet",
    "focal_tversky_loss",
    "segment_case",
    "slice_dice",
    "train_segmenter2d",
    "tumour_slices",
    "tumour_type_of",
]

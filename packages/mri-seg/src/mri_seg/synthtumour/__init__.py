"""SynthTumour: unsupervised tumour segmentation by two-stage image synthesis.

Stage 1 trains a junior 3D U-Net on healthy brains with hand-crafted tumours
(:func:`draw_tumour`, :func:`paint_tumour`), selected on a distribution-shifted validation set;
the junior model pseudo-labels unlabelled real tumour cases (:func:`pseudo_label_cases`);
stage 2 trains a senior model on healthy brains with those tumours pasted in
(:func:`carve_mix`) and on the pseudo-labelled cases. :func:`train_synthtumour` runs both in
one run folder; both models are :class:`SynthTumourUNet` (kind ``synthtumour``, with their
``stage``), read by :func:`mri_seg.load_segmenter`.
"""

from mri_seg.synthtumour.config import SYNTHTUMOUR_PRESETS, SynthTumourConfig, preset_config
from mri_seg.synthtumour.inference import pseudo_label_cases
from mri_seg.synthtumour.mixing import carve_mix
from mri_seg.synthtumour.networks import SynthTumourUNet
from mri_seg.synthtumour.training import train_synthtumour
from mri_seg.synthtumour.tumours import (
    INTENSITY_FACTORS,
    ShapeModel,
    draw_factors,
    draw_tumour,
    paint_tumour,
)

__all__ = [
    "INTENSITY_FACTORS",
    "SYNTHTUMOUR_PRESETS",
    "ShapeModel",
    "SynthTumourConfig",
    "SynthTumourUNet",
    "carve_mix",
    "draw_factors",
    "draw_tumour",
    "paint_tumour",
    "preset_config",
    "pseudo_label_cases",
    "train_synthtumour",
]

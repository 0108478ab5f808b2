"""Former home of the 2D segmenter's trainer, kept so older imports still work.

Use :mod:`mri_seg.segmenter2d` (public) instead; this module only re-exports its names.
"""

from mri_seg.segmenter2d import Segmenter2DConfig, train_segmenter2d, tumour_slices, tumour_type_of

__all__ = ["Segmenter2DConfig", "train_segmenter2d", "tumour_slices", "tumour_type_of"]

"""mri-seg: Train brain-tumour segmenters and segment cases."""

from mri_seg.__about__ import __version__

__all__ = ["__version__"]

"""mri-metrics: segmentation and image-quality metrics for brain-tumour MRI.

The core needs only numpy and scipy; torch paths sit behind ``pip install "mri-metrics[torch]"``
and reading NIfTI files behind ``pip install "mri-metrics[io]"``.
"""

from mri_metrics.__about__ import __version__

__all__ = ["__version__"]

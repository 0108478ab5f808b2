"""mri-io: NIfTI that never loses geometry, BraTS layouts, normalisation, slicing.

Importing this package never imports torch: it is the base every other mri-suite package
stands on, and ``pip install mri-io`` pulls only numpy, scipy, nibabel and tqdm.
"""

from mri_io.__about__ import __version__
from mri_io.errors import MriIoError

__all__ = ["MriIoError", "__version__"]

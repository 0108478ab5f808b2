"""mri-io: NIfTI that never loses geometry, BraTS layouts, normalisation, slicing.

Importing this package never imports torch: it is the base every other mri-suite package
stands on, and ``pip install mri-io`` pulls only numpy, scipy, nibabel and tqdm.
"""

from mri_io.__about__ import __version__
from mri_io.case import Case, load_case
from mri_io.cli_support import add_device_option
from mri_io.conform import ConformRecord, conform_case, unconform
from mri_io.errors import (
    AffineError,
    ConfigError,
    CorruptFileError,
    DataTypeError,
    DimensionError,
    GeometryMismatchError,
    ImageTooLargeError,
    LabelError,
    LayoutError,
    MissingSequenceError,
    MriIoError,
    MriSuiteError,
    NonFiniteError,
    NotNiftiError,
    OutputCollisionError,
    UnknownNameError,
)

# The -1 of background and missing sequences after normalisation, named apart from the
# background *label* 0 (mri_io.labels.BACKGROUND) at the top level.
from mri_io.intensity import BACKGROUND as NORMALISED_BACKGROUND
from mri_io.labels import LABEL_CONVENTIONS, LabelConvention, get_label_convention
from mri_io.layouts import (
    MANIFEST,
    CaseFiles,
    case_centres,
    check_unique_case_ids,
    link_cases,
    scan_cases,
)
from mri_io.model_folder import resolve_model_folder
from mri_io.nifti import Volume, load_labels, load_volume, new_volume, save_volume
from mri_io.nnunet import nnunet_filename
from mri_io.processes import process_pool
from mri_io.sequences import SEQUENCES, canonical_sequence
from mri_io.slicing import VIEWS, View

__all__ = [
    "LABEL_CONVENTIONS",
    "MANIFEST",
    "NORMALISED_BACKGROUND",
    "SEQUENCES",
    "VIEWS",
    "AffineError",
    "Case",
    "CaseFiles",
    "ConfigError",
    "ConformRecord",
    "CorruptFileError",
    "DataTypeError",
    "DimensionError",
    "GeometryMismatchError",
    "ImageTooLargeError",
    "LabelConvention",
    "LabelError",
    "LayoutError",
    "MissingSequenceError",
    "MriIoError",
    "MriSuiteError",
    "NonFiniteError",
    "NotNiftiError",
    "OutputCollisionError",
    "UnknownNameError",
    "View",
    "Volume",
    "__version__",
    "add_device_option",
    "canonical_sequence",
    "case_centres",
    "check_unique_case_ids",
    "conform_case",
    "get_label_convention",
    "link_cases",
    "load_case",
    "load_labels",
    "load_volume",
    "new_volume",
    "nnunet_filename",
    "process_pool",
    "resolve_model_folder",
    "save_volume",
    "scan_cases",
    "unconform",
]

"""A synthetic BraTS-like cohort: multi-sequence brains with tumours, from several centres.

Real BraTS data cannot always be shared or downloaded; this cohort stands in for it in demos,
tests and benchmarks. See ``docs/mri-io/synthetic.md`` for the model and its known differences
from real scans. Only the MNI152 anatomy needs more than numpy and scipy (nilearn, through the
``synthetic`` extra), and it imports nilearn only when used.
"""

from mri_io.layouts import MANIFEST
from mri_io.synthetic.case import (
    GENERATOR_VERSION,
    AnatomyName,
    SyntheticCase,
    case_id,
    generate_case,
)
from mri_io.synthetic.centres import CENTRES, Centre
from mri_io.synthetic.cohort import write_case, write_cohort
from mri_io.synthetic.contrast import CONTRAST, TISSUE_CLASSES
from mri_io.synthetic.grid import FULL_GRID, HALF_GRID, Grid

__all__ = [
    "CENTRES",
    "CONTRAST",
    "FULL_GRID",
    "GENERATOR_VERSION",
    "HALF_GRID",
    "MANIFEST",
    "TISSUE_CLASSES",
    "AnatomyName",
    "Centre",
    "Grid",
    "SyntheticCase",
    "case_id",
    "generate_case",
    "write_case",
    "write_cohort",
]

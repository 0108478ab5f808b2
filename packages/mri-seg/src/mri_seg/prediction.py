"""Segment a case folder with any segmenter and write its label map.

The label map lies on the input's grid (see :func:`mri_seg.postprocess.finish_labels`) and is
written atomically as ``OUT/{case_id}-seg.nii.gz``.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from numpy.typing import NDArray

from mri_io.case import load_case
from mri_io.layouts import CaseFiles, brats2023_filename
from mri_io.nifti import save_volume
from mri_seg.contract import InferenceSettings, Segmenter


def prediction_path(out_dir: str | PathLike[str], case_id: str) -> Path:
    """Where :func:`predict_to_file` writes a case: ``OUT/{case_id}-seg.nii.gz``."""
    return Path(out_dir) / brats2023_filename(case_id, "seg")


def predict_to_file(
    model: Segmenter,
    source: CaseFiles | str | PathLike[str],
    out_dir: str | PathLike[str],
    settings: InferenceSettings | None = None,
    *,
    completion: Mapping[str, NDArray[Any]] | None = None,
) -> Path:
    """Segment one case (folder or :class:`CaseFiles`) and write its label map atomically."""
    case = load_case(source)
    labels = model.segment(case, completion=completion, settings=settings)
    return save_volume(labels, prediction_path(out_dir, case.case_id), dtype="uint8")

"""Segment a case folder with any segmenter and write its label map.

The label map lies on the input's grid (see :func:`mri_seg.postprocess.finish_labels`) and is
written atomically as ``OUT/{case_id}-seg.nii.gz`` (BraTS naming) or ``OUT/{case_id}.nii.gz``
(nnU-Net naming, as ``nnUNetv2_predict`` writes predictions).
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any, Final

from numpy.typing import NDArray

from mri_io import nnunet_filename
from mri_io.case import load_case
from mri_io.layouts import CaseFiles, brats2023_filename
from mri_io.nifti import save_volume
from mri_seg.contract import InferenceSettings, Segmenter

#: Output naming schemes of predictions: BraTS ``CASE-seg.nii.gz``, nnU-Net ``CASE.nii.gz``.
NAMINGS: Final = ("brats", "nnunet")


def prediction_path(out_dir: str | PathLike[str], case_id: str, naming: str = "brats") -> Path:
    """Where :func:`predict_to_file` writes a case: ``OUT/{case_id}-seg.nii.gz`` (``"brats"``)
    or ``OUT/{case_id}.nii.gz`` (``"nnunet"``)."""
    if naming == "brats":
        return Path(out_dir) / brats2023_filename(case_id, "seg")
    if naming == "nnunet":
        return Path(out_dir) / nnunet_filename(case_id)
    raise ValueError(f"unknown naming {naming!r}; choose one of {', '.join(NAMINGS)}")


def predict_to_file(
    model: Segmenter,
    source: CaseFiles | str | PathLike[str],
    out_dir: str | PathLike[str],
    settings: InferenceSettings | None = None,
    *,
    completion: Mapping[str, NDArray[Any]] | None = None,
    naming: str = "brats",
) -> Path:
    """Segment one case (folder or :class:`CaseFiles`) and write its label map atomically
    under the file name ``naming`` gives (see :func:`prediction_path`)."""
    prediction_path(out_dir, "", naming)  # an unknown naming fails before any work
    case = load_case(source)
    labels = model.segment(case, completion=completion, settings=settings)
    target = prediction_path(out_dir, case.case_id, naming)
    return save_volume(labels, target, dtype="uint8")

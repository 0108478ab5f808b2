"""Score a segmenter's label maps against reference segmentations, Dice per region.

Validation during training and the accuracy benchmark both use this, with mri-metrics' Dice
(exact integer counts). Two empty masks score 1: a case without enhancing tumour that the
model leaves without enhancing tumour is a correct answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from numpy.typing import NDArray

from mri_io.case import load_case
from mri_io.labels import LabelConvention, get_label_convention, region_mask
from mri_io.layouts import CaseFiles
from mri_metrics import dice
from mri_seg.contract import InferenceSettings, Segmenter
from mri_seg.errors import TrainingDataError


def region_dice(
    pred: NDArray[Any], ref: NDArray[Any], convention: LabelConvention, regions: Sequence[str]
) -> dict[str, float]:
    """Dice of each region of ``convention`` between two label maps (both empty: 1)."""
    return {
        region: dice(
            region_mask(pred, convention, region), region_mask(ref, convention, region), empty=1.0
        )
        for region in regions
    }


def score_cases(
    model: Segmenter, cases: Sequence[CaseFiles], settings: InferenceSettings | None = None
) -> dict[str, dict[str, float]]:
    """Dice per region of any segmenter on each case (which needs a segmentation), by case
    id; regions of the segmenter's label convention."""
    convention = get_label_convention(model.label_convention)
    chosen = InferenceSettings() if settings is None else settings
    if chosen.label_convention is not None and chosen.label_convention != model.label_convention:
        raise ValueError("scoring compares labels in the model's own convention")
    scores = {}
    for files in cases:
        case = load_case(files, label_convention=convention.name)
        if case.seg is None:
            raise TrainingDataError(
                files.folder, f"case {files.case_id} has no segmentation to score"
            )
        labels = model.segment(case, settings=chosen)
        scores[files.case_id] = region_dice(
            labels.data, case.seg.data, convention, tuple(convention.regions)
        )
    return scores

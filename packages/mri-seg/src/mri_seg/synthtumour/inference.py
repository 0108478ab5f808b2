"""Pseudo-labelling: the junior model segments the unlabelled real tumour cases.

The cases are read without their segmentation files (:func:`.data.unlabelled`), so labels a
folder happens to hold can never reach training. Each pseudo label map is written to
``RUN/pseudo/<case>-seg.nii.gz`` (atomically, on the case's grid), and a resumed run reads the
maps already written instead of segmenting again. Cases in which the junior model finds no
tumour give nothing to paste, and are left out of stage 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mri_io.case import load_case
from mri_io.layouts import CaseFiles
from mri_io.nifti import load_labels, save_volume
from mri_seg.contract import InferenceSettings, Segmenter
from mri_seg.synthtumour.data import BrainStack, stack_of, unlabelled

PSEUDO_FOLDER = "pseudo"


def pseudo_label_path(folder: Path, case_id: str) -> Path:
    """Where the pseudo label map of ``case_id`` is written under ``folder``."""
    return folder / f"{case_id}-seg.nii.gz"


def pseudo_label_cases(
    model: Segmenter,
    cases: Sequence[CaseFiles],
    folder: Path,
    settings: InferenceSettings | None = None,
    *,
    progress: bool = True,
) -> list[BrainStack]:
    """Every case of ``cases`` with the pseudo labels ``model`` gives it, in memory, skipping
    those without any tumour; maps are written to (or, when there, read from) ``folder``."""
    labelled = []
    for files in tqdm(cases, desc="pseudo-label", unit="case", disable=not progress):
        case = load_case(unlabelled(files), require=model.sequences)
        path = pseudo_label_path(folder, files.case_id)
        if path.is_file():
            labels = load_labels(path).data
        else:
            volume = model.segment(case, settings=settings)
            save_volume(volume, path, dtype=np.uint8)
            labels = volume.data
        if labels.any():
            labelled.append(stack_of(case, model.sequences, labels.astype(np.uint8)))
    return labelled

"""Which cases of a cohort train and which validate: ``split.json`` in the run folder.

The split is seeded, and a resumed run reads it back, so it validates on the same cases.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from mri_io.atomic import atomic_write_text
from mri_io.layouts import CaseFiles
from mri_io.training import RunFolder
from mri_seg.errors import TrainingDataError

SPLIT_FILE = "split.json"


def split_cases(
    cases: Sequence[CaseFiles], val_fraction: float, seed: int
) -> tuple[list[CaseFiles], list[CaseFiles]]:
    """Seeded train/validation split (at least one validation case when the fraction > 0)."""
    order = np.random.default_rng([seed, 7919]).permutation(len(cases))
    count = 0 if val_fraction == 0 else max(1, round(val_fraction * len(cases)))
    if count >= len(cases):
        raise TrainingDataError(
            None, f"{len(cases)} case(s) cannot give a training and validation split"
        )
    val = sorted((cases[i] for i in order[:count]), key=lambda c: c.case_id)
    train = sorted((cases[i] for i in order[count:]), key=lambda c: c.case_id)
    return train, val


def load_split(
    run: RunFolder, cases: Sequence[CaseFiles], val_fraction: float, seed: int
) -> tuple[list[CaseFiles], list[CaseFiles]]:
    """The split saved in ``run`` (a resumed run keeps it), else a fresh seeded one."""
    by_id = {case.case_id: case for case in cases}
    path = run.path / SPLIT_FILE
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        absent = sorted(set(saved["train"] + saved["val"]) - set(by_id))
        if absent:
            raise TrainingDataError(
                path, f"cases {absent[:3]} of the saved split are not in the data"
            )
        return [by_id[c] for c in saved["train"]], [by_id[c] for c in saved["val"]]
    return split_cases(cases, val_fraction, seed)


def write_split(run: RunFolder, train: Sequence[CaseFiles], val: Sequence[CaseFiles]) -> None:
    """Record which cases train and which validate."""
    split = {"train": [c.case_id for c in train], "val": [c.case_id for c in val]}
    atomic_write_text(run.path / SPLIT_FILE, json.dumps(split, indent=2) + "\n")

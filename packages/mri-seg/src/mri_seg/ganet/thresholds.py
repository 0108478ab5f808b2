"""The discriminator's threshold sensitivity (the paper's Table 1): how well the pre-trained
PatchGAN alone tells tumour slices from healthy ones, at each threshold.

Every axial slice with enough brain of the labelled cases is scored by the discriminator, as
is (nothing occluded); a slice counts as detected when some patch's probability of being real
falls below the threshold, so a higher threshold detects more (sensitivity up, false positives
up, as in the paper's table). A slice is truly abnormal when it holds any tumour label.
Counts are slices: TP, FN, FP, TN, with accuracy, sensitivity and specificity.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from mri_io.atomic import atomic_write_text
from mri_io.case import load_case
from mri_io.layouts import CaseFiles
from mri_seg.errors import TrainingDataError
from mri_seg.ganet.data import axial_slices, brain_fraction, slice_side, to_gan_range
from mri_seg.ganet.networks import InpaintingGAN
from mri_seg.inputs import image_stack

#: The thresholds of the paper's Table 1.
PAPER_THRESHOLDS = (0.1, 0.2, 0.3, 0.4)
FIELDS = ("threshold", "tp", "fn", "fp", "tn", "accuracy", "sensitivity", "specificity")


def slice_scores(
    gan: InpaintingGAN,
    folders: Sequence[CaseFiles],
    min_brain_fraction: float = 0.05,
    device: str | torch.device = "cpu",
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Each slice's lowest patch probability of being real, and whether it holds tumour."""
    scores, truth = [], []
    discriminator = gan.discriminator.to(device).eval()
    for files in folders:
        case = load_case(files, require=gan.sequences)
        if case.seg is None:
            raise TrainingDataError(files.folder, f"case {files.case_id} has no segmentation")
        stack = image_stack(case, gan.sequences)
        side = slice_side(stack.shape[1:])
        slices = axial_slices(stack, side)
        labels = axial_slices(case.seg.data[None].astype(np.float32), side)[:, 0] > 0
        keep = brain_fraction(slices) >= min_brain_fraction
        with torch.inference_mode():
            images = torch.from_numpy(to_gan_range(slices[keep])).to(device)
            real = torch.sigmoid(discriminator(images).float()).amin(dim=(1, 2, 3))
        scores.append(real.cpu().numpy().astype(np.float64))
        truth.append(labels[keep].any(axis=(1, 2)))
    return np.concatenate(scores), np.concatenate(truth)


def threshold_table(
    scores: NDArray[np.float64], truth: NDArray[np.bool_], thresholds: Sequence[float]
) -> list[dict[str, float]]:
    """One row per threshold: slice counts and rates (a rate with no slices to count is NaN)."""
    rows = []
    for threshold in thresholds:
        detected = scores < threshold
        tp = int(np.sum(detected & truth))
        fn = int(np.sum(~detected & truth))
        fp = int(np.sum(detected & ~truth))
        tn = int(np.sum(~detected & ~truth))
        rows.append(
            {
                "threshold": float(threshold),
                "tp": tp,
                "fn": fn,
                "fp": fp,
                "tn": tn,
                "accuracy": (tp + tn) / max(1, tp + fn + fp + tn),
                "sensitivity": tp / (tp + fn) if tp + fn else float("nan"),
                "specificity": tn / (tn + fp) if tn + fp else float("nan"),
            }
        )
    return rows


def write_threshold_report(
    rows: Sequence[dict[str, float]], out: str | PathLike[str], about: dict[str, Any]
) -> tuple[Path, Path]:
    """``out`` (JSON: ``about`` plus the rows) and the same rows as CSV beside it, each written
    atomically; the two paths.

    The CSV first: a run killed between the two renames leaves the previous JSON, so a new
    JSON always has its own CSV beside it."""
    target = Path(out)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    table = target.with_suffix(".csv")
    atomic_write_text(table, buffer.getvalue())
    document = {**about, "rows": list(rows)}
    atomic_write_text(target, json.dumps(document, indent=2) + "\n")
    return target, table

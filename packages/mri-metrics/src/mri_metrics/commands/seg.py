"""``mri-metrics seg``: score segmentation files or folders of cases under a named profile.

NIfTI files are read with mri-io. Cases in two folders are paired by case id: the file name
without ``.nii``/``.nii.gz`` and without a trailing ``-seg``/``_seg``, so the BraTS reference
``BraTS-GLI-00000-000-seg.nii.gz`` pairs with a prediction named ``BraTS-GLI-00000-000.nii.gz``.
Spacing comes from the reference file, whose geometry is the ground truth; a prediction on
another grid (another shape, a flipped or shifted affine) is refused, naming both files.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from mri_io import Volume, load_volume, process_pool
from mri_io.orientation import axis_codes
from mri_metrics.errors import MetricInputError
from mri_metrics.profiles import DEFAULT_PROFILE, PROFILES
from mri_metrics.scoring import score_segmentation

__all__ = ["case_id", "check_same_grid", "pair_cases", "register", "run_seg"]

#: Largest difference (mm) between two affines that still counts as one voxel grid: NIfTI
#: stores affines in float32, so copies of one grid can differ in the last bits.
GRID_TOLERANCE_MM = 1e-3

_NIFTI = re.compile(r"\.nii(\.gz)?$")
_SEG_SUFFIX = re.compile(r"[-_]seg$")

Scores = dict[str, dict[str, float]]

EPILOG = "profiles:\n" + "\n".join(f"  {name:18} {p.description}" for name, p in PROFILES.items())


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``seg`` sub-command to the ``mri-metrics`` parser."""
    parser = commands.add_parser(
        "seg",
        help="score segmentations (Dice, HD95, NSD, lesion-wise) per region",
        description=(
            "Score predicted label maps against reference label maps, region by region "
            "(WT, TC, ET for BraTS). PRED and REF are two NIfTI files or two folders whose "
            "cases are paired by case id. Spacing is read from the reference header."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pred", required=True, type=Path, help="prediction file or folder")
    parser.add_argument("--ref", required=True, type=Path, help="reference file or folder")
    parser.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        choices=list(PROFILES),
        help=f"settings to score under (default: {DEFAULT_PROFILE})",
    )
    parser.add_argument(
        "--labels",
        default=None,
        help="label map overriding the profile's: an mri-io label convention name, e.g. brats2021 "
        "for 1/2/4 label maps",
    )
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fmt.add_argument("--csv", action="store_true", help="print CSV (one row per case and region)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes scoring cases in parallel (default: 1)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=run_seg)


def case_id(path: Path) -> str:
    """Case id of a label file: its name without the NIfTI suffix and a trailing ``-seg``."""
    return _SEG_SUFFIX.sub("", _NIFTI.sub("", path.name))


def _nifti_files(folder: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        if not (path.is_file() and _NIFTI.search(path.name)):
            continue
        key = case_id(path)
        if key in files:
            raise MetricInputError(f"{folder}: case {key!r} appears twice ({files[key]}, {path})")
        files[key] = path
    return files


def pair_cases(pred: Path, ref: Path) -> list[tuple[str, Path, Path]]:
    """Pair prediction and reference files: two files, or two folders matched by case id.

    Raises:
        FileNotFoundError: a path does not exist.
        MetricInputError: a file is paired with a folder, a folder has no NIfTI files, or a
            reference case has no prediction.
    """
    for path in (pred, ref):
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
    if pred.is_file() and ref.is_file():
        return [(case_id(ref), pred, ref)]
    if pred.is_dir() != ref.is_dir():
        raise MetricInputError(f"--pred {pred} and --ref {ref} must be two files or two folders")
    preds, refs = _nifti_files(pred), _nifti_files(ref)
    if not refs:
        raise MetricInputError(f"{ref}: no .nii or .nii.gz files found")
    missing = sorted(set(refs) - set(preds))
    if missing:
        shown = ", ".join(missing[:5])
        raise MetricInputError(f"{pred}: no prediction for {len(missing)} cases ({shown})")
    return [(key, preds[key], refs[key]) for key in sorted(refs)]


def _orientation(volume: Volume) -> str:
    return "".join(axis_codes(volume.affine))


def check_same_grid(path: Path, volume: Volume, ref_path: Path, ref: Volume, role: str) -> None:
    """Refuse ``volume`` unless it lies on ``ref``'s voxel grid: same shape, same affine.

    Voxel-wise scores compare voxel ``i`` with voxel ``i``; a flipped or resampled file would
    score as if it were aligned (a flip scores Dice 0, another grid of one shape Dice 1), so a
    difference is an error naming both files, not a number.
    """
    if volume.shape != ref.shape:
        raise MetricInputError(
            f"{path}: {role} has shape {volume.shape} but the reference {ref_path} has "
            f"{ref.shape}; resample it onto the reference grid first"
        )
    if not np.allclose(volume.affine, ref.affine, rtol=0.0, atol=GRID_TOLERANCE_MM):
        worst = float(np.abs(volume.affine - ref.affine).max())
        raise MetricInputError(
            f"{path}: {role} is not on the reference grid of {ref_path} (orientation "
            f"{_orientation(volume)} vs {_orientation(ref)}, affines differ by up to "
            f"{worst:.4g}); resample or reorient it onto the reference grid first"
        )


def _score_case(pred: Path, ref: Path, profile: str, labels: str | None) -> Scores:
    ref_volume = load_volume(ref, dtype=None)
    pred_volume = load_volume(pred, dtype=None)
    check_same_grid(pred, pred_volume, ref, ref_volume, "prediction")
    try:
        return score_segmentation(
            pred_volume.data, ref_volume.data, profile, spacing=ref_volume.spacing, labels=labels
        )
    except MetricInputError as exc:
        raise MetricInputError(f"{pred} vs {ref}: {exc}") from exc


def _table(results: dict[str, Scores]) -> str:
    lines = []
    for case, regions in results.items():
        for region, scores in regions.items():
            values = "  ".join(f"{k}={v:.4f}" for k, v in scores.items())
            lines.append(f"{case}  {region:4}  {values}")
    return "\n".join(lines)


def _csv(results: dict[str, Scores]) -> str:
    keys: list[str] = []
    for regions in results.values():
        for scores in regions.values():
            keys.extend(k for k in scores if k not in keys)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["case", "region", *keys])
    for case, regions in results.items():
        for region, scores in regions.items():
            writer.writerow([case, region, *(repr(scores.get(k, math.nan)) for k in keys)])
    return out.getvalue().rstrip("\n")


def _json_safe(value: float) -> Any:
    """JSON has no NaN or infinity: write them as the strings Python's float() reads back."""
    return value if math.isfinite(value) else str(value)


def run_seg(args: argparse.Namespace) -> int:
    """Handler of ``mri-metrics seg``: score every case and print one report."""
    if args.workers < 1:
        raise MetricInputError(f"--workers must be at least 1, got {args.workers}")
    cases = pair_cases(args.pred, args.ref)
    progress = tqdm(
        total=len(cases), desc="scoring", unit="case", disable=args.no_progress, file=sys.stderr
    )
    results: dict[str, Scores] = {}
    with progress:
        if args.workers == 1 or len(cases) == 1:
            for key, pred, ref in cases:
                results[key] = _score_case(pred, ref, args.profile, args.labels)
                progress.update()
        else:
            workers = min(args.workers, len(cases), os.cpu_count() or 1)
            with process_pool(workers) as pool:
                futures = {
                    key: pool.submit(_score_case, pred, ref, args.profile, args.labels)
                    for key, pred, ref in cases
                }
                for key, future in futures.items():
                    results[key] = future.result()
                    progress.update()
    if args.json:
        payload = {
            case: {region: {k: _json_safe(v) for k, v in s.items()} for region, s in r.items()}
            for case, r in results.items()
        }
        print(json.dumps({"profile": args.profile, "cases": payload}, indent=2))
    elif args.csv:
        print(_csv(results))
    else:
        print(_table(results))
    return 0

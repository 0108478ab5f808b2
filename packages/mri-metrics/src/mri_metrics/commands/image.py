"""``mri-metrics image``: SSIM, PSNR, MAE and MSE of a synthesised volume against its reference."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any, get_args

import numpy as np
import numpy.typing as npt

from mri_io import MriIoError, Volume, load_volume
from mri_metrics._inputs import check_finite
from mri_metrics.commands.seg import check_same_grid
from mri_metrics.errors import MetricInputError, NonFiniteError, ShapeMismatchError
from mri_metrics.intensity import mae, mse, psnr
from mri_metrics.similarity import SsimProfile, scoring_mask, ssim

#: Profiles that score a region; the others average a fixed part of the image and take no mask.
REGION_PROFILES = ("mri-suite", "brasyn")

DESCRIPTION = """\
Score a synthesised volume against its reference: SSIM, PSNR, MAE, MSE.

With --profile mri-suite (default) every metric is averaged over the voxels of --mask, or over
the reference's brain (its non-zero voxels) when no mask is given. --profile brasyn reproduces
the BraSyn challenge SSIM (the mask cuts both volumes; the whole cuboid is averaged).
--profile skimage, monai and torchmetrics average the whole image, as those libraries do."""


def _load_volume(path: Path, name: str) -> Volume:
    try:
        volume = load_volume(path)
    except MriIoError as exc:  # its messages already name the file
        raise MetricInputError(str(exc)) from exc
    if volume.data.ndim != 3:
        raise MetricInputError(f"{path}: {name} must be a 3D volume, got shape {volume.shape}")
    return volume


def score_files(
    ref_path: Path,
    pred_path: Path,
    mask_path: Path | None,
    profile: SsimProfile,
    data_range: float | None,
) -> dict[str, Any]:
    """Load the volumes and return the report as a JSON-ready dictionary."""
    ref_volume = _load_volume(ref_path, "reference")
    pred_volume = _load_volume(pred_path, "prediction")
    ref, pred = np.asarray(ref_volume.data), np.asarray(pred_volume.data)
    if pred.shape != ref.shape:
        raise ShapeMismatchError(
            f"{pred_path}: prediction has shape {pred.shape} but {ref_path} has {ref.shape}"
        )
    check_same_grid(pred_path, pred_volume, ref_path, ref_volume, "prediction")
    mask: npt.NDArray[np.bool_] | None = None
    region = "whole image"
    if mask_path is not None:
        if profile not in REGION_PROFILES:
            raise MetricInputError(f"--profile {profile} averages the whole image; drop --mask")
        mask_volume = _load_volume(mask_path, "mask")
        raw = np.asarray(mask_volume.data)
        if raw.shape != ref.shape:
            raise ShapeMismatchError(f"{mask_path}: mask has shape {raw.shape}, not {ref.shape}")
        check_same_grid(mask_path, mask_volume, ref_path, ref_volume, "mask")
        try:
            check_finite(raw, "mask")
        except NonFiniteError as exc:  # NaN != 0 would count a NaN voxel as inside
            raise NonFiniteError(f"{mask_path}: {exc}") from None
        mask = raw != 0
        region = f"mask {mask_path.name}"
    elif profile in REGION_PROFILES:
        mask = scoring_mask(ref)
        region = "reference != 0"
    for path, image, name in ((ref_path, ref, "reference"), (pred_path, pred, "prediction")):
        try:
            check_finite(image, name)
        except NonFiniteError as exc:
            raise NonFiniteError(f"{path}: {exc}") from None
    ssim_range = None if profile == "brasyn" else data_range
    return {
        "reference": str(ref_path),
        "prediction": str(pred_path),
        "profile": profile,
        "region": region,
        "voxels": int(mask.sum()) if mask is not None else int(ref.size),
        "ssim": ssim(pred, ref, mask=mask, data_range=ssim_range, profile=profile),
        "psnr": psnr(pred, ref, mask=mask, data_range=data_range),
        "mae": mae(pred, ref, mask=mask),
        "mse": mse(pred, ref, mask=mask),
    }


def _human(report: dict[str, Any]) -> str:
    lines = [f"{report['prediction']} vs {report['reference']}"]
    lines.append(
        f"profile {report['profile']}, region {report['region']} ({report['voxels']} voxels)"
    )
    for key in ("ssim", "psnr", "mae", "mse"):
        value = report[key]
        shown = "inf" if math.isinf(value) else f"{value:.6g}"
        lines.append(f"  {key:<5} {shown}{' dB' if key == 'psnr' else ''}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Handler of ``mri-metrics image``: print the report, return the exit status."""
    report = score_files(args.ref, args.pred, args.mask, args.profile, args.data_range)
    if args.json:
        # JSON has no infinity: PSNR of identical volumes is written as null.
        print(json.dumps({k: (None if v == math.inf else v) for k, v in report.items()}))
    else:
        print(_human(report))
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``image`` sub-command to the ``mri-metrics`` parser."""
    parser = commands.add_parser(
        "image",
        help="image quality of a synthesised volume (SSIM, PSNR, MAE, MSE)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--ref", type=Path, required=True, help="reference NIfTI volume")
    parser.add_argument("--pred", type=Path, required=True, help="synthesised NIfTI volume")
    parser.add_argument(
        "--mask", type=Path, help="region to score (non-zero voxels); default: reference != 0"
    )
    parser.add_argument(
        "--profile",
        choices=get_args(SsimProfile),
        default="mri-suite",
        help="SSIM convention (default: %(default)s)",
    )
    parser.add_argument(
        "--data-range",
        type=float,
        help="dynamic range for SSIM and PSNR (default: the reference's max - min)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)

"""``mri-io info FILE...``: what a NIfTI file holds and where it sits in space."""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from mri_io.nifti import Volume, load_volume
from mri_io.orientation import axis_codes

HELP = "show shape, spacing, axis codes, storage type and value range of NIfTI files"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``info`` sub-command."""
    parser = commands.add_parser(
        "info",
        help=HELP,
        description=f"{HELP[0].upper()}{HELP[1:]}. Values are after scl_slope/scl_inter.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help=".nii or .nii.gz files")
    parser.add_argument("--json", action="store_true", help="print one JSON list instead")
    parser.set_defaults(handler=run_info)


def describe(volume: Volume) -> dict[str, Any]:
    """The facts ``info`` prints, as JSON-ready values."""
    header: Any = volume.header
    slope, inter = header.get_slope_inter()
    finite = np.isfinite(volume.data)
    values = volume.data[finite]
    return {
        "path": str(volume.path),
        "shape": list(volume.shape),
        "spacing_mm": [round(size, 6) for size in volume.spacing],
        "axis_codes": "".join(axis_codes(volume.affine)),
        "stored_dtype": str(header.get_data_dtype().newbyteorder("=")),
        "scl_slope": slope,
        "scl_inter": inter,
        "qform_code": int(header["qform_code"]),
        "sform_code": int(header["sform_code"]),
        "min": float(values.min()) if values.size else None,
        "max": float(values.max()) if values.size else None,
        "non_finite_voxels": int(finite.size - np.count_nonzero(finite)),
        "affine": volume.affine.tolist(),
    }


def _format(facts: dict[str, Any]) -> str:
    scaling = (
        f" (scl_slope {facts['scl_slope']:g}, scl_inter {facts['scl_inter']:g})"
        if facts["scl_slope"] is not None
        else ""
    )
    spacing = " x ".join(f"{size:g}" for size in facts["spacing_mm"])
    lines = [
        facts["path"],
        f"  shape       {' x '.join(str(n) for n in facts['shape'])}",
        f"  spacing     {spacing} mm",
        f"  axes        {facts['axis_codes']}",
        f"  stored as   {facts['stored_dtype']}{scaling}",
        f"  range       [{facts['min']:g}, {facts['max']:g}]"
        if facts["min"] is not None
        else "  range       no finite values",
        f"  q/s-form    codes {facts['qform_code']} / {facts['sform_code']}",
    ]
    if facts["non_finite_voxels"]:
        lines.append(f"  non-finite  {facts['non_finite_voxels']} voxels")
    return "\n".join(lines)


def run_info(args: argparse.Namespace) -> int:
    """Print the facts of every file; any unreadable file stops with its error."""
    facts = [describe(load_volume(path, dtype=np.float64)) for path in args.files]
    if args.json:
        print(json.dumps(facts, indent=2))
    else:
        print("\n".join(_format(item) for item in facts))
    return 0

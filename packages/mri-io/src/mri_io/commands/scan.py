"""``mri-io scan DIR``: which cases a dataset folder holds and which sequences each lacks."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mri_io.errors import LabelError
from mri_io.labels import guess_label_convention
from mri_io.layouts import CaseFiles, scan_cases
from mri_io.nifti import load_labels
from mri_io.sequences import SEQUENCES

HELP = "list the cases in a dataset folder, their present and missing sequences"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``scan`` sub-command."""
    parser = commands.add_parser(
        "scan",
        help=HELP,
        description=(
            f"{HELP[0].upper()}{HELP[1:]} and the label convention their segmentations suggest. "
            "Understands BraTS 2019-2021, BraTS 2023+ (GLI, MEN, MET, PED, SSA, GoAT), "
            "UCSF-PDGM, CASE_SEQUENCE names, nnU-Net raw datasets and Medical Segmentation "
            "Decathlon 4D files (both read through their dataset.json); other files are ignored."
        ),
    )
    parser.add_argument("folder", metavar="DIR", help="dataset folder (searched recursively)")
    parser.add_argument("--json", action="store_true", help="print one JSON list instead")
    parser.add_argument(
        "--no-labels",
        action="store_true",
        help="do not read segmentations to guess their label convention (faster)",
    )
    parser.set_defaults(handler=run_scan)


def summarise(case: CaseFiles, *, read_labels: bool) -> dict[str, Any]:
    """The facts ``scan`` prints about one case, as JSON-ready values."""
    convention = case.label_convention  # declared by an nnU-Net/MSD dataset.json
    if read_labels and case.seg is not None and convention is None:
        try:
            convention = guess_label_convention(load_labels(case.seg).data)
        except LabelError as exc:
            raise LabelError(case.seg, exc.problem) from None
    return {
        "case_id": case.case_id,
        "folder": str(case.folder),
        "layout": case.layout,
        "present": [key for key in SEQUENCES if key in case.sequences],
        "missing": list(case.missing),
        "seg": None if case.seg is None else str(case.seg),
        "label_convention": convention,
        "extras": sorted(case.extras),
    }


def _table(rows: list[dict[str, Any]]) -> str:
    header = ("case", "layout", "present", "missing", "seg", "labels")
    body = [
        (
            row["case_id"],
            row["layout"],
            ",".join(row["present"]) or "-",
            ",".join(row["missing"]) or "-",
            "yes" if row["seg"] else "no",
            row["label_convention"] or "-",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in (header, *body)
    ]
    incomplete = sum(1 for row in rows if row["missing"])
    lines.append(f"{len(rows)} cases, {incomplete} with missing sequences")
    return "\n".join(lines)


def run_scan(args: argparse.Namespace) -> int:
    """Print one row per case found under the folder."""
    rows = [summarise(case, read_labels=not args.no_labels) for case in scan_cases(args.folder)]
    print(json.dumps(rows, indent=2) if args.json else _table(rows))
    return 0

"""``mri-io conform``: bring every case to the BraTS grid, or map a result back to its scan."""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from mri_io.atomic import check_apart
from mri_io.conform import DEFAULT_SPACING, RECORD_FILE, ConformRecord, conform_case, unconform
from mri_io.errors import OutputCollisionError
from mri_io.layouts import check_unique_case_ids, scan_cases
from mri_io.nifti import BRATS_SHAPE, load_volume, save_volume

DESCRIPTION = f"""\
Conform every case in DIR to one grid and write OUT/CASE/CASE-{{t1n,t1c,t2w,t2f,seg}}.nii.gz:
axes L-P-S as nibabel reads BraTS files, --spacing (default 1 mm) and --shape (default
240 240 155, where the affine is that of BraTS files), the brain (non-zero voxels) centred.
Images are interpolated linearly (float32), segmentations by nearest neighbour (uint8). A
case's files may lie on different grids. OUT/CASE/{RECORD_FILE} records each original grid
and the centring shift, so results can be mapped back:

  mri-io conform --inverse PRED.nii.gz --record OUT/CASE/{RECORD_FILE} --out ORIG-GRID.nii.gz

writes a label map made on the conformed grid (e.g. by mri-seg predict) on the original
grid: its shape and affine exactly (nearest neighbour; --linear for an image). --source KEY
picks the original file's grid (default: the segmentation's, else the first sequence's).
Conforming does not register sequences to each other or strip the skull: see the
documentation page "Your own data"."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``conform`` sub-command."""
    parser = commands.add_parser(
        "conform",
        help="resample cases to the BraTS grid (L-P-S, 1 mm, 240x240x155), or back",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", nargs="?", type=Path, metavar="DIR", help="dataset folder")
    parser.add_argument("--out", type=Path, required=True, help="output folder (or file)")
    parser.add_argument(
        "--spacing",
        type=float,
        nargs="+",
        default=list(DEFAULT_SPACING),
        metavar="MM",
        help="target voxel size in mm, one value or three (default 1)",
    )
    parser.add_argument(
        "--shape",
        type=int,
        nargs=3,
        default=list(BRATS_SHAPE),
        metavar=("X", "Y", "Z"),
        help="target grid in voxels (default 240 240 155)",
    )
    parser.add_argument("--inverse", type=Path, metavar="FILE", help="volume to map back")
    parser.add_argument("--record", type=Path, help=f"the case's {RECORD_FILE} (with --inverse)")
    parser.add_argument("--source", metavar="KEY", help="original grid to map back to")
    parser.add_argument(
        "--linear", action="store_true", help="--inverse of an image: interpolate linearly"
    )
    parser.set_defaults(handler=run_conform)


def run_conform(args: argparse.Namespace) -> int:
    """Conform the cases of DIR, or map --inverse back onto an original grid."""
    if args.inverse is not None:
        return _run_inverse(args)
    if args.folder is None:
        raise ValueError("give DIR to conform, or --inverse FILE --record JSON")
    if len(args.spacing) not in (1, 3):
        raise ValueError(f"--spacing takes one or three values, got {len(args.spacing)}")
    spacing = args.spacing * 3 if len(args.spacing) == 1 else args.spacing
    check_apart(args.folder, args.out)
    cases = scan_cases(args.folder)
    check_unique_case_ids(cases)
    for case in tqdm(cases, desc="conform", unit="case"):
        conform_case(case, args.out, spacing=spacing, shape=args.shape)
    print(f"wrote {len(cases)} conformed cases to {args.out}")
    return 0


def _run_inverse(args: argparse.Namespace) -> int:
    if args.record is None:
        raise ValueError(f"--inverse needs --record, the case's {RECORD_FILE}")
    for given, option in ((args.inverse, "--inverse"), (args.record, "--record")):
        if args.out.resolve() == given.resolve():
            raise OutputCollisionError(
                args.out, f"is the {option} file; writing there would destroy it"
            )
    record = ConformRecord.load(args.record)
    volume = load_volume(args.inverse, dtype=None)
    if volume.shape != record.shape:
        raise ValueError(
            f"{args.inverse}: shape {volume.shape} is not the conformed grid {record.shape}"
        )
    restored = unconform(volume, record, args.source, labels=not args.linear)
    save_volume(restored, args.out, dtype="float32" if args.linear else "uint8")
    print(f"wrote {args.out} on the grid of {record.sources[args.source or record.reference].file}")
    return 0

"""``mri-io cohort``: write a synthetic BraTS-like cohort (brains, tumours, several centres)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mri_io.synthetic.case import MIX_WEIGHTS
from mri_io.synthetic.centres import CENTRES
from mri_io.synthetic.cohort import write_cohort

HELP = "write a synthetic BraTS-like cohort of multi-sequence brains with tumours"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``cohort`` sub-command (``synth``: its earlier name, still accepted)."""
    centres = "\n".join(f"  {c.name:15s} {c.description}" for c in CENTRES.values())
    parser = commands.add_parser(
        "cohort",
        aliases=["synth"],
        help=HELP,
        description=(
            f"{HELP[0].upper()}{HELP[1:]}, as BraTS 2023 case folders with a cohort.json "
            "manifest. Every case depends only on (seed, case index), so any case can be "
            f"regenerated alone.\n\ncentres:\n{centres}"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--cases", type=_positive, required=True, metavar="N", help="number of cases"
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="output folder (must be empty or absent)",
    )
    parser.add_argument("--seed", type=int, required=True, metavar="S", help="cohort seed")
    parser.add_argument(
        "--centres",
        nargs="+",
        choices=list(CENTRES),
        default=None,
        metavar="CENTRE",
        help="centres drawn from per case (default: all)",
    )
    parser.add_argument(
        "--tumour",
        choices=(*MIX_WEIGHTS, "mix"),
        default="mix",
        help="tumour model; mix draws gbm/met/men/none per case (default: mix)",
    )
    parser.add_argument(
        "--grid",
        choices=("full", "half"),
        default="half",
        help="full: 240x240x155 at 1 mm; half: 120x120x78 at 2 mm (default)",
    )
    parser.add_argument(
        "--anatomy",
        choices=("procedural", "procedural-varied", "mni"),
        default="procedural",
        help="procedural brain (procedural-varied: with deep grey nuclei and grey islands "
        'drawn per case), or the MNI152 template (needs "mri-io[synthetic]")',
    )
    parser.add_argument(
        "--float32", action="store_true", help="write images as float32 instead of int16"
    )
    parser.add_argument(
        "--workers",
        type=_positive,
        default=1,
        metavar="W",
        help="parallel worker processes (default: 1)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="write into a non-empty output folder"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_cohort)


def run_cohort(args: argparse.Namespace) -> int:
    """Write the cohort and print where it went."""
    folders = write_cohort(
        args.out,
        args.cases,
        seed=args.seed,
        centres=args.centres,
        tumour=args.tumour,
        grid=args.grid,
        anatomy=args.anatomy,
        workers=args.workers,
        dtype="float32" if args.float32 else "int16",
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(f"wrote {len(folders)} cases and cohort.json to {args.out}")
    return 0

"""``mri-gen complete`` (alias ``synthesize``): complete cases with any trained generator."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mri_gen.commands.options import views
from mri_gen.completion import complete_case, complete_cohort, single_case
from mri_gen.loader import load_generator
from mri_io import MANIFEST, add_device_option, case_centres, scan_cases
from mri_io.atomic import check_apart
from mri_io.training import resolve_device

DESCRIPTION = """\
Generate the missing sequences of one case (--case DIR) or of every case in a cohort
(--cohort DIR) with a trained generator (--model: a run folder or a saved model folder of
HF-GAN or UMMGAT; the folder says which).

Each output case folder holds the available sequences (copied) and the generated ones under
their BraTS names, on the input's grid with its affine and header.

UMMGAT generates in a centre's domains: the case's centre comes from the cohort manifest
(cohort.json) or --centre; --to-centre CENTRE generates in CENTRE's domains and also
translates the available sequences there (harmonisation). HF-GAN has one model for every
site; --views axial,sagittal averages the volumes generated along both views, --bf16 uses
bfloat16 autocast."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``complete`` sub-command (``synthesize`` is its earlier name)."""
    parser = commands.add_parser(
        "complete",
        aliases=["synthesize"],
        help="generate the missing sequences of cases (any generator)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", type=Path, required=True, help="trained model or run folder")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--case", type=Path, help="folder of one case")
    source.add_argument("--cohort", type=Path, help="folder of many cases")
    parser.add_argument("--out", type=Path, required=True, help="folder for the completed cases")
    parser.add_argument("--centre", help="centre of cases the cohort manifest does not list")
    parser.add_argument("--to-centre", help="UMMGAT: generate in, and harmonise into, CENTRE")
    parser.add_argument("--seed", type=int, default=0, help="seed of UMMGAT's latent styles")
    parser.add_argument("--views", type=views, help="HF-GAN: e.g. axial,sagittal (default axial)")
    parser.add_argument("--bf16", action="store_true", help="HF-GAN: bfloat16 autocast")
    parser.add_argument("--batch-size", type=int, default=32, help="slices per forward pass")
    add_device_option(parser)
    parser.set_defaults(handler=run_complete)


def _centres(folder: Path, default: str | None) -> dict[str, str | None]:
    """Case id -> centre from the folder's manifest, else ``default`` (``None``: unknown, which
    only a multi-centre generator refuses)."""
    return {case: centre or None for case, centre in case_centres(folder, default or "").items()}


def run_complete(args: argparse.Namespace) -> int:
    """Load the model, complete the case(s), report what was written."""
    options: dict[str, Any] = {"batch_size": args.batch_size}
    if args.views is not None:
        options["views"] = args.views
    if args.bf16:
        options["bf16"] = True
    check_apart(args.case if args.case is not None else args.cohort, args.out)
    generator = load_generator(args.model, device=resolve_device(args.device), **options)
    if args.case is not None:
        files = single_case(args.case)
        # A case of a synthetic cohort: its centre is in the cohort's manifest beside it.
        listed = (args.case.parent / MANIFEST).is_file()
        centres = _centres(args.case.parent if listed else args.case, args.centre)
        written = complete_case(
            generator,
            files,
            args.out,
            centre=centres.get(files.case_id),
            target_centre=args.to_centre,
            seed=args.seed,
        )
        for path in written:
            print(f"wrote {path}")
        return 0
    written, failures = complete_cohort(
        generator,
        scan_cases(args.cohort),
        args.out,
        centres=_centres(args.cohort, args.centre),
        target_centre=args.to_centre,
        seed=args.seed,
    )
    for failure in failures:
        print(f"mri-gen: skipped: {failure}", file=sys.stderr)
    print(f"wrote {len(written)} volumes into {args.out}; {len(failures)} cases skipped")
    return 2 if failures else 0

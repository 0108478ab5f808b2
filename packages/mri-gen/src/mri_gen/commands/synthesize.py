"""``mri-gen synthesize``: complete cases with a trained HF-GAN."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mri_gen.commands.train import _views
from mri_gen.hfgan.inference import Synthesiser, complete_case, complete_cohort, single_case
from mri_io.layouts import scan_cases
from mri_io.training import resolve_device

DESCRIPTION = """\
Generate the missing sequences of one case (--case DIR) or of every case in a cohort
(--cohort DIR) with a trained HF-GAN (--model: a run folder or a saved model folder).

Each output case folder holds the available sequences (copied) and the generated ones under
their BraTS names, on the input's grid with its affine and header. --views axial,sagittal
averages the volumes generated along both views."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``synthesize`` sub-command."""
    parser = commands.add_parser(
        "synthesize",
        help="generate the missing sequences of cases",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", type=Path, required=True, help="trained model folder")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--case", type=Path, help="folder of one case")
    source.add_argument("--cohort", type=Path, help="folder of many cases")
    parser.add_argument("--out", type=Path, required=True, help="folder for the completed cases")
    parser.add_argument("--views", type=_views, default=("axial",), help="e.g. axial,sagittal")
    parser.add_argument("--batch-size", type=int, default=32, help="slices per forward pass")
    parser.add_argument(
        "--device", default="auto", help="auto (a GPU if there is one), cpu, cuda or cuda:N"
    )
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    parser.set_defaults(handler=run_synthesize)


def run_synthesize(args: argparse.Namespace) -> int:
    """Load the model, complete the case(s), report what was written."""
    device = resolve_device(args.device)
    synthesiser = Synthesiser.from_pretrained(
        args.model, device=device, batch_size=args.batch_size, bf16=args.bf16
    )
    if args.case is not None:
        written = complete_case(synthesiser, single_case(args.case), args.out, args.views)
        for path in written:
            print(f"wrote {path}")
        return 0
    written, failures = complete_cohort(synthesiser, scan_cases(args.cohort), args.out, args.views)
    for failure in failures:
        print(f"mri-gen: skipped: {failure}", file=sys.stderr)
    print(f"wrote {len(written)} volumes into {args.out}; {len(failures)} cases skipped")
    return 2 if failures else 0

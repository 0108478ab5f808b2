"""``mri-gen translate``: complete or harmonise cases with a trained UMMGAT."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from mri_gen.errors import ConfigError
from mri_gen.ummgat.config import split_domain
from mri_gen.ummgat.inference import Translator, generate_missing, harmonise_case, translate_case
from mri_io import case_centres
from mri_io.atomic import atomic_folder, check_apart
from mri_io.case import load_case
from mri_io.cli_support import add_device_option
from mri_io.errors import MriSuiteError
from mri_io.layouts import (
    CaseFiles,
    brats2021_filename,
    brats2023_filename,
    check_unique_case_ids,
    scan_cases,
)
from mri_io.nifti import load_volume, save_volume
from mri_io.training import resolve_device

DESCRIPTION = """\
Translate cases with a trained UMMGAT (--model: a run folder or saved model folder).

--complete            generate every missing sequence from the preferred available one
                      (t1n, t2w, t1c, t2f in that order), in the case's centre or --to-centre
--harmonise CENTRE    translate every sequence into CENTRE's domain of that sequence
--to CENTRE:SEQ       translate the preferred available sequence into one domain

Styles are latent-guided (mean of seeded draws, --seed) unless --reference FILE gives a
volume of the target domain (reference-guided; --to only). The case's centre comes from the
cohort manifest (cohort.json) or --centre. Outputs are float32 NIfTI on the paper's [0, 255]
scale, on the input's grid with its affine, under out/CASE/ with BraTS names."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``translate`` sub-command."""
    parser = commands.add_parser(
        "translate",
        help="complete or harmonise cases with UMMGAT",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", type=Path, required=True, help="trained UMMGAT folder")
    parser.add_argument("--cohort", type=Path, required=True, help="folder of cases")
    parser.add_argument("--out", type=Path, required=True, help="folder for the outputs")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--complete", action="store_true", help="fill missing sequences")
    action.add_argument("--harmonise", metavar="CENTRE", help="translate into CENTRE's domains")
    action.add_argument("--to", metavar="CENTRE:SEQ", help="translate into one domain")
    parser.add_argument("--to-centre", help="with --complete: generate in this centre's domains")
    parser.add_argument("--centre", help="centre of cases the cohort manifest does not list")
    parser.add_argument("--reference", type=Path, help="reference volume of the --to domain")
    parser.add_argument("--seed", type=int, default=0, help="seed of latent-guided styles")
    parser.add_argument("--batch-size", type=int, default=32, help="slices per forward pass")
    add_device_option(parser)
    parser.set_defaults(handler=run_translate)


def _name(files: CaseFiles, sequence: str) -> str:
    if files.layout == "brats2021":
        return brats2021_filename(files.case_id, sequence)
    return brats2023_filename(files.case_id, sequence)


def _translate(
    translator: Translator, files: CaseFiles, centre: str, args: argparse.Namespace
) -> dict[str, NDArray[np.float32]]:
    case = load_case(files)
    if args.complete:
        return generate_missing(
            translator, case, centre, target_centre=args.to_centre, seed=args.seed
        )
    if args.harmonise:
        return harmonise_case(translator, case, centre, args.harmonise, seed=args.seed)
    reference = None if args.reference is None else load_volume(args.reference).data
    volume = translate_case(translator, case, centre, args.to, reference=reference, seed=args.seed)
    return {split_domain(args.to)[1]: volume}


def run_translate(args: argparse.Namespace) -> int:
    """Translate every case of the cohort; bad cases are reported and skipped."""
    if args.reference is not None and args.to is None:
        raise ConfigError(args.reference, "--reference goes with --to")
    # Before any work: an output inside the cohort would be read as cases by the next run,
    # and an output that is the cohort would replace its case folders.
    check_apart(args.cohort, args.out)
    device = resolve_device(args.device)
    translator = Translator.from_pretrained(args.model, device=device, batch_size=args.batch_size)
    centres = case_centres(args.cohort, args.centre)
    written, failures = 0, 0
    cases = scan_cases(args.cohort)
    check_unique_case_ids(cases)
    for files in cases:
        try:
            volumes = _translate(translator, files, centres[files.case_id], args)
        except MriSuiteError as exc:
            print(f"mri-gen: skipped: {exc}", file=sys.stderr)
            failures += 1
            continue
        reference = load_volume(next(iter(files.sequences.values())))
        # Each case folder is written whole, then renamed into place: never half a case.
        with atomic_folder(args.out / files.case_id) as folder:
            for sequence, array in volumes.items():
                path = folder / _name(files, sequence)
                save_volume(reference.with_data(array), path, dtype=np.float32)
                written += 1
    print(f"wrote {written} volumes into {args.out}; {failures} cases skipped")
    return 2 if failures else 0

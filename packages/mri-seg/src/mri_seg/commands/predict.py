"""``mri-seg predict``: segment one case or a cohort with any trained segmenter."""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from mri_io.atomic import check_apart
from mri_io.cli_support import add_device_option
from mri_io.errors import LayoutError
from mri_io.labels import LABEL_CONVENTIONS
from mri_io.layouts import check_unique_case_ids, scan_cases
from mri_io.training import resolve_device
from mri_seg.contract import InferenceSettings
from mri_seg.inputs import missing_sequence_error
from mri_seg.loader import load_segmenter
from mri_seg.postprocess import BRATS_MIN_SIZES
from mri_seg.prediction import NAMINGS, predict_to_file

DESCRIPTION = """\
Segment every case of --case DIR (one case) or --cohort DIR (many) and write
OUT/{case_id}-seg.nii.gz (--naming nnunet: OUT/{case_id}.nii.gz, nnU-Net's prediction
names): uint8 labels on the input's grid (same affine and header). Reads every layout
`mri-io scan` knows, nnU-Net raw datasets and Decathlon 4D files included.

Every sequence the model was trained on must be present: a case with a missing sequence is
refused, naming it (complete it first, e.g. with mri-gen or mri-bench).
--model takes a run folder of `mri-seg train` (its best/ model, else its last/) or a
model folder.
--remove-small drops components smaller than WT 250 / TC 150 / ET 100 voxels
(a small ET becomes necrosis, a small TC edema, a small WT background)."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``predict`` sub-command."""
    parser = commands.add_parser(
        "predict",
        help="segment cases with a trained model",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", type=Path, required=True, help="run or model folder")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--case", type=Path, help="folder of one case")
    source.add_argument("--cohort", type=Path, help="folder of many cases")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    parser.add_argument("--roi", type=int, nargs=3, metavar=("X", "Y", "Z"), help="window size")
    parser.add_argument("--overlap", type=float, default=0.5, help="window overlap (0.5)")
    parser.add_argument("--sw-batch-size", type=int, default=1, help="windows per forward pass")
    add_device_option(parser)
    parser.add_argument(
        "--output-device", default="cpu", help="device holding the stitched volume (cpu)"
    )
    parser.add_argument("--remove-small", action="store_true", help="drop small components")
    # --label-profile: the option's name before label maps were called conventions everywhere.
    parser.add_argument(
        "--label-convention",
        "--label-profile",
        dest="label_convention",
        choices=sorted(LABEL_CONVENTIONS),
        help="labels to write (default: the model's)",
    )
    parser.add_argument(
        "--naming",
        choices=NAMINGS,
        default="brats",
        help="output file names: brats CASE-seg.nii.gz (default) or nnunet CASE.nii.gz",
    )
    parser.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    """Segment the cases and print where the label maps went."""
    device = str(resolve_device(args.device))
    model = load_segmenter(args.model, device=device)
    settings = InferenceSettings(
        roi_size=None if args.roi is None else tuple(args.roi),
        overlap=args.overlap,
        sw_batch_size=args.sw_batch_size,
        device=device,
        output_device=args.output_device,
        min_sizes=BRATS_MIN_SIZES if args.remove_small else {},
        label_convention=args.label_convention,
    )
    source = args.case if args.case is not None else args.cohort
    check_apart(source, args.out)  # label maps inside a cohort would be read as its cases
    cases = scan_cases(source)
    if args.case is not None and len(cases) != 1:
        raise LayoutError(args.case, f"holds {len(cases)} cases; give one case or use --cohort")
    check_unique_case_ids(cases)  # two cases of one id would write one label map
    for case in cases:  # refuse before any work, not after segmenting half a cohort
        absent = [key for key in model.required_sequences if key in case.missing]
        if absent:
            raise missing_sequence_error(case.folder, case.case_id, absent, model.sequences)
    for case in tqdm(cases, desc="segment", unit="case"):
        predict_to_file(model, case, args.out, settings, naming=args.naming)
    print(f"wrote {len(cases)} label map(s) to {args.out}")
    return 0

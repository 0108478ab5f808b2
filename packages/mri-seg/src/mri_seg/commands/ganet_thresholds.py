"""``mri-seg ganet-thresholds``: the pre-trained discriminator's threshold sensitivity table."""

from __future__ import annotations

import argparse
from pathlib import Path

from mri_io.atomic import check_not_an_input
from mri_io.cli_support import add_device_option
from mri_io.layouts import scan_cases
from mri_io.training import resolve_device
from mri_seg.ganet.networks import load_gan
from mri_seg.ganet.thresholds import (
    PAPER_THRESHOLDS,
    slice_scores,
    threshold_table,
    write_threshold_report,
)
from mri_seg.ganet.training import PRETRAIN

DESCRIPTION = """\
Score every axial slice (with enough brain) of the labelled cases under --data with a
GANet-Seg discriminator, and count, for each threshold, the slices it detects as abnormal
(some patch's probability of being real below the threshold) against the slices that hold
tumour: TP, FN, FP, TN, accuracy, sensitivity, specificity (the paper's Table 1). --gan is a
GAN model folder, a pre-training run, or a GANet-Seg run (its pretrain/ folder). Writes OUT
(JSON) and the same table as CSV beside it."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``ganet-thresholds``."""
    parser = commands.add_parser(
        "ganet-thresholds",
        help="GANet-Seg discriminator's detection at each threshold",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--gan", type=Path, required=True, help="GAN or GANet-Seg run folder")
    parser.add_argument("--data", type=Path, required=True, help="labelled cases")
    parser.add_argument("--out", type=Path, required=True, help="report file (.json)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=list(PAPER_THRESHOLDS))
    parser.add_argument("--min-brain-fraction", type=float, default=0.05)
    add_device_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Score the slices and write the table."""
    every_case = scan_cases(args.data)
    check_not_an_input(args.out, every_case)  # before any work
    folder = args.gan / PRETRAIN if (args.gan / PRETRAIN).is_dir() else args.gan
    device = resolve_device(args.device)
    gan = load_gan(folder, device=device)
    cases = [case for case in every_case if case.seg is not None]
    scores, truth = slice_scores(gan, cases, args.min_brain_fraction, device)
    rows = threshold_table(scores, truth, args.thresholds)
    about = {
        "gan": str(folder),
        "data": str(args.data),
        "slices": len(truth),
        "tumour_slices": int(truth.sum()),
    }
    json_path, csv_path = write_threshold_report(rows, args.out, about)
    for row in rows:
        print(
            f"threshold {row['threshold']:.2f}: accuracy {row['accuracy']:.3f}, "
            f"sensitivity {row['sensitivity']:.3f}, TP {row['tp']}, FN {row['fn']}, "
            f"FP {row['fp']}"
        )
    print(f"wrote {json_path} and {csv_path}")
    return 0

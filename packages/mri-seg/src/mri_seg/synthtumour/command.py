"""``mri-seg train synthtumour``: SynthTumour's two-stage training command."""

from __future__ import annotations

import argparse
from pathlib import Path

from mri_seg.commands.train import add_run_options, report
from mri_seg.synthtumour.config import SENIOR_INITS, SYNTHTUMOUR_PRESETS, preset_config
from mri_seg.synthtumour.training import train_synthtumour

DESCRIPTION = """\
Train a tumour segmenter without labels (SynthTumour): a junior 3D U-Net on the healthy brains
under --healthy with hand-crafted synthetic tumours, then a senior one on healthy brains with
the junior's pseudo-labelled tumours from --unlabelled pasted in (hard-mask CarveMix) plus those
pseudo-labelled cases. Segmentation files under --unlabelled are never read.

A seeded share of the healthy brains (--val-fraction) holds the validation tumours (hard
masks, original texture), which select each stage's best epoch. RUN holds run.json,
split.json, validation/, junior/ and senior/ (run folders: log.csv, state.pt, best/, last/)
and pseudo/ (the junior's label maps). `mri-seg predict --model RUN/senior` (or RUN/junior)
segments cases. --resume continues a stopped run (--device, --max-minutes and --workers may
change); --max-minutes budgets each stage.

Presets: paper (BraTS-scale U-Net, 128^3 crops, 100 + 100 epochs of 250 steps), tiny (CPU
U-Net, 32^3 crops, a few steps: tests). --epochs, --steps-per-epoch, --batch-size and --lr
override the preset."""


def register(models: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``synthtumour`` to ``mri-seg train``."""
    parser = models.add_parser(
        "synthtumour",
        help="unsupervised: synthetic tumours, then pseudo-labelled real ones",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--healthy", type=Path, required=True, help="folder of healthy brains (no tumour)"
    )
    parser.add_argument(
        "--unlabelled", type=Path, required=True, help="folder of unlabelled tumour cases"
    )
    parser.add_argument("--preset", choices=sorted(SYNTHTUMOUR_PRESETS), default="paper")
    parser.add_argument(
        "--epochs", type=int, nargs=2, metavar=("JUNIOR", "SENIOR"), help="epochs per stage"
    )
    parser.add_argument("--steps-per-epoch", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float, help="Adam learning rate")
    parser.add_argument("--workers", type=int, default=0, help="data-loading processes (0)")
    parser.add_argument(
        "--senior-init",
        choices=SENIOR_INITS,
        default="scratch",
        help="the senior model starts fresh (scratch) or from the junior's weights",
    )
    add_run_options(parser, data=False)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Train both stages and report the senior model (or the junior, if stopped in stage 1)."""
    changes: dict[str, object] = {
        "val_fraction": args.val_fraction,
        "seed": args.seed,
        "device": args.device,
        "amp": not args.no_amp,
        "max_minutes": args.max_minutes,
        "workers": args.workers,
        "senior_init": args.senior_init,
    }
    if args.epochs is not None:
        changes["junior_epochs"], changes["senior_epochs"] = args.epochs
    for option, field in (
        ("steps_per_epoch", "steps_per_epoch"),
        ("batch_size", "batch_size"),
        ("lr", "learning_rate"),
    ):
        if getattr(args, option) is not None:
            changes[field] = getattr(args, option)
    config = preset_config(args.preset, **changes)
    result = train_synthtumour(args.healthy, args.unlabelled, args.out, config, resume=args.resume)
    if result.rank == 0:
        report(result, result.run_dir)
    return 0

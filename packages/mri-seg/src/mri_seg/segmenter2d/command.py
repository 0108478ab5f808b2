"""``mri-seg train segmenter2d``: HF-GAN's 2D segmenter's training command."""

from __future__ import annotations

import argparse

from mri_io.slicing import VIEWS
from mri_seg.commands.train import add_run_options, report
from mri_seg.segmenter2d.config import Segmenter2DConfig
from mri_seg.segmenter2d.training import train_segmenter2d

DESCRIPTION = """\
Train HF-GAN's 2D tumour segmenter (1.8M parameters; 4 classes: background, NETC, edema, ET)
on slices of the chosen views that hold at least 0.1% tumour, with the focal Tversky loss
(alpha 0.3, beta 0.7, gamma 1.33). The tumour type input (gli, met, men) is read from each
case's BraTS identifier. A seeded share of the cases (--val-fraction) is held out and scored
after each epoch; the best model by validation Dice goes to RUN/best. RUN/log.csv has one row
per epoch. The same command with --resume continues after the last finished epoch (only
--max-minutes and --device may change)."""


def register(models: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``segmenter2d`` to ``mri-seg train``."""
    parser = models.add_parser(
        "segmenter2d",
        help="HF-GAN's 2D segmenter on slices",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--views", nargs="+", choices=VIEWS, default=list(VIEWS))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--steps-per-epoch", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    add_run_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Train the 2D segmenter and report its best validation Dice."""
    config = Segmenter2DConfig(
        views=tuple(args.views),
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        val_fraction=args.val_fraction,
        seed=args.seed,
        device=args.device,
        amp=not args.no_amp,
        max_minutes=args.max_minutes,
    )
    report(train_segmenter2d(args.data, args.out, config, resume=args.resume), args.out)
    return 0

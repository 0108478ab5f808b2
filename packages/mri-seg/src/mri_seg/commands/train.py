"""``mri-seg train FAMILY``: train a segmentation model of any mri-seg family.

Each family's sub-command lives beside its code, in ``mri_seg.<family>.command`` (a
``register(models)`` that adds the parser); the options every trainer shares and the closing
report are here, in one place.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from mri_io.cli_support import add_device_option
from mri_io.training import RunFolder
from mri_seg.checkpoint import TrainResult

#: Families with a ``train`` sub-command, in ``--help`` order; each is ``mri_seg.<name>``.
FAMILIES = ("unet", "segmenter2d", "ganet", "synthtumour")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``train`` and one sub-command per family."""
    train = commands.add_parser(
        "train",
        help="train a segmentation model",
        description="Train a segmentation model. Run `mri-seg train MODEL --help`.",
    )
    models = train.add_subparsers(title="models", metavar="MODEL")
    for family in FAMILIES:
        importlib.import_module(f"mri_seg.{family}.command").register(models)


def add_run_options(parser: argparse.ArgumentParser, *, data: bool = True) -> None:
    """Options every trainer takes: data and run folder, the held-out share, seed, device,
    precision, resuming and the time budget. ``data=False`` leaves out ``--data``, for a
    trainer that names its input folders itself."""
    if data:
        parser.add_argument("--data", type=Path, required=True, help="folder of training cases")
    parser.add_argument(
        "--out", type=Path, required=True, help="run folder (created, or continued with --resume)"
    )
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    add_device_option(parser)
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out with the same settings"
    )
    parser.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    parser.add_argument("--max-minutes", type=float, help="stop after this much training time")


def report(result: TrainResult, out: Path) -> None:
    """Print what a finished run did and where its best model is."""
    scores = ", ".join(f"{name} {value:.3f}" for name, value in result.best_dice.items())
    print(
        f"trained {result.epochs_done} epochs in {result.seconds / 60:.1f} min; best epoch "
        f"{result.best_epoch} ({scores or 'no validation'}) saved to {RunFolder(out).best}"
    )

"""``mri-seg train unet|segmenter2d``: train a 3D U-Net or the 2D segmenter on BraTS-style
cases."""

from __future__ import annotations

import argparse
from pathlib import Path

from mri_io.cli_support import add_device_option
from mri_io.slicing import VIEWS
from mri_io.training import RunFolder
from mri_seg.checkpoint import TrainResult
from mri_seg.segmenter2d import Segmenter2DConfig, train_segmenter2d
from mri_seg.targets import OUTPUT_KINDS
from mri_seg.unet import UNET_PRESETS, TrainConfig, train_unet
from mri_seg.unet.config import CACHE_KINDS

DESCRIPTION = """\
Train a 3D U-Net on every case under DIR that has all four sequences and a segmentation.

Cases are read through MONAI datasets (normalised once, cached in RUN/cache or in memory with
--cache) by --workers loader processes; each sample is a random crop (tumour-centred with
probability 1/2), randomly flipped and intensity-augmented, seeded by (seed, epoch, step, sample).
A seeded share of the cases (--val-fraction) is held out; after each epoch the model is scored
on them (Dice per region, whole volumes, sliding window) and the best one is kept in RUN/best
(config.json + model.safetensors). RUN/log.csv has one row per epoch. The same command with
--resume continues after the last finished epoch (--workers, --cache, --device, --max-minutes
and --tensorboard may change). Under `torchrun --nproc_per_node N` every process trains on its
share of each step's crops and gradients are averaged (gloo on CPU, NCCL on GPU).

Presets: brats (4.8M parameters, 128^3 windows), tiny (0.15M parameters, 64^3 windows)."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``train`` and its model sub-commands."""
    train = commands.add_parser(
        "train",
        help="train a segmentation model",
        description="Train a segmentation model. Run `mri-seg train MODEL --help`.",
    )
    models = train.add_subparsers(title="models", metavar="MODEL")
    parser = models.add_parser(
        "unet",
        help="3D U-Net on four sequences",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, required=True, help="folder of training cases")
    parser.add_argument(
        "--out", type=Path, required=True, help="run folder (created, or continued with --resume)"
    )
    parser.add_argument("--preset", choices=sorted(UNET_PRESETS), default="tiny")
    parser.add_argument(
        "--output",
        choices=OUTPUT_KINDS,
        default="regions",
        help="sigmoid WT/TC/ET regions or softmax labels (default regions)",
    )
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--steps-per-epoch", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--crop", type=int, nargs=3, metavar=("X", "Y", "Z"), help="crop size")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    _add_run_options(parser)
    parser.add_argument("--tensorboard", action="store_true", help="also log to RUN/tensorboard")
    parser.add_argument(
        "--workers", type=int, default=2, help="data-loading processes per training process (2)"
    )
    parser.add_argument(
        "--cache",
        choices=CACHE_KINDS,
        default="disk",
        help="keep the normalised cases in RUN/cache (disk, default) or in memory",
    )
    parser.set_defaults(handler=run_train_unet)
    _register_segmenter2d(models)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options every trainer takes: the held-out share, seed, device, precision, time budget."""
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    add_device_option(parser)
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out with the same settings"
    )
    parser.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    parser.add_argument("--max-minutes", type=float, help="stop after this much training time")


SEGMENTER2D_DESCRIPTION = """\
Train HF-GAN's 2D tumour segmenter (1.8M parameters; 4 classes: background, NETC, edema, ET)
on slices of the chosen views that hold at least 0.1% tumour, with the focal Tversky loss
(alpha 0.3, beta 0.7, gamma 1.33). The tumour type input (gli, met, men) is read from each
case's BraTS identifier. A seeded share of the cases (--val-fraction) is held out and scored
after each epoch; the best model by validation Dice goes to RUN/best. RUN/log.csv has one row
per epoch. The same command with --resume continues after the last finished epoch (only
--max-minutes and --device may change)."""


def _register_segmenter2d(
    models: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    parser = models.add_parser(
        "segmenter2d",
        help="HF-GAN's 2D segmenter on slices",
        description=SEGMENTER2D_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, required=True, help="folder of training cases")
    parser.add_argument(
        "--out", type=Path, required=True, help="run folder (created, or continued with --resume)"
    )
    parser.add_argument("--views", nargs="+", choices=VIEWS, default=list(VIEWS))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--steps-per-epoch", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    _add_run_options(parser)
    parser.set_defaults(handler=run_train_segmenter2d)


def run_train_segmenter2d(args: argparse.Namespace) -> int:
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
    _report(train_segmenter2d(args.data, args.out, config, resume=args.resume), args.out)
    return 0


def run_train_unet(args: argparse.Namespace) -> int:
    """Train and report the best validation Dice."""
    config = TrainConfig(
        preset=args.preset,
        output=args.output,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch_size,
        crop=None if args.crop is None else tuple(args.crop),
        learning_rate=args.lr,
        val_fraction=args.val_fraction,
        seed=args.seed,
        device=args.device,
        amp=not args.no_amp,
        max_minutes=args.max_minutes,
        tensorboard=args.tensorboard,
        workers=args.workers,
        cache=args.cache,
    )
    result = train_unet(args.data, args.out, config, resume=args.resume)
    if result.rank == 0:
        _report(result, args.out)
    return 0


def _report(result: TrainResult, out: Path) -> None:
    scores = ", ".join(f"{name} {value:.3f}" for name, value in result.best_dice.items())
    print(
        f"trained {result.epochs_done} epochs in {result.seconds / 60:.1f} min; best epoch "
        f"{result.best_epoch} ({scores or 'no validation'}) saved to {RunFolder(out).best}"
    )

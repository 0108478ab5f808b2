"""``mri-seg train unet``: the 3D U-Net's training command."""

from __future__ import annotations

import argparse

from mri_io.sequences import canonical_sequence
from mri_seg.commands.train import add_run_options, report
from mri_seg.targets import OUTPUT_KINDS
from mri_seg.unet.config import CACHE_KINDS, TrainConfig
from mri_seg.unet.kle import KLE_COMPONENTS
from mri_seg.unet.networks import UNET_PRESETS
from mri_seg.unet.training import train_unet

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

--kle adds the KLE anomaly channel: a Karhunen-Loeve basis (PCA over the training cases at 48^3
voxels per sequence, --kle-components coefficients, fewer with fewer cases) is fitted on the
training split, kept in RUN/kle and in the saved models; its reconstruction residual is a fifth
input channel. --sequence-dropout P trains a model that segments incomplete cases: a share P of
the crops keeps only some sequences (one of the --keep subsets, default any non-empty proper
subset), the missing channels zeroed and one availability channel per sequence added.

Presets: brats (4.8M parameters, 128^3 windows), tiny (0.15M parameters, 64^3 windows)."""


def register(models: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``unet`` to ``mri-seg train``."""
    parser = models.add_parser(
        "unet",
        help="3D U-Net on four sequences",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    add_run_options(parser)
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
    parser.add_argument(
        "--kle", action="store_true", help="add the KLE anomaly map as an input channel"
    )
    parser.add_argument(
        "--kle-components", type=int, default=KLE_COMPONENTS, help="KL coefficients kept (32)"
    )
    parser.add_argument(
        "--sequence-dropout",
        type=float,
        default=0.0,
        metavar="P",
        help="share of crops trained with sequences missing (default 0: an ordinary model)",
    )
    parser.add_argument(
        "--keep",
        action="append",
        type=subset,
        metavar="SEQ[,SEQ...]",
        help="a subset a dropped crop may keep, e.g. t1c,t2f (repeatable; default: all)",
    )
    parser.set_defaults(handler=run)


def subset(text: str) -> tuple[str, ...]:
    """``"t1c,flair"`` as canonical sequence keys."""
    try:
        return tuple(canonical_sequence(name.strip()) for name in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
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
        kle=args.kle,
        kle_components=args.kle_components,
        sequence_dropout=args.sequence_dropout,
        keep_subsets=tuple(args.keep or ()),
    )
    result = train_unet(args.data, args.out, config, resume=args.resume)
    if result.rank == 0:
        report(result, args.out)
    return 0

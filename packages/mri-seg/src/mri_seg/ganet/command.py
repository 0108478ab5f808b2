"""``mri-seg train ganet``: GANet-Seg's training command (both stages in one run folder)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mri_seg.commands.train import add_run_options, report
from mri_seg.ganet.config import CLASS_MODES, GANET_PRESETS, WEIGHTINGS, GANetConfig
from mri_seg.ganet.training import train_ganet

DESCRIPTION = """\
Train GANet-Seg. Stage 1 pre-trains an inpainting GAN (U-Net generator, PatchGAN
discriminator) on axial slices of the healthy cases under --healthy (RUN/pretrain; its model
folder RUN/pretrain/last), or takes a trained one with --gan. Stage 2 trains a 2D segmentation
U-Net on the labelled cases under --data: --phase1-epochs with cross-entropy + Dice only, then
with sparsity, size consistency and the adversarial feedback of the frozen GAN (the predicted
mask occludes the slice, the generator fills it in, the discriminator scores it along the
mask's edges), balanced by dynamic weights (--weighting gradient or loss). The best model by
validation Dice goes to RUN/best; `mri-seg predict --model RUN` segments cases slice by slice.
The same command with --resume continues in whichever stage the run stopped (only
--max-minutes and --device may change). --max-minutes bounds stage 2; stage 1 runs its fixed
number of epochs (pre-train once with a separate run and pass it with --gan to split the
time)."""


def register(models: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``ganet`` to ``mri-seg train``."""
    parser = models.add_parser(
        "ganet",
        help="GANet-Seg: 2D U-Net with a pre-trained inpainting GAN's feedback",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--healthy", type=Path, help="healthy cases to pre-train the GAN on")
    source.add_argument("--gan", type=Path, help="a pre-trained GANet-Seg GAN (model folder)")
    parser.add_argument("--preset", choices=sorted(GANET_PRESETS), default="tiny")
    parser.add_argument("--classes", choices=CLASS_MODES, default="whole")
    parser.add_argument("--enhance", action="store_true", help="the paper's enhancement")
    parser.add_argument("--weighting", choices=WEIGHTINGS, default="gradient")
    parser.add_argument(
        "--no-adversarial", action="store_true", help="drop the GAN feedback term (ablation)"
    )
    parser.add_argument("--gan-epochs", type=int, default=10)
    parser.add_argument("--gan-steps-per-epoch", type=int, default=50)
    parser.add_argument("--gan-batch-size", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--phase1-epochs", type=int, default=10)
    parser.add_argument("--steps-per-epoch", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3, help="segmenter's Adam learning rate")
    add_run_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Train both stages and report the best validation Dice."""
    config = GANetConfig(
        preset=args.preset,
        classes=args.classes,
        enhance=args.enhance,
        weighting=args.weighting,
        adversarial=not args.no_adversarial,
        gan_epochs=args.gan_epochs,
        gan_steps_per_epoch=args.gan_steps_per_epoch,
        gan_batch_size=args.gan_batch_size,
        epochs=args.epochs,
        phase1_epochs=args.phase1_epochs,
        steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        val_fraction=args.val_fraction,
        seed=args.seed,
        device=args.device,
        amp=not args.no_amp,
        max_minutes=args.max_minutes,
    )
    result = train_ganet(
        args.data, args.out, config, healthy=args.healthy, gan=args.gan, resume=args.resume
    )
    report(result, args.out)
    return 0

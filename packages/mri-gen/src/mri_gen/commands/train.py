"""``mri-gen train hfgan``: train HF-GAN on a folder of complete cases.

Runs as one process, or under ``torchrun --nproc_per_node=N -m mri_gen train hfgan ...`` as
N data-parallel processes (NCCL on GPUs, gloo on CPUs).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from mri_gen.commands.options import views
from mri_gen.commands.train_ummgat import register_model as register_ummgat
from mri_gen.errors import ConfigError
from mri_gen.hfgan.config import PRESETS, preset
from mri_gen.hfgan.losses import LossWeights
from mri_gen.hfgan.run import RunSpec, train_hfgan
from mri_gen.hfgan.segmenter import FrozenSegmenter
from mri_gen.hfgan.training import TrainConfig
from mri_io import add_device_option
from mri_io.training import init_distributed, shutdown

DESCRIPTION = """\
Train HF-GAN (BraSyn25 thesis recipe) on the complete cases under --data.

Every batch rotates the target over all four sequences, adds a cycle pass, and updates the
discriminator (BCE + sequence CE) after each generator update. The inputs are all other
sequences (--inputs others, the thesis and BraSyn: one sequence missing) or a random subset of
them per slice (--inputs subsets, for cases that may miss two or three sequences).
The run folder gets run.json, log.csv, state.pt (resume with --resume), stats.json and the
model in last/ (config.json + model.safetensors) that `mri-gen complete --model RUN` reads.

Loss weights default to the thesis (l1=10, adv=0.25, cls=0.25, feat=1, cycle=1, ssim=5);
change any with e.g. --losses adv=0,ssim=2. The focal Tversky term (tversky=5) needs
--segmenter DIR (an mri-seg 2D segmenter) and pip install "mri-gen[seg]".

Multi-GPU / multi-process: torchrun --nproc_per_node=N -m mri_gen train hfgan ..."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``train`` with its ``hfgan`` and ``ummgat`` models."""
    train = commands.add_parser("train", help="train a generator", description="Train a generator.")
    models = train.add_subparsers(title="models", metavar="MODEL")
    parser = models.add_parser(
        "hfgan",
        help="HF-GAN as improved in the BraSyn25 thesis",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, required=True, help="folder of training cases")
    parser.add_argument("--out", type=Path, required=True, help="run folder to write")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny", help="model size")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--steps", type=int, default=1000, help="training steps (batches)")
    parser.add_argument("--batch-size", type=int, default=8, help="slices per batch and process")
    parser.add_argument("--lr", type=float, default=5e-4, help="learning rate at batch 64")
    parser.add_argument("--warmup", type=int, default=100, help="warm-up steps")
    parser.add_argument(
        "--image-size", type=int, help="slice side (default: the preset's; 240 for BraTS)"
    )
    parser.add_argument("--views", type=views, default=("axial",), help="e.g. axial,sagittal")
    parser.add_argument("--view-embedding", action="store_true", help="condition on the view")
    parser.add_argument(
        "--inputs",
        choices=("others", "subsets"),
        default="others",
        help="inputs per slice: all other sequences, or a random subset of them",
    )
    parser.add_argument("--losses", default="", help="loss weights, e.g. adv=0,ssim=2")
    parser.add_argument("--segmenter", type=Path, help="mri-seg 2D segmenter for the Tversky term")
    parser.add_argument(
        "--stats", help="intensity statistics: JSON file or 'brasyn25' (default: computed)"
    )
    parser.add_argument("--ema", type=float, help="EMA decay of the generator, e.g. 0.999")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    parser.add_argument("--channels-last", action="store_true", help="channels_last memory")
    parser.add_argument("--compile", action="store_true", help="torch.compile the generator")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    add_device_option(parser)
    parser.add_argument("--workers", type=int, default=0, help="data loading processes")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.add_argument("--checkpoint-every", type=int, default=100, help="steps between saves")
    parser.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard")
    parser.set_defaults(handler=run_train)
    register_ummgat(models)


def run_train(args: argparse.Namespace) -> int:
    """Build the run specification from the options and train."""
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.steps < 1 or args.batch_size < 1:
        raise ConfigError(None, "--steps and --batch-size must be at least 1")
    weights = LossWeights.parse(args.losses)
    if "tversky=" not in args.losses and args.segmenter is not None:
        weights = replace(weights, tversky=5.0)
    model = preset(args.preset)
    if args.image_size:
        model = model.with_image_size(args.image_size)
    if args.view_embedding:
        model = replace(model, generator=replace(model.generator, view_embedding=True))
    train = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        base_lr=args.lr,
        warmup_steps=args.warmup,
        inputs=args.inputs,
        weights=weights,
        ema_decay=args.ema,
        bf16=args.bf16,
        channels_last=args.channels_last,
        compile=args.compile,
        seed=args.seed,
    )
    segmenter = None
    if weights.tversky > 0:
        if args.segmenter is None:
            raise ConfigError(None, "the Tversky term needs --segmenter DIR")
        segmenter = FrozenSegmenter.from_pretrained(args.segmenter)
    spec = RunSpec(
        model,
        train,
        args.views,
        checkpoint_every=args.checkpoint_every,
        workers=args.workers,
        tensorboard=args.tensorboard,
    )
    env = init_distributed(args.device)
    try:
        folder = train_hfgan(
            args.data,
            args.out,
            spec,
            env,
            resume=args.resume,
            stats=args.stats,
            segmenter=segmenter,
        )
    finally:
        shutdown(env)
    if env.is_main:
        print(f"trained {args.steps} steps; model in {folder}")
    return 0

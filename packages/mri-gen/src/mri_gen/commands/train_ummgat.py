"""``mri-gen train ummgat``: train UMMGAT on an unpaired multi-centre cohort.

Registered by :mod:`mri_gen.commands.train` as a model beside ``hfgan``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from mri_gen.errors import ConfigError
from mri_gen.ummgat.config import PRESETS, preset
from mri_gen.ummgat.losses import LossWeights
from mri_gen.ummgat.run import RunSpec, train_ummgat
from mri_gen.ummgat.training import TRAIN_RECIPES
from mri_io import add_device_option
from mri_io.training import init_distributed, shutdown

DESCRIPTION = """\
Train UMMGAT (unpaired multi-centre multi-sequence GAN with the lesion-aware module) on the
cases under --data, which may be incomplete and come from several centres.

Domains are (centre, sequence) pairs found in the data; centres come from the cohort manifest
(cohort.json, as written by `mri-io synthetic`) or --centre. Each patient contributes one
volume of one sequence (assignment.json records which). Losses: non-saturating adversarial +
R1 (gamma 1), style, lesion style, cycle; Adam lr 1e-4, betas (0, 0.99), weight decay 1e-4.
--recipe short is a budget recipe for a CPU (400 steps, lr 4e-4, lazy R1 every 16 steps, EMA
warm-up); --steps, --lr and --ema override either recipe.

The run folder gets run.json, log.csv, state.pt (continue with --resume), assignment.json and
the EMA model in last/ (config.json + model.safetensors) that `mri-gen translate --model RUN`
reads.

Multi-GPU / multi-process: torchrun --nproc_per_node=N -m mri_gen train ummgat ..."""


def register_model(models: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``ummgat`` model to ``mri-gen train``."""
    parser = models.add_parser(
        "ummgat",
        help="UMMGAT (unpaired, multi-centre) with the lesion-aware module",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, required=True, help="folder of training cases")
    parser.add_argument("--out", type=Path, required=True, help="run folder to write")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny", help="model size")
    parser.add_argument("--backbone", choices=("swin", "unet"), help="generator backbone")
    parser.add_argument("--no-lesion", action="store_true", help="train without the LAM")
    parser.add_argument("--centre", help="centre of cases the cohort manifest does not list")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument(
        "--recipe", choices=sorted(TRAIN_RECIPES), default="paper", help="training recipe"
    )
    parser.add_argument("--steps", type=int, help="training iterations (paper: 20000)")
    parser.add_argument("--batch-size", type=int, default=8, help="slices per batch and process")
    parser.add_argument("--lr", type=float, help="Adam learning rate (paper: 1e-4)")
    parser.add_argument(
        "--lr-decay-from",
        type=float,
        help="fraction of the steps after which the learning rate falls linearly to zero "
        "(paper: constant)",
    )
    parser.add_argument("--image-size", type=int, help="slice side (paper: 176)")
    parser.add_argument("--losses", default="", help="loss weights, e.g. lesion=0,cyc=2")
    parser.add_argument("--ema", type=float, help="EMA decay of G, M and E (paper: 0.999)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    add_device_option(parser)
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.add_argument("--checkpoint-every", type=int, default=500, help="steps between saves")
    parser.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard")
    parser.set_defaults(handler=run_train_ummgat)


def run_train_ummgat(args: argparse.Namespace) -> int:
    """Build the run specification from the options and train."""
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = TRAIN_RECIPES[args.recipe]
    overrides = {
        "steps": args.steps,
        "lr": args.lr,
        "ema_decay": args.ema,
        "lr_decay_from": args.lr_decay_from,
    }
    train = replace(
        recipe,
        batch_size=args.batch_size,
        weights=LossWeights.parse(args.losses),
        seed=args.seed,
        **{name: value for name, value in overrides.items() if value is not None},
    )
    if train.steps < 1 or train.batch_size < 1:
        raise ConfigError(None, "--steps and --batch-size must be at least 1")
    model = preset(args.preset)
    if args.image_size:
        model = model.with_image_size(args.image_size)
    if args.backbone:
        model = replace(model, backbone=args.backbone)
    if args.no_lesion:
        model = replace(model, lesion_aware=False)
    spec = RunSpec(
        model,
        train,
        default_centre=args.centre,
        checkpoint_every=args.checkpoint_every,
        tensorboard=args.tensorboard,
    )
    env = init_distributed(args.device)
    try:
        folder = train_ummgat(args.data, args.out, spec, env, resume=args.resume)
    finally:
        shutdown(env)
    if env.is_main:
        print(f"trained {train.steps} steps; model in {folder}")
    return 0

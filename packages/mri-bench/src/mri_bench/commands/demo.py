"""``mri-bench demo``: the main job on a synthetic cohort, from nothing to the report."""

from __future__ import annotations

import argparse
from pathlib import Path

from mri_bench.demo import GENERATOR_RECIPES, DemoSettings, run_demo
from mri_io import add_device_option

DESCRIPTION = """\
Generate a small synthetic cohort, train the tiny 3D U-Net (the fixed segmenter) and the tiny
HF-GAN (the generator) on its training cases, run the 15 missing-sequence scenarios on the
held-out cases with the copy baselines and the generator, and write the report
(OUT/report.md and OUT/report.html). Needs mri-bench[gen,seg]. Training is fixed in steps
(the same models on a loaded or an idle machine); --workers processes of one torch thread
each (set it to the number of cores). The defaults' measured cost and quality:
docs/mri-bench/demo-design.md. Rerunning with the same --out continues where an interrupted
run stopped."""


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    defaults = DemoSettings()
    parser = commands.add_parser(
        "demo",
        help="synthetic cohort -> train segmenter and generator -> benchmark -> report",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--train-cases", type=int, default=defaults.n_train)
    parser.add_argument("--test-cases", type=int, default=defaults.n_test)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--voxel-mm", type=int, default=defaults.voxel_mm, help="grid voxel size")
    parser.add_argument(
        "--anatomy",
        choices=("mni", "procedural"),
        default=defaults.anatomy,
        help="MNI152 template brains (needs mri-io[synthetic]) or the procedural phantom",
    )
    parser.add_argument("--segmenter-epochs", type=int, default=defaults.segmenter_epochs)
    parser.add_argument(
        "--segmenter-steps",
        type=int,
        default=defaults.segmenter_steps,
        help="U-Net optimiser steps per epoch (it trains epochs x steps)",
    )
    parser.add_argument(
        "--segmenter-lr",
        type=float,
        default=defaults.segmenter_lr,
        help="U-Net learning rate (Adam, cosine schedule)",
    )
    parser.add_argument(
        "--generator-steps",
        type=int,
        default=defaults.generator_steps,
        help="HF-GAN optimiser steps",
    )
    parser.add_argument(
        "--generator-recipe",
        choices=GENERATOR_RECIPES,
        default=defaults.generator_recipe,
        help="HF-GAN's losses: whole-brain (L1 and SSIM over the brain, one pass, no "
        "discriminator), reconstruction (the same with the dual SSIM, healthy tissue and tumour "
        "weighted equally) or thesis (also adversarial, class, cycle and feature terms; about "
        "twice the cost per step)",
    )
    parser.add_argument(
        "--baselines",
        type=_names,
        default=defaults.strategies,
        help="baseline strategies beside the generator (copy, copy-matched, zero, mean)",
    )
    parser.add_argument("--workers", type=int, default=defaults.workers)
    add_device_option(parser, defaults.device)
    parser.add_argument(
        "--presets",
        choices=("tiny", "paper"),
        default="tiny",
        help="network sizes: tiny (CPU) or the papers' (brats U-Net, paper HF-GAN; GPU)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.train_cases < 3:
        raise ValueError(f"--train-cases must be at least 3 (got {args.train_cases})")
    if args.test_cases < 2:
        raise ValueError(f"--test-cases must be at least 2 (got {args.test_cases})")
    settings = DemoSettings(
        n_train=args.train_cases,
        n_test=args.test_cases,
        seed=args.seed,
        voxel_mm=args.voxel_mm,
        anatomy=args.anatomy,
        segmenter_epochs=args.segmenter_epochs,
        segmenter_steps=args.segmenter_steps,
        segmenter_lr=args.segmenter_lr,
        generator_steps=args.generator_steps,
        generator_recipe=args.generator_recipe,
        strategies=args.baselines,
        workers=args.workers,
        device=args.device,
        segmenter_preset="tiny" if args.presets == "tiny" else "brats",
        generator_preset=args.presets,
    )
    report = run_demo(args.out, settings)
    print(f"report: {report}")
    return 0

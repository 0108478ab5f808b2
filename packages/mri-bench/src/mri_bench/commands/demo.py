"""``mri-bench demo``: the main job on the bundled synthetic cohort."""

from __future__ import annotations

import argparse
from pathlib import Path

from mri_bench.demo import DemoSettings, run_demo


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "demo",
        help="generate a synthetic cohort, complete missing sequences, score and report",
        description=(
            "Generate a small multi-centre synthetic cohort, remove each sequence of every "
            "held-out case in turn, complete it with the copy strategies, score the completion "
            "against the real sequence and write report.md with tables and figures."
        ),
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--cases", type=int, default=DemoSettings.n_cases, help="cohort size")
    parser.add_argument("--seed", type=int, default=DemoSettings.seed)
    parser.add_argument("--grid", choices=("half", "full"), default=DemoSettings.grid)
    parser.add_argument(
        "--anatomy",
        choices=("mni", "procedural"),
        default=DemoSettings.anatomy,
        help="MNI152 template brains (needs mri-io[synthetic]) or the procedural phantom",
    )
    parser.add_argument("--workers", type=int, default=DemoSettings.workers)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.cases < 4:
        raise ValueError(f"--cases must be at least 4 (got {args.cases})")
    settings = DemoSettings(
        n_cases=args.cases,
        seed=args.seed,
        grid=args.grid,
        anatomy=args.anatomy,
        workers=args.workers,
    )
    report = run_demo(args.out, settings)
    print(f"report: {report}")
    return 0

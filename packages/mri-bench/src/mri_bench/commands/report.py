"""``mri-bench report DIR``: (re)write the report of a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from mri_bench.report import write_report


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "report",
        help="write report.md/html, figures, CSV and JSON of a run folder",
        description=(
            "Read DIR/results.sqlite and DIR/config.json and write report.md, report.html "
            "(one file, figures embedded), paired.png (per-case differences to the baseline), "
            "ranks.png (critical-difference diagrams), slices.png, results.csv, summary.json "
            "and provenance.json into DIR."
        ),
    )
    parser.add_argument("run", type=Path, help="run folder of `mri-bench run` or `merge`")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    print(f"report: {write_report(args.run)}")
    return 0

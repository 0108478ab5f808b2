"""The ``mri-bench`` command line."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from mri_bench.__about__ import __version__
from mri_io.cli_support import make_parser, run

DESCRIPTION = """\
Run the missing-sequence and cross-centre benchmark and report it.
Run `mri-bench COMMAND --help` for the options of one command."""

#: Sub-command modules under ``mri_bench.commands``; each has ``register(commands)``.
COMMANDS = ("run", "report", "scenarios", "merge", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("mri-bench", DESCRIPTION, __version__)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"mri_bench.commands.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mri-bench`` console script."""
    return run(build_parser(), argv)

"""The ``mri-io`` command line."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from mri_io.__about__ import __version__
from mri_io.cli_support import make_parser, run

DESCRIPTION = """\
Inspect, discover, normalise and slice brain-tumour MRI in NIfTI and BraTS layouts.
Run `mri-io COMMAND --help` for the options of one command."""

#: Sub-command modules under ``mri_io.commands``; each has ``register(commands)``.
COMMANDS = ("info", "scan", "normalise", "stats", "cohort", "conform")


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("mri-io", DESCRIPTION, __version__)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"mri_io.commands.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mri-io`` console script."""
    return run(build_parser(), argv)

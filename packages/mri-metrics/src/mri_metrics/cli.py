"""The ``mri-metrics`` command line.

Built on :mod:`mri_io.cli_support` like every other tool of the suite: one line on stderr and
exit status 2 for bad input. ``OSError`` and ``ImportError`` count as bad input here too: an
unreadable output path or a missing ``[torch]`` extra is something the user fixes, not a bug.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from mri_io.cli_support import make_parser, run
from mri_metrics.__about__ import __version__

DESCRIPTION = """\
Score brain-tumour segmentations and synthesised images.
Run `mri-metrics COMMAND --help` for the options of one command."""

#: Sub-command modules under ``mri_metrics.commands``; each has ``register(commands)``.
COMMANDS = ("seg", "image")


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("mri-metrics", DESCRIPTION, __version__)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"mri_metrics.commands.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mri-metrics`` console script."""
    return run(build_parser(), argv, user_errors=(OSError, ImportError))

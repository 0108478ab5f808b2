"""The ``mri-metrics`` command line.

mri-metrics does not depend on mri-io (reading files is the ``io`` extra), so it carries its
own small argument handling with the same conventions as the other tools: one line on stderr
and exit status 2 for bad input.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from mri_metrics.__about__ import __version__

DESCRIPTION = """\
Score brain-tumour segmentations and synthesised images.
Run `mri-metrics COMMAND --help` for the options of one command."""

EXIT_BAD_INPUT = 2

#: Sub-command modules under ``mri_metrics.commands``; each has ``register(commands)``.
COMMANDS = ("seg", "image")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mri-metrics",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"mri_metrics.commands.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mri-metrics`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return handler(args)
    except (ValueError, OSError, ImportError) as exc:
        if os.environ.get("MRI_SUITE_DEBUG"):
            raise
        print(f"mri-metrics: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT

"""The ``mri-seg`` command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from mri_io.cli_support import make_parser, run
from mri_seg.__about__ import __version__

DESCRIPTION = """\
Train brain-tumour segmenters and segment cases.
Run `mri-seg COMMAND --help` for the options of one command."""


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("mri-seg", DESCRIPTION, __version__)
    parser.add_subparsers(title="commands", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mri-seg`` console script."""
    return run(build_parser(), argv)

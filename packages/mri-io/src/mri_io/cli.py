"""The ``mri-io`` command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from mri_io.__about__ import __version__
from mri_io.cli_support import make_parser, run

DESCRIPTION = """\
Inspect, discover, normalise and slice brain-tumour MRI in NIfTI and BraTS layouts.
Run `mri-io COMMAND --help` for the options of one command."""


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("mri-io", DESCRIPTION, __version__)
    parser.add_subparsers(title="commands", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mri-io`` console script."""
    return run(build_parser(), argv)

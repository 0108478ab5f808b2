"""The ``mri-gen`` command line."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from mri_gen.__about__ import __version__
from mri_gen.errors import MissingExtraError
from mri_io.cli_support import make_parser, run

DESCRIPTION = """\
Synthesise missing MRI sequences with HF-GAN and UMMGAT.
Run `mri-gen COMMAND --help` for the options of one command."""

#: Sub-command modules under ``mri_gen.commands``; each has ``register(commands)``.
COMMANDS = ("train", "complete", "translate")


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("mri-gen", DESCRIPTION, __version__)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"mri_gen.commands.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mri-gen`` console script."""
    return run(build_parser(), argv, user_errors=(MissingExtraError,))

"""The ``mri-seg`` command line."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from mri_io.cli_support import make_parser, run
from mri_seg.__about__ import __version__

DESCRIPTION = """\
Train brain-tumour segmenters and segment cases.
Run `mri-seg COMMAND --help` for the options of one command."""

#: Sub-command modules under ``mri_seg.commands``; each has ``register(commands)``.
COMMANDS = ("train", "predict", "ganet_thresholds")


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("mri-seg", DESCRIPTION, __version__)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"mri_seg.commands.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mri-seg`` console script.

    A missing optional dependency (``--tensorboard`` without tensorboard) is a user error: its
    message says which ``pip install`` to run.
    """
    return run(build_parser(), argv, user_errors=(ImportError,))

"""Exceptions raised by mri-gen.

They derive from :class:`mri_io.errors.MriIoError`, so each names the file or folder at fault
and the command line prints it as one line.
"""

from __future__ import annotations

from mri_io.errors import MriIoError


class MriGenError(MriIoError):
    """Base class of every mri-gen error about user input."""


class ConfigError(MriGenError, ValueError):
    """A model or training configuration is inconsistent or unreadable."""


class CheckpointError(MriGenError):
    """A weights or training-state file is missing, damaged or belongs to another model."""


class NothingToSynthesiseError(MriGenError):
    """A case cannot be completed: every sequence is missing, or none is."""


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the ``pip install`` to run."""

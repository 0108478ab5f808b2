"""Exceptions raised by mri-gen, all in this one module.

They derive from :class:`MriGenError`, itself a :class:`mri_io.MriSuiteError`, so each names
the file or folder at fault, the command line prints it as one line, and one ``except`` catches
the whole suite's bad-input errors. :class:`MissingExtraError` is the exception: it is an
``ImportError``, because a missing optional dependency is a broken install, not bad input.
"""

from __future__ import annotations

import mri_io


class MriGenError(mri_io.MriSuiteError):
    """Base class of every mri-gen error about user input."""


class ConfigError(MriGenError, mri_io.ConfigError):
    """A model or training configuration is inconsistent or unreadable."""


class CheckpointError(MriGenError):
    """A weights or training-state file is missing, damaged or belongs to another model."""


class NothingToSynthesiseError(MriGenError):
    """A case cannot be completed: every sequence is missing, or none is."""


class NonFiniteOutputError(MriGenError, mri_io.NonFiniteError):
    """A generator produced NaN or infinite voxels (damaged weights, a diverged model); nothing
    is written for that case."""


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the ``pip install`` to run."""

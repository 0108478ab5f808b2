"""Exceptions raised by mri-seg about user input (model folders, cases, options).

They derive from :class:`MriSegError`, itself a :class:`mri_io.MriSuiteError`, so they name the
offending file or folder, the command line prints them as one line (see
:mod:`mri_io.cli_support`), and one ``except`` catches the whole suite's bad-input errors.
"""

from __future__ import annotations

import mri_io


class MriSegError(mri_io.MriSuiteError):
    """Base class of every mri-seg error about user input."""


class ModelFileError(MriSegError):
    """A model folder lacks ``config.json``/``model.safetensors`` or they do not agree."""


class TrainingDataError(MriSegError):
    """A training cohort cannot be used (too few cases, no segmentation, missing sequences)."""

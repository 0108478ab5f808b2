"""Exceptions raised by mri-seg about user input (model folders, cases, options).

They subclass :class:`mri_io.errors.MriIoError`, so they name the offending file or folder and
the command line prints them as one line (see :mod:`mri_io.cli_support`).
"""

from __future__ import annotations

from mri_io.errors import MriIoError


class ModelFileError(MriIoError):
    """A model folder lacks ``config.json``/``model.safetensors`` or they do not agree."""


class TrainingDataError(MriIoError):
    """A training cohort cannot be used (too few cases, no segmentation, missing sequences)."""

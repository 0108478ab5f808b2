"""Exceptions raised by mri-io.

Every problem with a user's file is a subclass of :class:`MriIoError` that names the file and
what is wrong with it, so a command-line tool can print one line and exit non-zero, and a
library user can catch exactly the failure they care about.
"""

from __future__ import annotations

from os import PathLike


class MriIoError(Exception):
    """Base class of every error about user data; ``path`` is the offending file or folder."""

    def __init__(self, path: str | PathLike[str] | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class NotNiftiError(MriIoError):
    """The file is not a single-file NIfTI-1 image (wrong magic, wrong header size)."""


class CorruptFileError(MriIoError):
    """The file starts like a NIfTI image but cannot be read whole (truncated gzip, short data)."""


class DimensionError(MriIoError):
    """The image is not one 3D volume (2D, 5D, or 4D with more than one volume)."""


class NonFiniteError(MriIoError):
    """The image holds NaN or infinite values."""


class DataTypeError(MriIoError):
    """The values cannot be stored exactly in the requested data type (e.g. 3.5 as uint8)."""


class GeometryMismatchError(MriIoError):
    """Images of one case differ in shape or affine, so their voxels do not correspond."""


class LabelError(MriIoError):
    """A segmentation holds labels that its label profile does not define."""


class MissingSequenceError(MriIoError):
    """A sequence that the caller requires is absent from a case."""


class LayoutError(MriIoError):
    """A folder does not follow any dataset layout that mri-io understands."""


class UnknownNameError(MriIoError, ValueError):
    """A name (sequence, label profile, layout) is not one that mri-io knows."""


class ModelFolderError(MriIoError):
    """A saved model folder lacks ``config.json`` or ``model.safetensors``, or one is damaged."""


class RunFolderError(MriIoError):
    """A training run folder cannot be started or resumed: it holds another run, its settings
    differ, or its state or log is damaged."""

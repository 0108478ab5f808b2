"""Exceptions of the whole suite: the root every package's errors derive from, and mri-io's own.

Every problem with a user's file, folder, option or configuration is a subclass of
:class:`MriSuiteError` that names the file (when there is one) and what is wrong with it, so
every command line prints one line and exits 2 (see :mod:`mri_io.cli_support`), and a library
user can catch the whole suite's bad-input errors with one ``except``, one package's with its
family base (:class:`MriIoError`, ``MriGenError``, ``MriSegError``, ``MetricInputError``,
``MriBenchError``), or exactly the failure they care about.

A concept that several packages raise has one class here (:class:`ConfigError`,
:class:`NonFiniteError`); a package that raises it subclasses it under its own family base, so
``except mri_io.ConfigError`` catches every configuration error of the suite.
"""

from __future__ import annotations

from os import PathLike
from typing import Any


class MriSuiteError(Exception):
    """Root of every mri-suite error about user input; ``path`` is the file at fault, if any."""

    def __init__(self, path: str | PathLike[str] | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions cross process boundaries pickled (a worker pool scoring or reading cases):
        # the default rebuilds them from ``args`` (the one-line message), which fits neither
        # this constructor nor a subclass's, so rebuild from the fields whatever the subclass.
        return _restore, (type(self), self.path, self.problem, self.__dict__)


def _restore(
    cls: type[MriSuiteError], path: str | None, problem: str, state: dict[str, Any]
) -> MriSuiteError:
    """Unpickle an error without calling a subclass's constructor (see ``__reduce__``)."""
    error = cls.__new__(cls)
    MriSuiteError.__init__(error, path, problem)
    error.__dict__.update(state)
    return error


class ConfigError(MriSuiteError, ValueError):
    """A configuration (a model's, a training run's, a benchmark's) is inconsistent or unreadable.

    The packages raise their own subclass (``mri_gen.ConfigError``, ``mri_bench.ConfigError``).
    """


class MriIoError(MriSuiteError):
    """Base class of every mri-io error about user data."""


class NotNiftiError(MriIoError):
    """The file is not a single-file NIfTI-1 image (wrong magic, wrong header size)."""


class CorruptFileError(MriIoError):
    """The file starts like a NIfTI image but cannot be read whole (truncated gzip, short data)."""


class DimensionError(MriIoError):
    """The image is not one 3D volume (2D, 5D, or 4D with more than one volume)."""


class NonFiniteError(MriIoError):
    """An image holds NaN or infinite values (mri-metrics raises a subclass for arrays)."""


class ImageTooLargeError(MriIoError):
    """The header declares more image data than the configured limit allows (a gzip bomb, or a
    volume far beyond any MRI); the file is refused before it is decompressed whole."""


class AffineError(MriIoError, ValueError):
    """An image's affine is not a finite, invertible 4x4 matrix."""


class OutputCollisionError(MriIoError):
    """An output would overwrite an input, land inside the input tree, or collide with another
    output (two cases with one id)."""


class DataTypeError(MriIoError):
    """The values cannot be stored exactly in the requested data type (e.g. 3.5 as uint8)."""


class GeometryMismatchError(MriIoError):
    """Images of one case differ in shape or affine, so their voxels do not correspond."""


class LabelError(MriIoError):
    """A segmentation holds labels that its label convention does not define."""


class MissingSequenceError(MriIoError):
    """A sequence that the caller requires is absent from a case."""


class LayoutError(MriIoError):
    """A folder does not follow any dataset layout that mri-io understands."""


class UnknownNameError(MriIoError, ValueError):
    """A name (sequence, label convention, layout) is not one that mri-io knows."""


class ModelFolderError(MriIoError):
    """A saved model folder lacks ``config.json`` or ``model.safetensors``, or one is damaged."""


class RunFolderError(MriIoError):
    """A training run folder cannot be started or resumed: it holds another run, its settings
    differ, or its state or log is damaged."""


class StatsFileError(MriIoError):
    """A statistics JSON file is missing, unreadable or does not hold valid statistics."""


class EmptyCohortError(MriIoError):
    """A sequence has no foreground voxel in any case, so it has no statistics."""


class NormaliseInputError(MriIoError):
    """The cohort or the statistics cannot be normalised as asked."""

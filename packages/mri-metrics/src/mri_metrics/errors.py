"""Exceptions for inputs a metric cannot score, all in this one module.

All subclass :class:`MetricInputError`, which is both a ``ValueError`` (what numerical code
expects of a bad argument) and a :class:`mri_io.MriSuiteError` (the root of every mri-suite
error), so callers can catch every bad-input case at once, the whole suite's with one
``except``, while tests and the command line can tell them apart. Metrics are called on
arrays, not files, so these take the message alone; the message says which input is at fault.
"""

from __future__ import annotations

import mri_io


class MetricInputError(mri_io.MriSuiteError, ValueError):
    """An input a metric cannot score; the message says which input and why."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


class ShapeMismatchError(MetricInputError):
    """Prediction and reference (or image and mask) differ in shape."""


class NotBinaryError(MetricInputError):
    """A mask was required but the array holds values other than 0/1 (or False/True)."""


class NonFiniteError(MetricInputError, mri_io.NonFiniteError):
    """An image holds NaN or infinity.

    The same concept as :class:`mri_io.NonFiniteError` (raised for a file), so it subclasses it:
    ``except mri_io.NonFiniteError`` catches a non-finite image wherever the suite finds one.
    """


class UnknownLabelError(MetricInputError):
    """A label map holds labels that the chosen label map does not define."""


class EmptyMaskError(MetricInputError):
    """The chosen profile's peer refuses to score an empty mask (e.g. MedPy's ``hd95``)."""

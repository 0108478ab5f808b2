"""Exceptions for inputs a metric cannot score.

All subclass :class:`MetricInputError`, itself a ``ValueError``, so callers can catch every
bad-input case at once while tests and the command line can tell them apart.
"""

from __future__ import annotations


class MetricInputError(ValueError):
    """An input a metric cannot score; the message says which input and why."""


class ShapeMismatchError(MetricInputError):
    """Prediction and reference (or image and mask) differ in shape."""


class NotBinaryError(MetricInputError):
    """A mask was required but the array holds values other than 0/1 (or False/True)."""


class NonFiniteError(MetricInputError):
    """An image holds NaN or infinity."""


class UnknownLabelError(MetricInputError):
    """A label map holds labels that the chosen profile does not define."""

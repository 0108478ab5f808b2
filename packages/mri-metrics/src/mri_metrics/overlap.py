"""Voxel-overlap metrics on boolean masks: Dice, IoU, sensitivity, specificity, volume difference.

Every metric is a ratio of integer voxel counts, computed once by :func:`confusion_counts` with
exact integer arithmetic, so the results are exactly the float64 rounding of the true fraction.

A ratio whose denominator is zero (Dice or IoU of two empty masks, sensitivity of an empty
reference, ...) is undefined. Peers answer 0, 1 or NaN there; the ``empty`` argument says which
number to return and defaults to NaN so that an undefined value is never averaged in silently.
A ratio with a non-zero denominator is always computed, e.g. Dice is 0.0 when exactly one mask
is empty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from mri_metrics._inputs import as_mask, as_spacing, check_same_shape

__all__ = [
    "ConfusionCounts",
    "confusion_counts",
    "dice",
    "iou",
    "sensitivity",
    "specificity",
    "volume_difference",
]


class ConfusionCounts(NamedTuple):
    """Voxel counts of a prediction against a reference (Python ints: no overflow)."""

    tp: int
    fp: int
    fn: int
    tn: int


def confusion_counts(pred: npt.ArrayLike, ref: npt.ArrayLike) -> ConfusionCounts:
    """Count true/false positives and negatives of mask ``pred`` against mask ``ref``.

    Raises:
        NotBinaryError: either input holds values other than 0/1.
        ShapeMismatchError: the shapes differ.
    """
    p = as_mask(pred, "pred")
    r = as_mask(ref, "ref")
    check_same_shape(p, r, ("pred", "ref"))
    n_pred = int(np.count_nonzero(p))
    n_ref = int(np.count_nonzero(r))
    tp = int(np.count_nonzero(np.logical_and(p, r)))
    fp = n_pred - tp
    fn = n_ref - tp
    return ConfusionCounts(tp=tp, fp=fp, fn=fn, tn=p.size - tp - fp - fn)


def _ratio(numerator: int, denominator: int, empty: float) -> float:
    return numerator / denominator if denominator else float(empty)


def dice(pred: npt.ArrayLike, ref: npt.ArrayLike, *, empty: float = math.nan) -> float:
    """Dice similarity coefficient ``2|P∩R| / (|P| + |R|)``; ``empty`` when both masks are empty."""
    c = confusion_counts(pred, ref)
    return _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn, empty)


def iou(pred: npt.ArrayLike, ref: npt.ArrayLike, *, empty: float = math.nan) -> float:
    """Intersection over union (Jaccard) ``|P∩R| / |P∪R|``; ``empty`` when both are empty."""
    c = confusion_counts(pred, ref)
    return _ratio(c.tp, c.tp + c.fp + c.fn, empty)


def sensitivity(pred: npt.ArrayLike, ref: npt.ArrayLike, *, empty: float = math.nan) -> float:
    """Sensitivity (recall) ``|P∩R| / |R|``; ``empty`` when the reference is empty."""
    c = confusion_counts(pred, ref)
    return _ratio(c.tp, c.tp + c.fn, empty)


def specificity(pred: npt.ArrayLike, ref: npt.ArrayLike, *, empty: float = math.nan) -> float:
    """Specificity ``|¬P∩¬R| / |¬R|``; ``empty`` when the reference fills the whole array.

    In a brain volume the background is huge, so specificity is close to 1 for almost any
    prediction; it is reported for completeness, not to rank segmentations.
    """
    c = confusion_counts(pred, ref)
    return _ratio(c.tn, c.tn + c.fp, empty)


def volume_difference(
    pred: npt.ArrayLike,
    ref: npt.ArrayLike,
    *,
    spacing: float | Sequence[float] | None = None,
    relative: bool = False,
    empty: float = math.nan,
) -> float:
    """Signed volume difference ``V(P) - V(R)``: positive when the prediction is too large.

    Absolute differences are in mm^3 (voxel volume from ``spacing``; 1 mm isotropic when
    ``None``). With ``relative=True`` the difference is divided by ``V(R)``, a unitless
    fraction, and ``empty`` is returned when the reference is empty.
    """
    c = confusion_counts(pred, ref)
    delta = c.fp - c.fn
    if relative:
        return _ratio(delta, c.tp + c.fn, empty)
    voxel_volume = math.prod(as_spacing(spacing, np.ndim(pred)))
    return delta * voxel_volume

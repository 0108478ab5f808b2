"""Validation shared by every metric: masks, shapes, voxel spacing and finiteness.

Metrics trust their inputs once these checks pass, so each check fails loudly with the input's
name and the exact problem (a stray label value, a transposed volume, a zero spacing) instead of
letting a wrong number through.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from mri_metrics.errors import (
    MetricInputError,
    NonFiniteError,
    NotBinaryError,
    ShapeMismatchError,
)

__all__ = ["as_mask", "as_spacing", "check_finite", "check_same_shape"]

BoolArray = npt.NDArray[np.bool_]


def as_mask(array: npt.ArrayLike, name: str) -> BoolArray:
    """Return ``array`` as a boolean mask, refusing anything that is not strictly 0/1.

    Label maps (values 0..4) and probability maps are common mistakes; silently thresholding
    them would score the wrong region, so any value other than 0, 1, False or True raises.

    Raises:
        NotBinaryError: ``array`` holds other values (NaN included), or is 0-dimensional.
    """
    values = np.asarray(array)
    if values.ndim == 0:
        raise NotBinaryError(f"{name}: expected an array mask, got a scalar")
    if values.dtype == np.bool_:
        return values
    if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
        raise NotBinaryError(
            f"{name}: expected a boolean or numeric mask, got dtype {values.dtype}"
        )
    mask = values == 1
    stray = ~(mask | (values == 0))
    if stray.any():
        found = np.unique(values[stray])[:5]
        shown = ", ".join(str(v) for v in found.tolist())
        raise NotBinaryError(
            f"{name}: a mask may hold only 0 and 1, found {int(stray.sum())} voxels with other "
            f"values (e.g. {shown}); select a region from the label map first"
        )
    return np.asarray(mask, dtype=np.bool_)


def check_same_shape(a: npt.ArrayLike, b: npt.ArrayLike, names: tuple[str, str]) -> None:
    """Raise :class:`ShapeMismatchError` unless ``a`` and ``b`` have the same shape.

    ``names`` name the two inputs in the message, e.g. ``("pred", "ref")``.
    """
    shape_a, shape_b = np.shape(a), np.shape(b)
    if shape_a != shape_b:
        raise ShapeMismatchError(
            f"{names[0]} has shape {shape_a} but {names[1]} has shape {shape_b}; "
            "they must match voxel for voxel"
        )


def as_spacing(
    spacing: float | Sequence[float] | npt.ArrayLike | None, ndim: int
) -> tuple[float, ...]:
    """Return the voxel spacing as ``ndim`` positive finite floats (mm per voxel along each axis).

    ``None`` means 1 mm isotropic, a single number is used for every axis, and a sequence must
    give one value per array axis in the array's own axis order (as nibabel's ``header.get_zooms()``
    does for the first ``ndim`` axes).

    Raises:
        MetricInputError: wrong number of values, or a value that is zero, negative or not finite.
    """
    if spacing is None:
        return (1.0,) * ndim
    values = np.asarray(spacing, dtype=np.float64)
    if values.ndim == 0:
        values = np.full(ndim, float(values))
    if values.ndim != 1 or values.size != ndim:
        raise MetricInputError(
            f"spacing: expected one value per axis ({ndim}), got {np.asarray(spacing).tolist()}"
        )
    result = tuple(float(v) for v in values)
    if not all(math.isfinite(v) and v > 0 for v in result):
        raise MetricInputError(f"spacing: every value must be positive and finite, got {result}")
    return result


def check_finite(array: npt.ArrayLike, name: str) -> None:
    """Raise :class:`NonFiniteError` if ``array`` holds NaN or infinity, saying how many."""
    values = np.asarray(array)
    if not np.issubdtype(values.dtype, np.inexact):
        return
    bad = ~np.isfinite(values)
    if bad.any():
        n_nan = int(np.isnan(values).sum())
        raise NonFiniteError(
            f"{name}: holds {int(bad.sum())} non-finite values ({n_nan} NaN, "
            f"{int(bad.sum()) - n_nan} infinite)"
        )

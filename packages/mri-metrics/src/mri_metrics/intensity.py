"""Voxel-wise intensity errors (MSE, MAE, PSNR) restricted to a region of interest.

Skull-stripped MRI is mostly zero background on which every synthesis model is trivially right,
so a whole-volume error mostly measures how much background the volume has. These functions
average over the voxels of a mask (brain, tumour, healthy tissue) only; without a mask they use
the whole array.

PSNR needs the dynamic range of the signal. It is never guessed silently from the prediction:
``data_range=None`` takes the range (max - min) of the *reference* over the scored voxels, and
the value used is part of the documented definition, so two results are comparable only when
they use the same rule.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from mri_metrics._inputs import as_mask, check_finite, check_same_shape
from mri_metrics.errors import MetricInputError

__all__ = ["mae", "mse", "psnr", "scored_values"]

FloatArray = npt.NDArray[np.float64]


def scored_values(
    pred: npt.ArrayLike, ref: npt.ArrayLike, mask: npt.ArrayLike | None = None
) -> tuple[FloatArray, FloatArray]:
    """Validate an image pair (and mask) and return the float64 voxels to score, in mask order.

    Raises:
        ShapeMismatchError: ``pred``, ``ref`` and ``mask`` differ in shape.
        NonFiniteError: an image holds NaN or infinity.
        NotBinaryError: ``mask`` holds values other than 0/1.
        MetricInputError: an image is empty or the mask selects no voxel.
    """
    pred_arr = np.asarray(pred)
    ref_arr = np.asarray(ref)
    check_same_shape(pred_arr, ref_arr, ("pred", "ref"))
    if pred_arr.size == 0:
        raise MetricInputError("pred and ref are empty arrays; there is nothing to score")
    check_finite(pred_arr, "pred")
    check_finite(ref_arr, "ref")
    if mask is None:
        return pred_arr.astype(np.float64).ravel(), ref_arr.astype(np.float64).ravel()
    mask_arr = as_mask(mask, "mask")
    check_same_shape(mask_arr, ref_arr, ("mask", "ref"))
    if not mask_arr.any():
        raise MetricInputError(
            "mask selects no voxel; an average over an empty region is undefined"
        )
    return pred_arr[mask_arr].astype(np.float64), ref_arr[mask_arr].astype(np.float64)


def mse(pred: npt.ArrayLike, ref: npt.ArrayLike, *, mask: npt.ArrayLike | None = None) -> float:
    """Mean squared error over the voxels of ``mask`` (all voxels if ``None``), in float64."""
    p, r = scored_values(pred, ref, mask)
    diff = p - r
    return float(np.mean(diff * diff))


def mae(pred: npt.ArrayLike, ref: npt.ArrayLike, *, mask: npt.ArrayLike | None = None) -> float:
    """Mean absolute error over the voxels of ``mask`` (all voxels if ``None``), in float64."""
    p, r = scored_values(pred, ref, mask)
    return float(np.mean(np.abs(p - r)))


def resolve_data_range(data_range: float | None, ref_values: npt.NDArray[Any]) -> float:
    """Return the explicit ``data_range``, or the reference's max - min when it is ``None``.

    Raises:
        MetricInputError: the range is not positive and finite (e.g. a constant reference).
    """
    if data_range is None:
        # In float64: max - min in an integer image's own dtype can wrap around.
        value = float(np.max(ref_values)) - float(np.min(ref_values))
    else:
        value = data_range
    if not (math.isfinite(value) and value > 0):
        source = "the reference's max - min" if data_range is None else "data_range"
        raise MetricInputError(
            f"{source} is {value}; PSNR and SSIM need a positive dynamic range "
            "(pass data_range explicitly for a constant reference)"
        )
    return value


def psnr(
    pred: npt.ArrayLike,
    ref: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = None,
    data_range: float | None = None,
) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(data_range² / MSE)`` over the mask.

    ``data_range=None`` uses the reference's max - min over the scored voxels (not the
    prediction's, which would let a prediction's outliers change its own score). Identical
    images give ``inf``.
    """
    p, r = scored_values(pred, ref, mask)
    peak = resolve_data_range(data_range, r)
    diff = p - r
    error = float(np.mean(diff * diff))
    if error == 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / error)

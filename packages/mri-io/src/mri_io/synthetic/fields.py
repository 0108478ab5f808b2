"""Smooth random fields: the raw material of warps, bias fields, folds and texture.

A field with a correlation length of several voxels carries little information per voxel, so it
is drawn as white noise on a coarse lattice (two lattice points per correlation length),
smoothed there, and interpolated linearly up to the target shape. That costs a few operations
per output voxel instead of a large Gaussian filter, which is what keeps a full-size case fast.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

FloatArray = NDArray[np.float32]


def smooth_field(
    rng: np.random.Generator,
    shape: Sequence[int],
    spacing: Sequence[float] | NDArray[np.float64],
    correlation_mm: float,
) -> FloatArray:
    """A zero-mean, unit-variance random field with features about ``correlation_mm`` wide.

    ``spacing`` is the voxel size (mm) of the output along each axis. The result is float32 of
    ``shape``; the same generator state gives the same field.
    """
    if correlation_mm <= 0:
        raise ValueError(f"correlation length must be positive, got {correlation_mm}")
    step = correlation_mm / 2.0
    coarse = tuple(
        max(4, int(np.ceil(n * s / step)) + 1) for n, s in zip(shape, spacing, strict=True)
    )
    noise = rng.standard_normal(coarse).astype(np.float32)
    field: FloatArray = ndimage.gaussian_filter(noise, sigma=1.0, mode="wrap")
    for axis, n in enumerate(shape):
        field = _upsample_linear(field, axis, n)
    field -= field.mean()
    std = float(field.std())
    if std > 0:
        field /= std
    return field


def _upsample_linear(values: FloatArray, axis: int, n: int) -> FloatArray:
    """Linear interpolation of ``values`` to ``n`` samples along ``axis``, ends aligned.

    One axis at a time, with two gathers and a weighted sum, this is several times faster
    than ``scipy.ndimage.zoom`` for the large upsampling factors of smooth fields.
    """
    m = values.shape[axis]
    if m == n:
        return values
    position = np.linspace(0.0, m - 1, n, dtype=np.float64)
    lower = np.minimum(position.astype(np.intp), m - 2)
    weight = (position - lower).astype(np.float32)
    weight = weight.reshape([n if a == axis else 1 for a in range(values.ndim)])
    below: FloatArray = np.take(values, lower, axis=axis)
    above: FloatArray = np.take(values, lower + 1, axis=axis)
    upsampled: FloatArray = below + weight * (above - below)
    return upsampled

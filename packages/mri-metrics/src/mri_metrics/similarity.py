"""Structural similarity (SSIM) of 2D and 3D images, averaged over a region of interest.

SSIM (Wang et al. 2004) is a *local* measure: every voxel gets a score from the Gaussian-weighted
means, variances and covariance of its neighbourhood, and a single number is an average of that
map. On skull-stripped MRI most of the map lies on zero background, where any two images agree
perfectly, so averaging the whole map (the usual practice, and BraSyn's) reports ~0.99 even for
a tumour filled with random numbers. The default here averages the map over the voxels of a mask
only (brain, tumour or healthy tissue; see :func:`scoring_mask`), which restores the metric's range.

Profiles reproduce the peers' conventions exactly:

- ``"mri-suite"`` (default): mean of the map over ``mask``; without a mask, over the voxels
  whose window lies inside the image (the two agree when the mask is the whole interior).
- ``"skimage"`` / ``"monai"``: mean over the interior voxels (skimage crops ``(win_size-1)/2``
  voxels per side, MONAI convolves without padding: the same set). skimage's own default is the
  sample covariance (``use_sample_covariance=True``); pass ``sample_covariance=True`` for it.
  MONAI's ``SSIMMetric`` uses the population covariance, as here by default.
- ``"torchmetrics"``: mean over the *whole* map, border voxels computed on reflect-padded
  images (torchmetrics >= 1.3); ``data_range=None`` takes the larger of the two images' ranges.
- ``"brasyn"``: BraSyn's official score: each volume clipped to its own 0.5–99.5 percentiles and
  scaled to [0, 1], multiplied by the region mask, then torchmetrics' SSIM with data range 1.

Filtering is separable (one valid-mode 1D correlation per axis, as small banded matrix products:
:mod:`mri_metrics._banded`) in float64, and only on the part of the image that the requested
voxels' windows cover: the mask's bounding box is cut into slabs, each shrunk to the mask voxels
it holds and grown by the window radius, and the slabs are filtered on parallel threads.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar, get_args

import numpy as np
import numpy.typing as npt

from mri_metrics._banded import correlate_valid
from mri_metrics._inputs import as_mask, check_finite, check_same_shape
from mri_metrics.errors import MetricInputError
from mri_metrics.intensity import resolve_data_range

__all__ = [
    "SsimProfile",
    "brasyn_normalise",
    "gaussian_window",
    "scoring_mask",
    "ssim",
    "ssim_map",
]

FloatArray = npt.NDArray[np.float64]
RealArray = npt.NDArray[np.floating[Any] | np.integer[Any] | np.bool_]
BoolArray = npt.NDArray[np.bool_]
SsimProfile = Literal["mri-suite", "skimage", "monai", "torchmetrics", "brasyn"]
Region = Literal["brain", "tumour", "healthy"]

_T = TypeVar("_T")

#: Rows of the first axis filtered together: a slab's buffers stay a few tens of MB, and the
#: slabs are the units of work shared between threads.
SLAB = 16
#: Threads that filter slabs at once: the machine's cores, at most four (each thread holds one
#: slab's buffers).
WORKERS = min(4, os.cpu_count() or 1)

#: Percentiles BraSyn clips each volume to before scaling it to [0, 1].
BRASYN_PERCENTILES = (0.5, 99.5)


def gaussian_window(win_size: int, sigma: float) -> FloatArray:
    """Return the normalised, sampled 1D Gaussian of ``win_size`` taps (float64).

    With ``win_size = 2 * int(3.5 * sigma + 0.5) + 1`` (11 for sigma 1.5) these are exactly the
    weights of skimage (``gaussian_filter``, truncate 3.5), torchmetrics and MONAI.
    """
    offsets = np.arange(win_size, dtype=np.float64) - (win_size - 1) / 2
    weights: FloatArray = np.exp(-0.5 * (offsets / sigma) ** 2)
    weights /= weights.sum()
    return weights


def _span(values: RealArray) -> float:
    """max - min in float64 (an integer image's own dtype could wrap around)."""
    return float(values.max()) - float(values.min())


def _window(win_size: int, sigma: float, gaussian: bool) -> FloatArray:
    if win_size < 3 or win_size % 2 == 0:
        raise MetricInputError(f"win_size must be an odd integer >= 3, got {win_size}")
    if not gaussian:
        return np.full(win_size, 1.0 / win_size)
    if not (math.isfinite(sigma) and sigma > 0):
        raise MetricInputError(f"sigma must be positive and finite, got {sigma}")
    return gaussian_window(win_size, sigma)


def _image_pair(pred: npt.ArrayLike, ref: npt.ArrayLike, win_size: int) -> tuple[RealArray, ...]:
    """Return the validated images in their own dtype.

    Each slab is converted to float64 when it is filtered, so a float32 or integer volume is
    never copied whole.
    """
    pred_arr = np.asarray(pred)
    ref_arr = np.asarray(ref)
    check_same_shape(pred_arr, ref_arr, ("pred", "ref"))
    if pred_arr.ndim not in (2, 3):
        raise MetricInputError(f"SSIM needs 2D or 3D images, got shape {pred_arr.shape}")
    if min(pred_arr.shape) < win_size:
        raise MetricInputError(
            f"images of shape {pred_arr.shape} are smaller than the {win_size}-voxel window"
        )
    check_finite(pred_arr, "pred")
    check_finite(ref_arr, "ref")
    return _real(pred_arr), _real(ref_arr)


def _real(values: npt.NDArray[Any]) -> RealArray:
    """Integer, boolean and floating images as they are; anything else converted to float64."""
    if values.dtype.kind in "biuf":
        return values
    converted: FloatArray = values.astype(np.float64)
    return converted


def _slabs(box: tuple[slice, ...], region: BoolArray | None) -> list[tuple[slice, ...]]:
    """Cut ``box`` into slabs of :data:`SLAB` rows along the first axis.

    With a ``region``, each slab shrinks to the bounding box of the region voxels it holds and
    slabs holding none are dropped: a brain is roughly an ellipsoid, so the slabs near its poles
    are much smaller than the brain's bounding box, and the filtering cost follows.
    """
    first, rest = box[0], box[1:]
    inside = None if region is None else region[box]
    slabs = []
    for start in range(first.start, first.stop, SLAB):
        stop = min(start + SLAB, first.stop)
        if inside is None:
            slabs.append((slice(start, stop), *rest))
            continue
        footprint = np.asarray(inside[start - first.start : stop - first.start].any(axis=0))
        if footprint.any():
            tight = _bounding_box(footprint)
            shifted = (
                slice(s.start + t.start, s.start + t.stop) for s, t in zip(rest, tight, strict=True)
            )
            slabs.append((slice(start, stop), *shifted))
    return slabs


def _box_moments(
    x: RealArray, y: RealArray, box: tuple[slice, ...], kernel: FloatArray
) -> tuple[FloatArray, float]:
    """Window moments of the voxels in ``box`` (in-bounds slices), and the centring offset.

    Returns a ``(4, *box_shape)`` array of the local means of x and y, of x² + y² and of xy,
    for values centred on the reference's mean over the box: variances are shift-invariant, and
    E[x²] − E[x]² on raw MRI intensities (thousands) would otherwise lose digits to cancellation.
    Only var(x) + var(y) enters SSIM, so one filter of x² + y² replaces two.

    The box is cut out with the window radius around it (mirror-padded where that crosses the
    image border, like torch's ``reflect`` padding), then each axis is correlated in valid mode
    (:func:`~mri_metrics._banded.correlate_valid`), so only voxels the box needs are filtered.
    """
    radius = (kernel.size - 1) // 2
    inner: list[slice] = []
    pads: list[tuple[int, int]] = []
    for axis_box, size in zip(box, x.shape, strict=True):
        start, stop = axis_box.start, axis_box.stop
        lo, hi = max(start - radius, 0), min(stop + radius, size)
        inner.append(slice(lo, hi))
        pads.append((radius - (start - lo), radius - (hi - stop)))
    cut = tuple(inner)
    xs, ys = x[cut], y[cut]
    if any(p != (0, 0) for p in pads):
        xs, ys = np.pad(xs, pads, mode="reflect"), np.pad(ys, pads, mode="reflect")
    centre = float(ys.mean(dtype=np.float64))
    moments = np.empty((4, *xs.shape))
    np.subtract(xs, centre, out=moments[0], dtype=np.float64)
    np.subtract(ys, centre, out=moments[1], dtype=np.float64)
    np.multiply(moments[0], moments[0], out=moments[2])
    moments[2] += moments[1] * moments[1]
    np.multiply(moments[0], moments[1], out=moments[3])
    for axis in range(1, moments.ndim):
        moments = correlate_valid(moments, kernel, axis)
    return moments, centre


def _ssim_from_moments(
    moments: FloatArray, centre: float, c1: float, c2: float, cov_norm: float
) -> FloatArray:
    """Local SSIM from the window moments of :func:`_box_moments` (any trailing shape)."""
    mu_x, mu_y, second, cross = moments
    var_sum = np.maximum(second - mu_x * mu_x - mu_y * mu_y, 0.0) * cov_norm
    cov = (cross - mu_x * mu_y) * cov_norm
    mu_x = mu_x + centre
    mu_y = mu_y + centre
    numerator = (2.0 * mu_x * mu_y + c1) * (2.0 * cov + c2)
    denominator = (mu_x * mu_x + mu_y * mu_y + c1) * (var_sum + c2)
    result: FloatArray = numerator / denominator
    return result


def _in_parallel(
    task: Callable[[tuple[slice, ...]], _T], slabs: list[tuple[slice, ...]]
) -> list[_T]:
    """Run ``task`` on every slab, on up to :data:`WORKERS` threads, results in slab order.

    The filtering is BLAS products and numpy ufuncs, which release the GIL, so threads use the
    cores; each slab's result is the same whatever thread computes it.
    """
    if len(slabs) < 2 or WORKERS < 2:
        return [task(slab) for slab in slabs]
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(slabs))) as pool:
        return list(pool.map(task, slabs))


def _map_on_box(
    x: RealArray,
    y: RealArray,
    box: tuple[slice, ...],
    kernel: FloatArray,
    c1: float,
    c2: float,
    cov_norm: float,
) -> FloatArray:
    """SSIM map of the voxels in ``box``; windows leaving the image see a mirrored image."""
    slabs = _slabs(box, None)

    def slab_map(slab: tuple[slice, ...]) -> FloatArray:
        moments, centre = _box_moments(x, y, slab, kernel)
        return _ssim_from_moments(moments, centre, c1, c2, cov_norm)

    return np.concatenate(_in_parallel(slab_map, slabs), axis=0)


def _mean_over_region(
    x: RealArray,
    y: RealArray,
    region: BoolArray,
    kernel: FloatArray,
    c1: float,
    c2: float,
    cov_norm: float,
) -> float:
    """Mean SSIM over the voxels of ``region``; the map is never formed outside it."""

    def slab_sum(slab: tuple[slice, ...]) -> tuple[float, int]:
        moments, centre = _box_moments(x, y, slab, kernel)
        inside = region[slab]
        # The formula on the whole slab is cheaper than gathering four moment images first.
        local = _ssim_from_moments(moments, centre, c1, c2, cov_norm)[inside]
        return float(local.sum()), local.size

    sums = _in_parallel(slab_sum, _slabs(_bounding_box(region), region))
    return math.fsum(total for total, _ in sums) / sum(count for _, count in sums)


def _constants(
    data_range: float, k1: float, k2: float, sample_covariance: bool, kernel: FloatArray, ndim: int
) -> tuple[float, float, float]:
    n_points = kernel.size**ndim
    cov_norm = n_points / (n_points - 1) if sample_covariance else 1.0
    return (k1 * data_range) ** 2, (k2 * data_range) ** 2, cov_norm


def ssim_map(
    pred: npt.ArrayLike,
    ref: npt.ArrayLike,
    *,
    data_range: float | None = None,
    gaussian: bool = True,
    sigma: float = 1.5,
    win_size: int = 11,
    k1: float = 0.01,
    k2: float = 0.03,
    sample_covariance: bool = False,
) -> FloatArray:
    """Return the local SSIM of every voxel (same shape as the images, float64).

    Voxels within ``(win_size-1)/2`` of the border use a mirror-padded image (torch's
    ``reflect``), as torchmetrics does. ``data_range=None`` uses the reference's max - min.
    ``gaussian=False`` uses a uniform ``win_size`` window instead of the Gaussian.
    """
    x, y = _image_pair(pred, ref, win_size)
    kernel = _window(win_size, sigma, gaussian)
    peak = resolve_data_range(data_range, y)
    c1, c2, cov_norm = _constants(peak, k1, k2, sample_covariance, kernel, x.ndim)
    whole = tuple(slice(0, n) for n in x.shape)
    return _map_on_box(x, y, whole, kernel, c1, c2, cov_norm)


def brasyn_normalise(volume: npt.ArrayLike) -> FloatArray:
    """Clip a volume to its own 0.5–99.5 percentiles and scale that range to [0, 1].

    This is BraSyn's preprocessing before SSIM; percentiles are taken over the whole volume,
    background included.

    Raises:
        MetricInputError: the two percentiles coincide (an essentially constant volume).
    """
    values = np.asarray(volume, dtype=np.float64)
    low, high = np.percentile(values, BRASYN_PERCENTILES)
    if not high > low:
        raise MetricInputError(
            f"volume's 0.5 and 99.5 percentiles are both {low}; it cannot be scaled to [0, 1]"
        )
    scaled: FloatArray = (np.clip(values, low, high) - low) / (high - low)
    return scaled


def _bounding_box(mask: BoolArray) -> tuple[slice, ...]:
    box = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(mask.any(axis=other))
        box.append(slice(int(hits[0]), int(hits[-1]) + 1))
    return tuple(box)


def _region_of(mask: npt.ArrayLike, shape: tuple[int, ...]) -> BoolArray:
    mask_arr = as_mask(mask, "mask")
    if mask_arr.shape != shape:
        raise MetricInputError(f"mask has shape {mask_arr.shape} but the images have {shape}")
    if not mask_arr.any():
        raise MetricInputError(
            "mask selects no voxel; an average over an empty region is undefined"
        )
    return mask_arr


def _brasyn(
    x: RealArray, y: RealArray, mask: BoolArray, kernel: FloatArray, k1: float, k2: float
) -> float:
    """Whole-cuboid mean of torchmetrics' SSIM of the normalised, masked volumes.

    Outside the mask's bounding box grown by the window radius both masked volumes are zero in
    every window, where SSIM is exactly 1, so only the grown box is filtered.
    """
    x = brasyn_normalise(x) * mask
    y = brasyn_normalise(y) * mask
    c1, c2, cov_norm = _constants(1.0, k1, k2, False, kernel, x.ndim)
    radius = (kernel.size - 1) // 2
    box = tuple(
        slice(max(s.start - radius, 0), min(s.stop + radius, n))
        for s, n in zip(_bounding_box(mask), x.shape, strict=True)
    )
    local = _map_on_box(x, y, box, kernel, c1, c2, cov_norm)
    return float((local.sum() + (x.size - local.size)) / x.size)


def ssim(
    pred: npt.ArrayLike,
    ref: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = None,
    data_range: float | None = None,
    gaussian: bool = True,
    sigma: float = 1.5,
    win_size: int = 11,
    k1: float = 0.01,
    k2: float = 0.03,
    sample_covariance: bool = False,
    profile: SsimProfile = "mri-suite",
) -> float:
    """Return SSIM of ``pred`` against ``ref`` (2D or 3D) under ``profile`` (see module doc).

    Args:
        mask: voxels to average the SSIM map over (``"mri-suite"``), or the region BraSyn
            multiplies both volumes by (``"brasyn"``, required). Other profiles take none.
        data_range: dynamic range L in C1 = (k1 L)², C2 = (k2 L)². ``None``: the reference's
            max - min (``"torchmetrics"``: the larger of both images' ranges; ``"brasyn"``
            always uses 1 after its scaling and refuses another value).

    Raises:
        MetricInputError: unknown profile, a mask given where the profile takes none (or
            missing for ``"brasyn"``), an empty mask, or bad window parameters; the
            subclasses :class:`~mri_metrics.errors.ShapeMismatchError`,
            :class:`~mri_metrics.errors.NonFiniteError` and
            :class:`~mri_metrics.errors.NotBinaryError` for the corresponding bad inputs.
    """
    if profile not in get_args(SsimProfile):
        raise MetricInputError(
            f"unknown SSIM profile {profile!r}; choose one of {', '.join(get_args(SsimProfile))}"
        )
    x, y = _image_pair(pred, ref, win_size)
    kernel = _window(win_size, sigma, gaussian)
    radius = (win_size - 1) // 2
    if profile == "brasyn":
        if mask is None:
            raise MetricInputError("profile 'brasyn' needs the region mask both volumes are cut to")
        if data_range is not None:
            raise MetricInputError("profile 'brasyn' fixes data_range to 1 after its scaling")
        return _brasyn(x, y, _region_of(mask, x.shape), kernel, k1, k2)
    if mask is not None and profile != "mri-suite":
        raise MetricInputError(f"profile {profile!r} averages a fixed region and takes no mask")
    if profile == "torchmetrics" and data_range is None:
        data_range = max(_span(x), _span(y))
    peak = resolve_data_range(data_range, y)
    c1, c2, cov_norm = _constants(peak, k1, k2, sample_covariance, kernel, x.ndim)
    if profile == "torchmetrics":
        whole = tuple(slice(0, n) for n in x.shape)
        return float(_map_on_box(x, y, whole, kernel, c1, c2, cov_norm).mean())
    if mask is None:
        interior = tuple(slice(radius, n - radius) for n in x.shape)
        return float(_map_on_box(x, y, interior, kernel, c1, c2, cov_norm).mean())
    return _mean_over_region(x, y, _region_of(mask, x.shape), kernel, c1, c2, cov_norm)


def scoring_mask(
    image: npt.ArrayLike,
    labels: npt.ArrayLike | None = None,
    *,
    region: Region = "brain",
    background: float = 0.0,
) -> BoolArray:
    """Build the voxels to score from a skull-stripped image and (optionally) its label map.

    ``"brain"``: voxels of ``image`` that differ from ``background`` (skull-stripped BraTS volumes
    are exactly 0 outside the brain), plus any labelled voxel; ``"tumour"``: voxels with a
    non-zero label; ``"healthy"``: brain minus tumour. (Named apart from
    ``mri_io.labels.region_mask``, which selects one tumour sub-region (WT, TC, ET...) of a
    label map under a label convention; :func:`mri_metrics.regions.region_masks` here.)

    Raises:
        MetricInputError: unknown region, ``labels`` missing for tumour/healthy, or shapes differ.
    """
    if region not in get_args(Region):
        raise MetricInputError(
            f"unknown region {region!r}; choose one of {', '.join(get_args(Region))}"
        )
    image_arr = np.asarray(image)
    check_finite(image_arr, "image")
    brain: BoolArray = np.not_equal(image_arr, background)
    if labels is None:
        if region != "brain":
            raise MetricInputError(f"region {region!r} needs the label map")
        return brain
    labels_arr = np.asarray(labels)
    check_same_shape(image_arr, labels_arr, ("image", "labels"))
    tumour: BoolArray = np.not_equal(labels_arr, 0)
    if region == "tumour":
        return tumour
    brain |= tumour
    if region == "healthy":
        brain &= ~tumour
    return brain

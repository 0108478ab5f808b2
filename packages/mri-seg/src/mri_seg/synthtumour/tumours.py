"""Stage 1 of SynthTumour: a hand-crafted tumour shape and intensity model.

This model is written from the method's description only and shares nothing with the tumours
of mri-io's synthetic cohort (:mod:`mri_io.synthetic`), which draws the test tumours: a model
trained on tumours drawn by the recipe it is evaluated on would only measure how well one recipe
recognises itself.

**Shape** (:func:`draw_tumour`). A volume ``V ~ U(20000, 80000)`` mm^3 and an axis ratio
``k ~ U(1, 2)`` give an ellipsoid of semi-axes ``r * (1, k, 1/k)`` (``4/3 pi r^3 = V``), turned
by a uniformly random rotation and centred on a brain voxel. Its surface is displaced by smooth
noise (Gaussian-filtered white noise, standing in for the original's simplex noise): the tumour
is the level set ``rho - a * noise <= t`` of the normalised ellipsoid radius ``rho``, with the
level ``t`` chosen so that the part inside the brain holds exactly ``V`` mm^3. Voxel counts come
from the voxel size, so the same millimetre volumes fit a 1 mm or a 4 mm grid of the same brain.
An inner lesion, centred off the outer one's centre, is carved the same way *inside* the whole
tumour and gives the sub-regions: the whole tumour minus the core is edema (SNFH, label 2), the
core's rim is enhancing tumour (ET, 3) and its centre necrosis (NETC, 1).

**Intensity** (:func:`paint_tumour`). For each sequence, a blend weight ``S`` (the whole-tumour
mask Gaussian-blurred) mixes the image with a copy that is smoothed, multiplied by a per
sub-region factor (blurred the same way, so factors change gradually across sub-region borders)
and textured by smooth multiplicative noise: ``I' = (1 - S) I + S * F * (1 + tau n) * smooth(I)``.
The hard variant (``hard=True``), used for the distribution-shifted validation set, has
``S`` the binary mask, the factors without blur and the original texture: ``I' = F * I`` inside.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import distance_transform_edt, gaussian_filter

#: Label values of the BraTS 2023 convention that the sub-regions take.
NECROSIS, EDEMA, ENHANCING = 1, 2, 3
SUBREGIONS = (NECROSIS, EDEMA, ENHANCING)

#: Multiplicative intensity factor ranges per sequence and sub-region, relative to the local
#: healthy tissue: the textbook appearance of a glioblastoma. FLAIR and T2: edema bright;
#: T2: necrosis (fluid) brightest; T1 post-contrast: enhancing rim bright, necrosis dark;
#: native T1: the whole lesion hypointense. The original (FLAIR only, whole tumour) brightens
#: by U(1.5, 5); these ranges are narrower because they also have to keep sub-regions apart.
INTENSITY_FACTORS: Mapping[str, Mapping[int, tuple[float, float]]] = {
    "t1n": {EDEMA: (0.75, 0.95), ENHANCING: (0.7, 0.95), NECROSIS: (0.4, 0.7)},
    "t1c": {EDEMA: (0.75, 0.95), ENHANCING: (1.5, 3.0), NECROSIS: (0.3, 0.6)},
    "t2w": {EDEMA: (1.4, 2.2), ENHANCING: (1.2, 1.8), NECROSIS: (1.8, 3.0)},
    "t2f": {EDEMA: (1.5, 3.0), ENHANCING: (1.2, 2.0), NECROSIS: (0.6, 1.2)},
}


@dataclass(frozen=True)
class ShapeModel:
    """Ranges the shape is drawn from (volumes in mm^3, ratios of the drawn volume)."""

    min_volume: float = 20000.0
    max_volume: float = 80000.0
    max_axis_ratio: float = 2.0
    #: Surface displacement amplitude, in units of the normalised ellipsoid radius.
    noise_amplitude: tuple[float, float] = (0.1, 0.35)
    #: Core (TC) volume as a share of the whole tumour, and necrosis as a share of the core.
    core_share: tuple[float, float] = (0.2, 0.5)
    necrosis_share: tuple[float, float] = (0.15, 0.6)

    def __post_init__(self) -> None:
        if not 0 < self.min_volume <= self.max_volume:
            raise ValueError(
                f"need 0 < min_volume <= max_volume, got {self.min_volume}, {self.max_volume}"
            )
        if self.max_axis_ratio < 1:
            raise ValueError(f"max_axis_ratio must be >= 1, got {self.max_axis_ratio}")


Array = NDArray[np.float64]


def random_rotation(rng: np.random.Generator) -> Array:
    """A rotation matrix drawn uniformly (QR of a Gaussian matrix, signs fixed, det +1)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    rotation: Array = q
    return rotation


def smooth_noise(
    shape: Sequence[int], sigma: Sequence[float] | Array, rng: np.random.Generator
) -> Array:
    """Gaussian-filtered white noise of unit standard deviation (``sigma`` in voxels)."""
    noise: Array = gaussian_filter(rng.standard_normal(tuple(shape)), sigma=tuple(sigma))
    return noise / max(float(noise.std()), 1e-12)


def _level_set(field: Array, allowed: NDArray[np.bool_], count: int) -> NDArray[np.bool_]:
    """The ``count`` allowed voxels of lowest ``field`` (all of them if fewer)."""
    values = np.where(allowed, field, np.inf)
    if count >= int(allowed.sum()):
        return allowed.copy()
    flat = values.ravel()
    chosen = np.zeros(flat.shape, dtype=bool)
    chosen[np.argpartition(flat, count)[:count]] = True
    return chosen.reshape(field.shape)


def _radius(
    shape: Sequence[int], centre: Array, spacing: Array, semi: Array, rotation: Array
) -> Array:
    """Normalised ellipsoid radius of every voxel (1 on the surface)."""
    axes = [(np.arange(n) - c) * s for n, c, s in zip(shape, centre, spacing, strict=True)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    local = grid @ rotation
    radius: Array = np.sqrt(np.sum((local / semi) ** 2, axis=-1))
    return radius


def brain_depth(brain: NDArray[np.bool_], spacing: Sequence[float]) -> Array:
    """Distance (mm) of every brain voxel to the nearest non-brain voxel: where a tumour's
    centre may lie. The same for every tumour drawn in one brain, so callers keep it."""
    depth: Array = distance_transform_edt(brain, sampling=np.asarray(spacing, dtype=np.float64))
    return depth


def draw_tumour(
    brain: NDArray[np.bool_],
    spacing: Sequence[float],
    rng: np.random.Generator,
    model: ShapeModel | None = None,
    *,
    depth: Array | None = None,
) -> NDArray[np.uint8]:
    """A label map (0, 1 necrosis, 2 edema, 3 enhancing) of one random tumour in ``brain``.

    The whole tumour holds the drawn volume (rounded to whole voxels) unless the brain is
    smaller; every tumour voxel is a brain voxel; the core lies inside the whole tumour and the
    necrosis inside the core. ``depth`` is :func:`brain_depth` of ``brain`` when the caller
    keeps it (computed here otherwise).
    """
    shape_model = model or ShapeModel()
    step = np.asarray(spacing, dtype=np.float64)
    voxel = float(np.prod(step))
    volume = rng.uniform(shape_model.min_volume, shape_model.max_volume)
    ratio = rng.uniform(1.0, shape_model.max_axis_ratio)
    radius = (3.0 * volume / (4.0 * math.pi)) ** (1.0 / 3.0)
    semi = radius * np.array([1.0, ratio, 1.0 / ratio])
    rotation = random_rotation(rng)
    # Centres deep enough in the brain that most of the ellipsoid fits.
    if depth is None:
        depth = brain_depth(brain, spacing)
    deep = np.argwhere(depth >= min(0.6 * radius, float(depth.max())))
    centre = deep[rng.integers(len(deep))].astype(np.float64)
    sigma = 0.4 * radius / step
    labels = np.zeros(brain.shape, dtype=np.uint8)

    whole_field = _radius(brain.shape, centre, step, semi, rotation)
    amplitude = rng.uniform(*shape_model.noise_amplitude)
    whole_field = whole_field - amplitude * smooth_noise(brain.shape, sigma, rng)
    whole = _level_set(whole_field, brain, round(volume / voxel))

    offset = rng.uniform(-0.25, 0.25, size=3) * semi / step
    inner_rotation = random_rotation(rng)
    core_field = _radius(brain.shape, centre + offset, step, semi, inner_rotation)
    core_field = core_field - amplitude * smooth_noise(brain.shape, sigma / 2, rng)
    core = _level_set(core_field, whole, round(rng.uniform(*shape_model.core_share) * whole.sum()))
    necrosis = _level_set(
        core_field, core, round(rng.uniform(*shape_model.necrosis_share) * core.sum())
    )
    labels[whole] = EDEMA
    labels[core] = ENHANCING
    labels[necrosis] = NECROSIS
    return labels


def draw_factors(sequences: Sequence[str], rng: np.random.Generator) -> dict[str, dict[int, float]]:
    """One intensity factor per sequence and sub-region from :data:`INTENSITY_FACTORS`."""
    return {
        key: {label: float(rng.uniform(*INTENSITY_FACTORS[key][label])) for label in SUBREGIONS}
        for key in sequences
    }


def _around(mask: NDArray[np.bool_], margin: Sequence[int]) -> tuple[slice, ...]:
    """The bounding box of ``mask`` grown by ``margin`` voxels per axis, inside the volume."""
    found = np.argwhere(mask)
    low, high = found.min(axis=0), found.max(axis=0) + 1
    return tuple(
        slice(max(0, int(a) - m), min(n, int(b) + m))
        for a, b, m, n in zip(low, high, margin, mask.shape, strict=True)
    )


def _reach(sigma: Sequence[float] | Array) -> list[int]:
    """How far (voxels) scipy's Gaussian filter reaches: its kernel radius at ``truncate=4``."""
    return [int(4.0 * float(s) + 0.5) for s in sigma]


def _blurred(array: Array, sigma: Sequence[float] | Array, box: tuple[slice, ...]) -> Array:
    """``gaussian_filter(array, sigma)[box]``, computed on ``box`` grown by the kernel's reach
    only: every value in ``box`` sees the same inputs in the same order as on the whole volume
    (and, at a volume border, the same reflection), so the result is identical."""
    reach = _reach(sigma)
    grown = tuple(
        slice(max(0, b.start - r), min(n, b.stop + r))
        for b, r, n in zip(box, reach, array.shape, strict=True)
    )
    inner = tuple(
        slice(b.start - g.start, b.stop - g.start) for b, g in zip(box, grown, strict=True)
    )
    filtered: Array = gaussian_filter(array[grown], sigma)[inner]
    return filtered


def paint_tumour(
    image: NDArray[np.floating],
    labels: NDArray[np.uint8],
    factors: Mapping[int, float],
    spacing: Sequence[float],
    rng: np.random.Generator,
    *,
    hard: bool = False,
) -> NDArray[np.float32]:
    """``image`` (scanner intensities, background 0) with the tumour of ``labels`` painted in.

    Soft (training): blurred blend weight and factors, smoothed and textured copy. Hard
    (distribution-shifted validation): binary mask, exact factors, original texture. The
    background stays 0.

    The blend weight is exactly 0 farther from the tumour than the blur's kernel reaches, and
    there the image is kept as it is; so the blurs and the copy are computed only in the
    tumour's box grown by that reach (:func:`_blurred`), with the same result as on the whole
    volume, which a sample at 1 mm makes several times faster.
    """
    source = np.asarray(image, dtype=np.float64)
    whole = labels > 0
    if hard:
        factor = np.ones_like(source)
        for label, value in factors.items():
            factor[labels == label] = value
        return np.where(whole, source * factor, source).astype(np.float32)
    step = np.asarray(spacing, dtype=np.float64)
    blur = rng.uniform(1.0, 4.0) / step
    amplitude = rng.uniform(0.05, 0.2)
    # Drawn over the whole volume (its scale is the whole field's), so every sample is the
    # same as one painted without boxes.
    texture = np.clip(1.0 + amplitude * smooth_noise(source.shape, 2.0 / step, rng), 0.5, 1.5)
    sharpness = rng.uniform(0.5, 1.5) / step
    painted = source.copy()
    if whole.any():
        box = _around(whole, _reach(blur))
        weight = _blurred(whole.astype(np.float64), blur, box)
        weighted = sum(
            value * _blurred((labels == label).astype(np.float64), blur, box)
            for label, value in factors.items()
        )
        factor = np.where(weight > 1e-6, weighted / np.maximum(weight, 1e-6), 1.0)
        copy = _blurred(source, sharpness, box) * factor * texture[box]
        painted[box] = (1.0 - weight) * source[box] + weight * np.maximum(copy, 0.0)
    return np.where(source > 0, painted, 0.0).astype(np.float32)

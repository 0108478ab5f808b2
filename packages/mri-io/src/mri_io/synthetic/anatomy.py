"""Healthy anatomy as tissue maps, and the procedural brain used where speed matters.

An anatomy is three partial-volume maps (CSF, grey matter, white matter; each voxel's fractions
sum to at most 1, the rest is background) on a source grid, together with the world position of
the midsagittal plane. Subject variation, mass effect and the placement on the BraTS grid are
all one resampling of these maps (:mod:`mri_io.synthetic.warp`), so the procedural brain and the
MNI152 template (:mod:`mri_io.synthetic.template`) go through the same code.

The procedural brain needs nothing beyond numpy and scipy and works at any grid size: an
ellipsoid whose outer surface wobbles, a cortical ribbon folded by sulci that follow the zero
set of a band-limited random field, an interhemispheric fissure, lateral and third ventricles
and deep grey nuclei. It is a caricature of a brain, but it has the tissue classes,
partial-volume boundaries and CSF spaces that make the four MRI contrasts look right.

Its grey matter has one shape, though: a ribbon at the surface and along the sulci plus one
pair of deep nuclei, in the same place in every brain. A segmenter trained only on it has never
seen grey matter elsewhere and may take the MNI152 template's thalami, insular cortex or
claustrum, bright on FLAIR next to white matter, for edema. ``grey_variety=True`` (the
``procedural-varied`` anatomy of :func:`~mri_io.synthetic.generate_case`) adds, per brain, a
random subset of deep grey nuclei at jittered places and sizes and islands of grey matter in the
white matter, where a smooth random field is high, so that grey matter of other shapes and
places is part of what "healthy" looks like.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from mri_io.synthetic.fields import FloatArray, smooth_field
from mri_io.synthetic.grid import Grid

#: Order of the tissue maps in :attr:`Anatomy.tissues`.
TISSUES = ("csf", "gm", "wm")


@dataclass(frozen=True)
class Anatomy:
    """Healthy tissue maps on a source grid.

    ``tissues`` is float32 of shape ``(3, *grid.shape)`` holding CSF, GM and WM fractions;
    ``midline_x`` is the world x (mm) of the midsagittal plane, which edema must not cross;
    ``centre`` is the world position (mm) of the brain's centre, about which subjects are scaled.
    """

    tissues: FloatArray
    grid: Grid
    midline_x: float
    centre: NDArray[np.float64]


def _world_mm(grid: Grid, centre_voxel: NDArray[np.float64]) -> list[FloatArray]:
    """Per-axis coordinate arrays (mm, broadcastable) along the grid's anatomical axes."""
    spacing = grid.spacing
    return [
        ((np.arange(n, dtype=np.float32) - np.float32(centre_voxel[a])) * np.float32(spacing[a]))
        .reshape([n if b == a else 1 for b in range(3)])
        .astype(np.float32)
        for a, n in enumerate(grid.shape)
    ]


def _ellipsoid(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    centre: tuple[float, float, float],
    radii: tuple[float, float, float],
) -> NDArray[np.bool_]:
    return np.asarray(
        ((x - centre[0]) / radii[0]) ** 2
        + ((y - centre[1]) / radii[1]) ** 2
        + ((z - centre[2]) / radii[2]) ** 2
        < 1.0
    )


#: Centres (mm from the brain's centre; left-right mirrored) of the deep grey nuclei that the
#: varied brain may add, each with probability :data:`NUCLEUS_PROBABILITY`: caudate head,
#: putamen, thalamus, and claustrum with the insula (one region).
DEEP_GREY_CENTRES = ((9.0, 4.0, 6.0), (22.0, -2.0, 0.0), (10.0, -18.0, 2.0), (30.0, 0.0, 4.0))
NUCLEUS_PROBABILITY = 0.75
#: Radii (mm) of an added nucleus before its random scaling.
NUCLEUS_RADII = (5.0, 9.0, 7.0)


def _extra_grey(
    x: FloatArray, y: FloatArray, z: FloatArray, grid: Grid, rng: np.random.Generator
) -> NDArray[np.bool_]:
    """Where the varied brain puts grey matter beyond the plain brain's (see module doc): a
    random subset of mirrored deep nuclei, jittered by 3 mm and scaled by 0.7-1.3 overall and
    0.8-1.2 per axis, and islands where a 12 mm smooth field exceeds a random 1.1-1.7."""
    grey = np.zeros(grid.shape, dtype=bool)
    for centre in DEEP_GREY_CENTRES:
        if rng.uniform() < NUCLEUS_PROBABILITY:
            shifted = np.add(centre, rng.normal(0.0, 3.0, 3))
            radii = rng.uniform(0.7, 1.3) * np.asarray(NUCLEUS_RADII) * rng.uniform(0.8, 1.2, 3)
            grey |= _ellipsoid(
                np.abs(x),
                y,
                z,
                (shifted[0], shifted[1], shifted[2]),
                (radii[0], radii[1], radii[2]),
            )
    islands = smooth_field(rng, grid.shape, grid.spacing, 12.0)
    return grey | np.asarray(islands > rng.uniform(1.1, 1.7))


def procedural_anatomy(
    grid: Grid, rng: np.random.Generator, *, grey_variety: bool = False
) -> Anatomy:
    """A random procedural brain filling the BraTS field of view of ``grid``.

    Axis 0 of the grid is left-right, axis 1 anterior-posterior and axis 2 inferior-superior,
    as in BraTS. Sizes are in mm, so the same seed gives the same brain at any voxel size
    (up to sampling). The brain is about 136 x 170 x 124 mm, the size of a BraTS brain.
    ``grey_variety`` turns white matter into grey matter where :func:`_extra_grey` says (its
    draws come after all of the plain brain's, so the rest of the brain is the same).
    """
    spacing = grid.spacing
    # The centre of the brain: mid field of view left-right, slightly posterior and inferior.
    centre_voxel = (np.asarray(grid.shape, dtype=np.float64) - 1) / 2
    centre_voxel[1] += 4.0 / spacing[1]
    x, y, z = _world_mm(grid, centre_voxel)
    scale = rng.uniform(0.93, 1.05)
    radii = (68.0 * scale, 85.0 * scale, 62.0 * scale * rng.uniform(0.95, 1.05))
    shape = grid.shape
    wobble = smooth_field(rng, shape, spacing, 40.0)
    radius = np.sqrt((x / radii[0]) ** 2 + (y / radii[1]) ** 2 + (z / radii[2]) ** 2)
    radius *= 1.0 + 0.025 * wobble
    # Flatten the inferior surface a little, as the skull base does.
    radius = np.maximum(radius, np.float32(1.0) + (-z - 0.72 * radii[2]) / 20.0)
    depth = (1.0 - radius) * np.float32(np.mean(radii))  # approximate distance to surface, mm
    brain = depth > 0

    # The fissure is at least one voxel wide, or coarse grids would lose the midline.
    half_voxel = 0.5 * float(spacing.max())
    # Sulci: thin sheets along the zero set of a band-limited field, reaching a random depth.
    folds = smooth_field(rng, shape, spacing, 6.0)
    sulcal_depth = 17.0 + 5.0 * smooth_field(rng, shape, spacing, 50.0)
    gradient = np.sqrt(sum(g**2 for g in np.gradient(folds, *spacing.astype(np.float32))))
    distance_to_fold = np.abs(folds) / np.maximum(gradient, 0.05)  # mm to the zero set
    in_sulcus = (distance_to_fold < 0.7) & (depth < sulcal_depth)
    cortex = (depth < 3.5) | ((distance_to_fold < 4.0) & (depth < sulcal_depth + 3.0))
    fissure = (np.abs(x) < max(1.2, half_voxel + 0.01)) & (
        (z > -0.2 * radii[2]) | (np.abs(y) > 0.35 * radii[1])
    )
    fissure_grey = (np.abs(x) < 4.0) & (depth < 40.0) & (z > -0.1 * radii[2])
    surface_csf = depth < 0.8

    # Ventricles: a bent pair of lateral ventricles and a slit-like third ventricle.
    bend = 0.004 * (y + 10.0) ** 2
    size = rng.uniform(0.8, 1.3)
    ventricles = _ellipsoid(np.abs(x), y, z - bend, (6.5, -8.0, 12.0), (4.5 * size, 26.0, 7.0))
    ventricles |= _ellipsoid(x, y, z, (0.0, -8.0, -2.0), (1.5, 12.0, 8.0))
    deep_grey = _ellipsoid(np.abs(x), y, z, (13.0, -6.0, -2.0), (8.0, 14.0, 9.0))

    labels = np.full(shape, 3, dtype=np.uint8)  # 0 background, 1 CSF, 2 GM, 3 WM
    labels[cortex | fissure_grey | deep_grey] = 2
    labels[in_sulcus | fissure | surface_csf | ventricles] = 1
    labels[~brain] = 0
    if grey_variety:
        labels[_extra_grey(x, y, z, grid, rng) & (labels == 3)] = 2

    # Partial volumes: a sub-voxel blur of the one-hot classes (0.6 mm FWHM-ish at 1 mm).
    tissues = np.empty((3, *shape), dtype=np.float32)
    for k in range(3):
        tissues[k] = ndimage.gaussian_filter(
            (labels == k + 1).astype(np.float32), 0.5 / spacing, truncate=2.0
        )
    world_centre = grid.affine @ np.append(centre_voxel, 1.0)
    return Anatomy(tissues, grid, float(world_centre[0]), world_centre[:3])

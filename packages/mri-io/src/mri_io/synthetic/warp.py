"""One resampling from anatomy to case: placement, subject variation and mass effect together.

For every voxel of the target grid the warp finds where its tissue came from, in three steps
applied backwards: undo the mass effect of each lesion (tissue was pushed outward from the
lesion centre), undo the subject's global scale about the brain centre and add a smooth random
displacement, then map world mm to the anatomy's voxels through its affine. The tissue maps are
interpolated once (trilinear), so partial volumes stay partial volumes and nothing is resampled
twice.

Mass effect is the displacement that inserting a ball of radius ``R`` into incompressible
tissue causes: a point at distance ``r0`` from the centre moves to ``r = (r0**3 + R**3)**(1/3)``,
so the push decays as ``R**3 / (3 r**2)``, and everything within ``R`` came from the centre.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from mri_io.synthetic.anatomy import Anatomy
from mri_io.synthetic.fields import FloatArray, smooth_field
from mri_io.synthetic.grid import Grid

Box = tuple[slice, slice, slice]


@dataclass(frozen=True)
class Push:
    """Mass effect of one lesion: tissue pushed away from ``centre`` (world mm) by a ball."""

    centre: NDArray[np.float64]
    radius: float


@dataclass(frozen=True)
class SubjectWarp:
    """A subject's deviation from the anatomy: global ``scale`` and smooth displacement.

    ``amplitude_mm`` is the standard deviation of each displacement component and
    ``correlation_mm`` its spatial scale; the field itself is drawn from ``seed`` when the
    target box is known.
    """

    scale: float
    amplitude_mm: float
    correlation_mm: float
    seed: int


@dataclass(frozen=True)
class WarpedAnatomy:
    """Tissue fractions (3, *box) and signed distance to the midsagittal plane (mm) in a box."""

    tissues: FloatArray
    lateral: FloatArray
    box: Box


def brain_box(anatomy: Anatomy, grid: Grid, scale: float, margin_mm: float) -> Box:
    """The part of ``grid`` where the scaled brain (plus ``margin_mm``) can appear."""
    present = np.argwhere(anatomy.tissues.sum(axis=0) > 0)
    lo, hi = present.min(axis=0), present.max(axis=0)
    corners = np.array(
        [
            [c[0], c[1], c[2], 1.0]
            for c in np.array(np.meshgrid(*zip(lo, hi, strict=True))).T.reshape(-1, 3)
        ]
    )
    world = (anatomy.grid.affine @ corners.T)[:3]
    world = anatomy.centre[:, None] + scale * (world - anatomy.centre[:, None])
    voxels = (np.linalg.inv(grid.affine) @ np.vstack([world, np.ones(world.shape[1])]))[:3]
    pad = margin_mm / grid.spacing
    start = np.floor(voxels.min(axis=1) - pad).astype(int)
    stop = np.ceil(voxels.max(axis=1) + pad).astype(int) + 1
    return (
        slice(max(0, start[0]), min(grid.shape[0], stop[0])),
        slice(max(0, start[1]), min(grid.shape[1], stop[1])),
        slice(max(0, start[2]), min(grid.shape[2], stop[2])),
    )


def box_world(grid: Grid, box: Box) -> list[FloatArray]:
    """World coordinates (mm) of the voxels of ``box``: three float32 arrays of its shape."""
    axes = [np.arange(s.start, s.stop, dtype=np.float32) for s in box]
    affine = grid.affine.astype(np.float32)
    i, j, k = (a.reshape([-1 if b == n else 1 for b in range(3)]) for n, a in enumerate(axes))
    shape = tuple(len(a) for a in axes)
    return [
        np.broadcast_to(
            affine[r, 0] * i + affine[r, 1] * j + affine[r, 2] * k + affine[r, 3], shape
        ).astype(np.float32)
        for r in range(3)
    ]


def undo_pushes(world: Sequence[FloatArray], pushes: Sequence[Push]) -> list[FloatArray]:
    """Where the tissue now at ``world`` was before the lesions pushed it."""
    points = [w.copy() for w in world]
    for push in pushes:
        offsets = [p - np.float32(c) for p, c in zip(points, push.centre, strict=True)]
        r = np.sqrt(sum(o**2 for o in offsets))
        before = np.cbrt(np.maximum(r**3 - np.float32(push.radius) ** 3, 0.0))
        ratio = np.where(r > 0, before / np.maximum(r, np.float32(1e-6)), 0.0).astype(np.float32)
        points = [np.float32(c) + o * ratio for c, o in zip(push.centre, offsets, strict=True)]
    return points


def sample_tissues(anatomy: Anatomy, world: Sequence[FloatArray], scale: float) -> FloatArray:
    """Tissue fractions (3, *shape) at world points of the scaled anatomy (no displacement)."""
    source = _to_source(anatomy, world, scale, None)
    return np.stack(
        [
            ndimage.map_coordinates(t, source, order=1, mode="constant", cval=0.0)
            for t in anatomy.tissues
        ]
    ).astype(np.float32)


def _to_source(
    anatomy: Anatomy,
    world: Sequence[FloatArray],
    scale: float,
    displacement: Sequence[FloatArray] | None,
) -> NDArray[np.float32]:
    inverse = np.linalg.inv(anatomy.grid.affine).astype(np.float32)
    centre = anatomy.centre.astype(np.float32)
    moved = [centre[a] + (world[a] - centre[a]) / np.float32(scale) for a in range(3)]
    if displacement is not None:
        moved = [m + d for m, d in zip(moved, displacement, strict=True)]
    return np.stack(
        [
            inverse[r, 0] * moved[0]
            + inverse[r, 1] * moved[1]
            + inverse[r, 2] * moved[2]
            + inverse[r, 3]
            for r in range(3)
        ]
    )


def warp_anatomy(
    anatomy: Anatomy, grid: Grid, box: Box, warp: SubjectWarp, pushes: Sequence[Push]
) -> WarpedAnatomy:
    """Resample ``anatomy`` into ``box`` of ``grid`` through the subject warp and mass effect."""
    world = undo_pushes(box_world(grid, box), pushes)
    shape = world[0].shape
    rng = np.random.default_rng(warp.seed)
    displacement = [
        np.float32(warp.amplitude_mm) * smooth_field(rng, shape, grid.spacing, warp.correlation_mm)
        for _ in range(3)
    ]
    source = _to_source(anatomy, world, warp.scale, displacement)
    tissues = np.stack(
        [
            ndimage.map_coordinates(t, source, order=1, mode="constant", cval=0.0, prefilter=False)
            for t in anatomy.tissues
        ]
    ).astype(np.float32)
    lateral = (
        anatomy.centre[0]
        + (world[0] - anatomy.centre[0]) / warp.scale
        + displacement[0]
        - anatomy.midline_x
    ).astype(np.float32)
    return WarpedAnatomy(tissues, lateral, box)

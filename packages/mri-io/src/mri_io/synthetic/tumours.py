"""Hand-crafted tumour models: glioblastoma, metastases and meningioma as BraTS labels.

A lesion is planned on the healthy anatomy (where it sits, how big, how deformed) before the
anatomy is warped, because its mass effect is part of that warp; its labels are drawn after,
on the warped tissue maps, because edema follows the white matter it lands in.

Every lesion is a deformed ellipsoid: the normalised distance ``d`` to its centre (1 on the
core surface) is multiplied by a smooth random field, so the necrosis (``d < necrosis``) is a
shrunken copy of the same deformed shape and the enhancing rim between them stays closed.
Edema uses its own, rougher distance, inflated in grey matter and CSF so that it spreads along
white matter; it stops at the midsagittal plane and outside the parenchyma.

Labels follow BraTS 2023: 1 NETC (necrosis), 2 SNFH (edema), 3 ET (enhancing tumour).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.spatial.transform import Rotation

from mri_io.synthetic.anatomy import Anatomy
from mri_io.synthetic.fields import smooth_field
from mri_io.synthetic.grid import Grid
from mri_io.synthetic.warp import Box, Push, WarpedAnatomy, box_world, sample_tissues

LesionKind = Literal["gbm", "met", "men"]
TumourKind = Literal["gbm", "met", "men", "none"]
TUMOUR_KINDS: tuple[TumourKind, ...] = ("gbm", "met", "men", "none")

NETC, EDEMA, ENHANCING = 1, 2, 3

#: Largest relative shrink of a distance by its deformation field (fields are clipped to +-2).
_DEFORM_CLIP = 2.0


@dataclass(frozen=True)
class Lesion:
    """One planned lesion.

    ``radii`` are the core semi-axes (mm) along the columns of ``rotation``; ``necrosis`` is
    the necrotic fraction of the core's normalised radius (0: solid); ``edema`` the extent of
    edema in core radii (0: none); ``push`` the radius (mm) of the ball whose insertion causes
    the mass effect; ``roughness`` the amplitude of the shape deformation; ``seed`` its field;
    ``extra_axial`` lets the lesion grow outside the brain (meningioma).
    """

    kind: LesionKind
    centre: NDArray[np.float64]
    radii: NDArray[np.float64]
    rotation: NDArray[np.float64]
    necrosis: float
    edema: float
    push: float
    roughness: float
    seed: int
    extra_axial: bool = False

    @property
    def reach(self) -> float:
        """Radius (mm) of a ball around the centre that contains every label of the lesion."""
        extent = max(1.0, self.edema * 1.6) * float(self.radii.max())
        return extent / (1.0 - self.roughness * _DEFORM_CLIP)

    def as_push(self) -> Push:
        """The lesion's mass effect, for :func:`mri_io.synthetic.warp.warp_anatomy`."""
        return Push(self.centre, self.push)


def plan_lesions(
    kind: TumourKind, anatomy: Anatomy, scale: float, rng: np.random.Generator
) -> list[Lesion]:
    """Place the lesions of one ``kind`` of tumour in the (scaled) healthy anatomy."""
    if kind == "none":
        return []
    candidates = _candidates(anatomy, scale, rng, 4000)
    if kind == "gbm":
        return [_plan_gbm(anatomy, scale, candidates, rng)]
    if kind == "met":
        return _plan_metastases(anatomy, scale, candidates, rng)
    if kind == "men":
        return [_plan_meningioma(anatomy, scale, rng)]
    raise ValueError(f"unknown tumour kind {kind!r}: expected one of {TUMOUR_KINDS}")


@dataclass(frozen=True)
class _Candidates:
    world: NDArray[np.float64]  # (N, 3)
    tissues: NDArray[np.float32]  # (3, N)


def _candidates(anatomy: Anatomy, scale: float, rng: np.random.Generator, n: int) -> _Candidates:
    inside = np.argwhere(anatomy.tissues.sum(axis=0) > 0.5)
    voxels = inside[rng.integers(0, len(inside), n)].astype(np.float64)
    source = (anatomy.grid.affine @ np.c_[voxels, np.ones(n)].T)[:3].T
    world = anatomy.centre + scale * (source - anatomy.centre)
    return _Candidates(world, _sample(anatomy, world, scale))


def _sample(anatomy: Anatomy, world: NDArray[np.float64], scale: float) -> NDArray[np.float32]:
    points = [world[:, a].astype(np.float32) for a in range(3)]
    return sample_tissues(anatomy, points, scale)


def _fits(anatomy: Anatomy, scale: float, centre: NDArray[np.float64], radius: float) -> bool:
    """Whether a ball of ``radius`` around ``centre`` lies in brain parenchyma or CSF."""
    directions = np.array(
        [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]
        + [[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)],
        dtype=np.float64,
    )
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    brain = _sample(anatomy, centre + radius * directions, scale).sum(axis=0)
    return bool(np.all(brain > 0.5))


def _lateral(anatomy: Anatomy, scale: float, world: NDArray[np.float64]) -> float:
    source_x = anatomy.centre[0] + (world[0] - anatomy.centre[0]) / scale
    return float(source_x - anatomy.midline_x)


def _rotation(rng: np.random.Generator) -> NDArray[np.float64]:
    return np.asarray(Rotation.random(random_state=rng).as_matrix(), dtype=np.float64)


def _plan_gbm(
    anatomy: Anatomy, scale: float, candidates: _Candidates, rng: np.random.Generator
) -> Lesion:
    diameter = rng.uniform(14.0, 24.0)
    radii = diameter / 2 * rng.uniform(0.8, 1.2, 3)
    radii *= diameter / 2 / np.cbrt(np.prod(radii))  # keep the volume of the drawn diameter
    white = candidates.tissues[2] / np.maximum(candidates.tissues.sum(axis=0), 1e-6)
    order = np.argsort(-(white > 0.6).astype(float) + rng.uniform(0, 0.5, len(white)))
    centre = candidates.world[order[0]]
    for index in order:
        point = candidates.world[index]
        lateral = abs(_lateral(anatomy, scale, point))
        if lateral > 0.6 * diameter and _fits(anatomy, scale, point, 0.75 * diameter):
            centre = point
            break
    return Lesion(
        "gbm",
        centre,
        radii,
        _rotation(rng),
        necrosis=float(rng.uniform(0.45, 0.7)),
        edema=float(rng.uniform(1.3, 1.8)),
        push=float(0.6 * diameter / 2),
        roughness=0.12,
        seed=int(rng.integers(2**31)),
    )


def _plan_metastases(
    anatomy: Anatomy, scale: float, candidates: _Candidates, rng: np.random.Generator
) -> list[Lesion]:
    brain = np.maximum(candidates.tissues.sum(axis=0), 1e-6)
    grey = candidates.tissues[1] / brain
    # Metastases lodge at the grey-white junction: try mixed grey/white points first.
    preference = np.abs(grey - 0.5) + candidates.tissues[0] + rng.uniform(0, 0.3, len(grey))
    wanted = int(rng.integers(2, 5))
    lesions: list[Lesion] = []
    for index in np.argsort(preference):
        radius = float(rng.uniform(2.5, 8.0))
        edema = float(min(rng.uniform(2.5, 4.0), 20.0 / radius))
        lesion = Lesion(
            "met",
            candidates.world[index],
            np.full(3, radius),
            _rotation(rng),
            necrosis=float(rng.uniform(0.3, 0.6)) if radius >= 4.0 else 0.0,
            edema=edema,
            push=0.5 * radius,
            roughness=0.06,
            seed=int(rng.integers(2**31)),
        )
        apart = all(
            np.linalg.norm(lesion.centre - other.centre) > lesion.reach + other.reach + 4.0
            for other in lesions
        )
        if apart and _fits(anatomy, scale, lesion.centre, 1.2 * radius):
            lesions.append(lesion)
        if len(lesions) == wanted:
            break
    return lesions


def _plan_meningioma(anatomy: Anatomy, scale: float, rng: np.random.Generator) -> Lesion:
    """A dome on the convexity: centred just beneath the brain surface, pushing the brain in.

    The push (a ball the size of the tumour) makes room for it, so the tumour indents the
    cortex and bulges a little beyond the original surface, as meningiomas do.
    """
    while True:
        direction = rng.normal(size=3)
        direction[2] = abs(direction[2]) + 0.3  # convexity and parasagittal, not skull base
        direction /= np.linalg.norm(direction)
        steps = np.arange(0.0, 130.0, 0.5)
        ray = anatomy.centre + steps[:, None] * direction
        brain = _sample(anatomy, ray, scale).sum(axis=0) > 0.5
        if brain.any():
            break
    surface = ray[np.flatnonzero(brain)[-1]]
    radius = float(rng.uniform(8.0, 20.0))
    radii = radius * rng.uniform(0.85, 1.15, 3)
    return Lesion(
        "men",
        surface - 0.25 * radius * direction,
        radii,
        _rotation(rng),
        necrosis=0.0,
        edema=float(rng.uniform(1.1, 1.4)) if rng.uniform() < 0.4 else 0.0,
        push=radius,
        roughness=0.08,
        seed=int(rng.integers(2**31)),
        extra_axial=True,
    )


def draw_lesions(lesions: Sequence[Lesion], warped: WarpedAnatomy, grid: Grid) -> NDArray[np.uint8]:
    """BraTS labels (uint8, the shape of the warped box) of ``lesions`` on warped anatomy."""
    shape = warped.tissues.shape[1:]
    labels = np.zeros(shape, dtype=np.uint8)
    for lesion in lesions:
        _draw(lesion, warped, grid, labels)
    return labels


def _local_box(lesion: Lesion, grid: Grid, box: Box) -> Box | None:
    centre = np.linalg.inv(grid.affine) @ np.append(lesion.centre, 1.0)
    pad = lesion.reach / grid.spacing + 2
    parts = []
    for axis, outer in enumerate(box):
        lo = max(outer.start, int(np.floor(centre[axis] - pad[axis])))
        hi = min(outer.stop, int(np.ceil(centre[axis] + pad[axis])) + 1)
        if hi <= lo:
            return None
        parts.append(slice(lo, hi))
    return (parts[0], parts[1], parts[2])


def _draw(lesion: Lesion, warped: WarpedAnatomy, grid: Grid, labels: NDArray[np.uint8]) -> None:
    local = _local_box(lesion, grid, warped.box)
    if local is None:
        return
    inner = tuple(
        slice(s.start - o.start, s.stop - o.start) for s, o in zip(local, warped.box, strict=True)
    )
    world = box_world(grid, local)
    shape = world[0].shape
    offsets = np.stack([w - np.float32(c) for w, c in zip(world, lesion.centre, strict=True)])
    aligned = np.tensordot(lesion.rotation.T.astype(np.float32), offsets, axes=1)
    plain = np.sqrt(sum((aligned[a] / np.float32(lesion.radii[a])) ** 2 for a in range(3))).astype(
        np.float32
    )
    rng = np.random.default_rng(lesion.seed)
    correlation = max(4.0, 0.8 * float(lesion.radii.mean()))
    shape_field = np.clip(smooth_field(rng, shape, grid.spacing, correlation), -2, 2)
    distance = plain * (1 + np.float32(lesion.roughness) * shape_field)

    core = distance < 1.0
    core.flat[int(np.argmin(plain))] = True  # a lesion smaller than a voxel still has one
    tissues = warped.tissues[(slice(None), *inner)]
    parenchyma = tissues[1] + tissues[2]
    brain = tissues.sum(axis=0) > 0.5
    if not lesion.extra_axial:
        core &= brain
    region = labels[inner]

    if lesion.edema > 0:
        white = tissues[2] / np.maximum(parenchyma, 1e-3)
        rough = np.clip(smooth_field(rng, shape, grid.spacing, 6.0), -2, 2)
        spread = plain * (1 + np.float32(0.15) * rough) * (1 + np.float32(0.9) * (1 - white))
        side = np.sign(warped.lateral[inner]) == np.sign(_centre_value(warped, grid, lesion))
        edema = (spread < lesion.edema) & (parenchyma > 0.5) & side & ~core
        # Keep only edema connected to this lesion's core.
        components, _ = ndimage.label(edema | core)
        keep = np.unique(components[core])
        edema &= np.isin(components, keep[keep > 0])
        region[edema & (region == 0)] = EDEMA

    region[core] = ENHANCING
    if lesion.necrosis > 0:
        necrosis = distance < lesion.necrosis
        necrosis &= ~ndimage.binary_dilation(~core, structure=np.ones((3, 3, 3), dtype=bool))
        region[necrosis] = NETC


def _centre_value(warped: WarpedAnatomy, grid: Grid, lesion: Lesion) -> float:
    voxel = np.rint(np.linalg.inv(grid.affine) @ np.append(lesion.centre, 1.0))[:3].astype(int)
    index = tuple(
        int(np.clip(v - s.start, 0, s.stop - s.start - 1))
        for v, s in zip(voxel, warped.box, strict=True)
    )
    return float(warped.lateral[index])

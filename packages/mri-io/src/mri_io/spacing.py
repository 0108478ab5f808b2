"""Run a model on the grid it learnt (voxel size and orientation), and hand its output back on
the case's own grid.

A network learns features in voxels: a model trained on 2 mm cases meets 1 mm data at half
the scale it knows, and its output degrades (measured: WT Dice 0.63 at 2 mm, 0.36 on the same
phantoms at 1 mm). nnU-Net stores its target spacing in its plans and resamples in and out; the
suite's models record the voxel size of their training cases, and inference goes through
:func:`case_at_spacing`: the case's images are resampled (linear) to the model's voxel size,
the model runs, and :meth:`Resampling.back` returns each output to the case's exact shape, so
it is written with the case's own affine and header.

The same holds for orientation: a network trained on L-P-S arrays has learnt which array axis
is left-right; an R-A-S case (or one with its axes permuted) hands it the brain mirrored or on
its side. Models record the axis codes of their training cases (:func:`training_orientation`),
and a case in another orientation is first reoriented to them, which only permutes and flips
axes (exact, no interpolation), then resampled, and outputs undo both.

A case already in the model's orientation and within :data:`SPACING_TOLERANCE` of its voxel
size is not touched at all. Resampling is scipy's spline ``zoom`` with corner-aligned grids
(its default), whose factors make the output shape exact; an axis of one voxel is kept as it
is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from numpy.typing import NDArray
from scipy.ndimage import zoom

from mri_io.case import Case
from mri_io.errors import CorruptFileError
from mri_io.layouts import CaseFiles
from mri_io.nifti import Volume
from mri_io.orientation import AxisCodes, axis_codes, orientation_transform, reorient

__all__ = [
    "SPACING_TOLERANCE",
    "Resampling",
    "case_at_spacing",
    "grid_record",
    "model_orientation",
    "model_spacing",
    "recorded_choice",
    "recorded_grid",
    "resampling_for",
    "training_orientation",
    "training_spacing",
    "zoom_factors",
]

#: Relative difference of voxel sizes below which a case is taken at the model's voxel size.
SPACING_TOLERANCE = 1e-3


def zoom_factors(
    spacing: Sequence[float], target: Sequence[float] | None
) -> tuple[float, float, float] | None:
    """Per-axis factors (case voxel size / target voxel size) that bring a grid of voxel size
    ``spacing`` to ``target``; ``None`` when no resampling is needed (no target, or within
    :data:`SPACING_TOLERANCE` on every axis)."""
    if target is None:
        return None
    if len(spacing) != 3 or len(target) != 3 or min(target) <= 0 or min(spacing) <= 0:
        raise ValueError(f"voxel sizes must be 3 positive values, got {spacing} and {target}")
    ratios = tuple(float(s) / float(t) for s, t in zip(spacing, target, strict=True))
    if all(abs(r - 1.0) <= SPACING_TOLERANCE for r in ratios):
        return None
    return ratios[0], ratios[1], ratios[2]


def _zoom_to(array: NDArray[Any], shape: Sequence[int], order: int) -> NDArray[Any]:
    """``array`` (leading axes kept) resampled on its last three axes to exactly ``shape``."""
    lead = array.ndim - 3
    factors = [1.0] * lead + [n / m for n, m in zip(shape, array.shape[lead:], strict=True)]
    result: NDArray[Any] = zoom(array, factors, order=order)
    return result


#: nibabel orientation transform rows: (target axis, flip) of each source axis.
Transform = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]


def _orient(array: NDArray[Any], transform: Transform) -> NDArray[Any]:
    """``array`` with its last three axes permuted and flipped by ``transform``."""
    lead = array.ndim - 3
    spatial = list(range(lead, array.ndim))
    for axis, (_, flip) in enumerate(transform):
        if flip == -1:
            array = np.flip(array, axis=lead + axis)
    order = [*range(lead), 0, 0, 0]
    for axis, (target, _) in enumerate(transform):
        order[lead + target] = spatial[axis]
    return np.ascontiguousarray(array.transpose(order))


def _inverse(transform: Transform) -> Transform:
    """The transform that undoes ``transform`` (flip each target axis back, then permute)."""
    rows = [(0, 1)] * 3
    for axis, (target, flip) in enumerate(transform):
        rows[target] = (axis, flip)
    return rows[0], rows[1], rows[2]


@dataclass(frozen=True)
class Resampling:
    """How a case was brought to a model's grid: its own spatial ``shape``, the axis
    ``transform`` that reoriented it (``None``: its orientation was kept) and the ``shape``
    the model saw (``model_shape``)."""

    shape: tuple[int, int, int]
    model_shape: tuple[int, int, int]
    transform: Transform | None = None

    @property
    def oriented_shape(self) -> tuple[int, int, int]:
        """The case's shape after reorientation, before resampling."""
        if self.transform is None:
            return self.shape
        sizes = [0, 0, 0]
        for size, (target, _) in zip(self.shape, self.transform, strict=True):
            sizes[target] = size
        return sizes[0], sizes[1], sizes[2]

    @property
    def identity(self) -> bool:
        """Whether the model saw the case on its own grid."""
        return self.transform is None and self.shape == self.model_shape

    def forward(self, array: NDArray[Any], *, order: int = 1) -> NDArray[Any]:
        """An array on the case's grid (leading axes allowed) on the model's grid."""
        if array.shape[array.ndim - 3 :] != self.shape:
            raise ValueError(
                f"expected an array on the case's grid {self.shape}, got {array.shape}"
            )
        if self.transform is not None:
            array = _orient(array, self.transform)
        if self.oriented_shape == self.model_shape:
            return array
        return _zoom_to(array, self.model_shape, order)

    def back(self, array: NDArray[Any], *, order: int = 1) -> NDArray[Any]:
        """An output on the model's grid (leading axes allowed) on the case's exact grid:
        ``order=1`` for images and probabilities, ``order=0`` for labels."""
        if array.shape[array.ndim - 3 :] != self.model_shape:
            raise ValueError(
                f"expected an output on the model's grid {self.model_shape}, got {array.shape}"
            )
        if self.oriented_shape != self.model_shape:
            array = _zoom_to(array, self.oriented_shape, order)
        if self.transform is not None:
            array = _orient(array, _inverse(self.transform))
        return array


def _resampled(volume: Volume, shape: tuple[int, int, int], order: int) -> Volume:
    """``volume`` on a grid of ``shape`` covering the same field of view: corner voxel
    centres stay in place, so each axis's step is scaled by (n - 1) / (m - 1)."""
    data = _zoom_to(volume.data, shape, order)
    affine = volume.affine.copy()
    for axis, (old, new) in enumerate(zip(volume.shape, shape, strict=True)):
        if new > 1:
            affine[:3, axis] *= (old - 1) / (new - 1) if old > 1 else 1.0
    return Volume(data.astype(volume.data.dtype, copy=False), affine, volume.header, volume.path)


def resampling_for(
    reference: Volume,
    spacing: Sequence[float] | None,
    orientation: Sequence[str] | None = None,
) -> Resampling:
    """The :class:`Resampling` that takes the grid of ``reference`` (a case's image) to axis
    codes ``orientation`` (``None``: kept) and voxel size ``spacing`` over the same field of
    view (``None``, or within :data:`SPACING_TOLERANCE`: not resampled)."""
    shape, sizes = reference.shape, reference.spacing
    transform: Transform | None = None
    if orientation is not None:
        rows = orientation_transform(reference.affine, tuple(orientation))
        moved = tuple((int(target), int(flip)) for target, flip in rows)
        if moved != ((0, 1), (1, 1), (2, 1)):
            transform = (moved[0], moved[1], moved[2])
            oriented = [0.0, 0.0, 0.0]
            for size, (target, _) in zip(sizes, transform, strict=True):
                oriented[target] = size
            sizes = (oriented[0], oriented[1], oriented[2])
    oriented_shape = Resampling(shape, shape, transform).oriented_shape
    factors = zoom_factors(sizes, spacing)
    if factors is None:
        return Resampling(shape, oriented_shape, transform)
    a, b, c = (max(1, round(n * f)) for n, f in zip(oriented_shape, factors, strict=True))
    return Resampling(shape, (a, b, c), transform)


def case_at_spacing(
    case: Case, spacing: Sequence[float] | None, orientation: Sequence[str] | None = None
) -> tuple[Case, Resampling]:
    """``case`` reoriented to axis codes ``orientation`` (exact) with its images (linear) and
    segmentation (nearest) resampled to voxel size ``spacing`` (mm); ``None`` leaves either as
    it is. Returns it and the :class:`Resampling` that maps outputs back to the case's grid.
    The case itself is not changed."""
    if not case.images:
        raise ValueError(f"case {case.case_id} has no image to take the grid from")
    reference = next(iter(case.images.values()))
    codes = model_orientation(orientation)
    resampling = resampling_for(reference, spacing, codes)
    if resampling.identity:
        return case, resampling

    def moved(volume: Volume, order: int) -> Volume:
        if codes is not None and resampling.transform is not None:
            volume, _ = reorient(volume, codes)
        if volume.shape == resampling.model_shape:
            return volume
        return _resampled(volume, resampling.model_shape, order)

    images = {name: moved(volume, 1) for name, volume in case.images.items()}
    seg = None if case.seg is None else moved(case.seg, 0)
    return Case(case.case_id, images, seg, case.missing, case.label_convention), resampling


def model_spacing(value: Sequence[float] | None) -> tuple[float, float, float] | None:
    """A model config's recorded voxel size as a tuple (``None``: the model takes any grid),
    checked: three positive millimetre values."""
    if value is None:
        return None
    sizes = tuple(float(v) for v in value)
    if len(sizes) != 3 or min(sizes) <= 0 or not all(np.isfinite(sizes)):
        raise ValueError(f"spacing must be 3 positive voxel sizes in mm, got {list(value)}")
    return sizes[0], sizes[1], sizes[2]


def model_orientation(value: Sequence[str] | None) -> AxisCodes | None:
    """A model config's recorded axis codes (``None``: the model takes any orientation),
    checked: each of L/R, A/P, S/I once."""
    if value is None:
        return None
    codes = tuple(str(code) for code in value)
    # A transform to the codes validates them and names what is wrong.
    orientation_transform(np.eye(4), codes)
    return codes[0].upper(), codes[1].upper(), codes[2].upper()


def _header_affines(cases: Sequence[CaseFiles]) -> list[NDArray[np.float64]]:
    """The affine of the first image of each case, read from its header alone."""
    affines = []
    for files in cases:
        if not files.sequences:
            continue
        path = next(iter(files.sequences.values()))
        try:
            image: Any = nib.load(path)  # the header only: the data is not read
        except (OSError, ImageFileError) as exc:
            raise CorruptFileError(path, f"cannot read its header: {exc}") from None
        affines.append(np.asarray(image.affine, dtype=np.float64))
    if not affines:
        raise ValueError("no case with an image to take the grid from")
    return affines


def training_spacing(cases: Sequence[CaseFiles]) -> tuple[float, float, float]:
    """The voxel size a model trained on ``cases`` learns at, to record in its model folder:
    the median over the cases of each axis's voxel size (nnU-Net's choice of target spacing),
    read from the first image's header of each case (its affine, as :class:`Volume` does)."""
    sizes = [np.sqrt(np.sum(affine[:3, :3] ** 2, axis=0)) for affine in _header_affines(cases)]
    x, y, z = np.median(np.stack(sizes), axis=0)
    return float(x), float(y), float(z)


def training_orientation(cases: Sequence[CaseFiles]) -> AxisCodes | None:
    """The axis codes a model trained on ``cases`` learns, to record in its model folder:
    those every case shares; ``None`` when the cases disagree, since the network then saw
    every one of them and inference should not reorient."""
    codes = {axis_codes(affine) for affine in _header_affines(cases)}
    return codes.pop() if len(codes) == 1 else None


def recorded_choice(name: str, value: str | None, applied: str) -> str:
    """A preprocessing choice a model folder records (``name``: its intensity normalisation,
    its crop/pad policy), checked against the one the family's code ``applied`` today.

    A network only works on inputs prepared as in its training; a folder written by a version
    that normalised differently would load and produce confident nonsense, so it is refused
    (``ValueError``, which the loaders report naming the ``config.json``). ``None``: a folder
    written before the choice was recorded, taken as today's.
    """
    if value is not None and value != applied:
        raise ValueError(
            f"the model was trained with {name} {value!r}, but this version applies {applied!r}; "
            "retrain it or use the version that wrote it"
        )
    return applied


def grid_record(
    spacing: Sequence[float] | None,
    orientation: Sequence[str] | None,
    normalisation: str,
    crop: str,
) -> dict[str, Any]:
    """What a model folder's config records of the inputs it learnt on, for
    :func:`recorded_grid` to read back: voxel size, axis codes, intensity normalisation (an
    :mod:`mri_io.intensity` scheme) and crop/pad policy."""
    return {
        "spacing": None if spacing is None else [float(v) for v in spacing],
        "orientation": None if orientation is None else [str(c) for c in orientation],
        "normalisation": normalisation,
        "crop": crop,
    }


def recorded_grid(
    config: Mapping[str, Any], normalisation: str, crop: str
) -> tuple[tuple[float, float, float] | None, AxisCodes | None]:
    """The voxel size and axis codes a model config records (``None`` where absent), after
    checking its normalisation and crop/pad policy against the family's (``normalisation``,
    ``crop``: :func:`recorded_choice`); ``ValueError`` says what is wrong."""
    recorded_choice("normalisation", config.get("normalisation"), normalisation)
    recorded_choice("crop/pad policy", config.get("crop"), crop)
    return model_spacing(config.get("spacing")), model_orientation(config.get("orientation"))

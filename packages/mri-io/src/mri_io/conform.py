"""Bring any scan to the BraTS grid (L-P-S, 1 mm, 240x240x155, brain centred) and back.

:func:`conform_case` resamples every file of a case onto one target grid: axes along L, P and S
as nibabel reads BraTS files, a chosen spacing and shape, and the affine of BraTS files for the
default 1 mm 240x240x155 (:data:`mri_io.nifti.BRATS_AFFINE`). Images are interpolated linearly,
label maps by nearest neighbour (:func:`scipy.ndimage.affine_transform`). The brain (the
non-zero voxels of all the case's files) is moved to the centre of the grid: every conformed
case shares one affine, as BraTS cases in SRI24 space do, so the move is a world-space
translation, ``shift_mm``, recorded in a :class:`ConformRecord` (``conform.json`` beside the
case's files) with each source file's affine and shape.

:func:`unconform` maps a volume made on the conformed grid (a predicted label map) back to an
original file's grid: that grid's shape and affine exactly (the original file's header too when
it is still there). Where resampling loses nothing (integer ratios of voxel sizes, no rotation)
the round trip of a label map is exact: the shift is rounded so that target voxels fall on
source voxel centres. An oblique scan is resampled without its rotation (the target axes are
the world axes), which no rounding can make lossless.

World coordinates: a point ``w`` of the source lands at ``w + shift_mm`` on the conformed grid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from mri_io.atomic import atomic_folder, atomic_write_text
from mri_io.case import load_case
from mri_io.errors import LayoutError
from mri_io.layouts import SEG, CaseFiles, brats2023_filename
from mri_io.nifti import (
    BRATS_SHAPE,
    Volume,
    check_finite,
    load_labels,
    load_volume,
    new_volume,
    save_volume,
)

#: The record written beside each conformed case.
RECORD_FILE: Final = "conform.json"

#: Default target spacing in mm (BraTS, SRI24).
DEFAULT_SPACING: Final = (1.0, 1.0, 1.0)

_FORMAT = "mri-io conform"
_VERSION = 1
_SNAP = 1e-6


def target_affine(
    spacing: Sequence[float] = DEFAULT_SPACING, shape: Sequence[int] = BRATS_SHAPE
) -> npt.NDArray[np.float64]:
    """The conformed grid's affine: axes L, P, S; BraTS's own affine at 1 mm 240x240x155."""
    sx, sy, sz = (float(value) for value in spacing)
    affine = np.diag([-sx, -sy, sz, 1.0])
    affine[1, 3] = (int(shape[1]) - 1) * sy
    return affine


@dataclass(frozen=True)
class SourceGrid:
    """One original file's grid: where it was, its affine and its shape."""

    file: str
    affine: npt.NDArray[np.float64]
    shape: tuple[int, int, int]


@dataclass(frozen=True)
class ConformRecord:
    """How a case was conformed: enough to map anything on the conformed grid back."""

    case_id: str
    spacing: tuple[float, float, float]
    shape: tuple[int, int, int]
    affine: npt.NDArray[np.float64]
    shift_mm: tuple[float, float, float]
    brain_centre_mm: tuple[float, float, float]
    sources: Mapping[str, SourceGrid]
    reference: str

    def voxel_map(self, key: str | None = None) -> npt.NDArray[np.float64]:
        """4x4 map from conformed voxel indices to voxel indices of source ``key`` (the
        reference by default)."""
        source = self._source(key)
        translation = np.eye(4)
        translation[:3, 3] = -np.asarray(self.shift_mm)
        return _snap(np.linalg.inv(source.affine) @ translation @ self.affine)

    def _source(self, key: str | None) -> SourceGrid:
        chosen = self.reference if key is None else key
        if chosen not in self.sources:
            raise KeyError(f"no source {chosen!r} in the record (has {', '.join(self.sources)})")
        return self.sources[chosen]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready values; floats are written exactly (``repr``) and read back bit for bit."""
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "case_id": self.case_id,
            "target": {
                "spacing": list(self.spacing),
                "shape": list(self.shape),
                "affine": self.affine.tolist(),
                "axes": ["L", "P", "S"],
            },
            "shift_mm": list(self.shift_mm),
            "brain_centre_mm": list(self.brain_centre_mm),
            "reference": self.reference,
            "sources": {
                key: {"file": grid.file, "affine": grid.affine.tolist(), "shape": list(grid.shape)}
                for key, grid in self.sources.items()
            },
        }

    @classmethod
    def from_json(cls, fields: Mapping[str, Any]) -> ConformRecord:
        """The record :meth:`to_json` wrote."""
        if fields.get("format") != _FORMAT:
            raise ValueError(f"not a conform record (format {fields.get('format')!r})")
        target = fields["target"]
        sources = {
            str(key): SourceGrid(
                str(grid["file"]),
                np.asarray(grid["affine"], dtype=np.float64),
                _triple(grid["shape"], int),
            )
            for key, grid in fields["sources"].items()
        }
        return cls(
            case_id=str(fields["case_id"]),
            spacing=_triple(target["spacing"], float),
            shape=_triple(target["shape"], int),
            affine=np.asarray(target["affine"], dtype=np.float64),
            shift_mm=_triple(fields["shift_mm"], float),
            brain_centre_mm=_triple(fields["brain_centre_mm"], float),
            sources=sources,
            reference=str(fields["reference"]),
        )

    def save(self, path: str | PathLike[str]) -> Path:
        """Write the record as JSON (atomically)."""
        return atomic_write_text(Path(path), json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | PathLike[str]) -> ConformRecord:
        """Read a record; a file that is not one raises :class:`LayoutError` naming it."""
        source = Path(path)
        try:
            return cls.from_json(json.loads(source.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise LayoutError(source, f"cannot read the conform record ({exc})") from None


def _triple(values: Sequence[Any], kind: type) -> Any:
    first, second, third = (kind(value) for value in values)
    return first, second, third


def _snap(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Entries within rounding error of a whole number become that number."""
    rounded = np.round(matrix)
    return np.where(np.abs(matrix - rounded) < _SNAP, rounded, matrix)


def _world_extent(volume: Volume) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    indices = np.argwhere(volume.data != 0).astype(np.float64)
    points = indices @ volume.affine[:3, :3].T + volume.affine[:3, 3]
    return points.min(axis=0), points.max(axis=0)


def plan_conform(
    volumes: Mapping[str, Volume],
    *,
    case_id: str = "case",
    spacing: Sequence[float] = DEFAULT_SPACING,
    shape: Sequence[int] = BRATS_SHAPE,
    reference: str | None = None,
) -> ConformRecord:
    """The record that conforms ``volumes`` (one case's files, by key) onto the target grid.

    The brain centre is the centre of the world-space box around every non-zero voxel of every
    volume; it is moved to the centre of the grid, rounded so that the voxels of ``reference``
    (the segmentation if there is one, else the first volume) fall on target voxel centres
    where the spacings allow it.
    """
    if not volumes:
        raise ValueError("nothing to conform: no volume given")
    spacing3 = _triple(spacing, float)
    shape3 = _triple(shape, int)
    if min(spacing3) <= 0 or min(shape3) <= 0:
        raise ValueError(f"spacing {spacing3} and shape {shape3} must be positive")
    chosen = reference or (SEG if SEG in volumes else next(iter(volumes)))
    extents = [_world_extent(volume) for volume in volumes.values() if np.any(volume.data)]
    if not extents:
        raise ValueError(f"case {case_id}: every volume is empty, there is no brain to centre")
    low = np.min([extent[0] for extent in extents], axis=0)
    high = np.max([extent[1] for extent in extents], axis=0)
    centre = (low + high) / 2
    affine = target_affine(spacing3, shape3)
    grid_centre = affine[:3, :3] @ ((np.asarray(shape3, dtype=np.float64) - 1) / 2) + affine[:3, 3]
    shift = grid_centre - centre
    source = volumes[chosen].affine
    # source voxel of target voxel 0, rounded to a voxel centre, and the shift that puts it there
    first = np.linalg.solve(source[:3, :3], affine[:3, 3] - shift - source[:3, 3])
    shift = affine[:3, 3] - source[:3, :3] @ np.round(first) - source[:3, 3]
    return ConformRecord(
        case_id=case_id,
        spacing=spacing3,
        shape=shape3,
        affine=affine,
        shift_mm=_triple(shift.tolist(), float),
        brain_centre_mm=_triple(centre.tolist(), float),
        sources={
            key: SourceGrid(
                "" if volume.path is None else str(volume.path),
                volume.affine.copy(),
                volume.shape,
            )
            for key, volume in volumes.items()
        },
        reference=chosen,
    )


def _resample(
    data: npt.NDArray[Any],
    voxel_map: npt.NDArray[np.float64],
    shape: tuple[int, int, int],
    order: int,
) -> npt.NDArray[Any]:
    labels = order == 0
    values = data if labels else data.astype(np.float32, copy=False)
    out: npt.NDArray[Any] = ndimage.affine_transform(
        values,
        voxel_map[:3, :3],
        offset=voxel_map[:3, 3],
        output_shape=shape,
        order=order,
        mode="constant",
        cval=0.0,
        prefilter=False,
    )
    return out


def conform_volume(
    volume: Volume, record: ConformRecord, key: str | None = None, *, labels: bool = False
) -> Volume:
    """``volume`` (on the grid of source ``key``) resampled onto the conformed grid.

    Linear interpolation for images (float32), nearest neighbour for label maps (``labels``).
    """
    grid = record._source(key)
    if volume.shape != grid.shape:
        raise ValueError(f"volume has shape {volume.shape}, its source grid {grid.shape}")
    data = _resample(volume.data, record.voxel_map(key), record.shape, 0 if labels else 1)
    return new_volume(data, record.affine)


def unconform(
    volume: Volume | npt.NDArray[Any],
    record: ConformRecord,
    key: str | None = None,
    *,
    labels: bool = True,
    reference: Volume | None = None,
) -> Volume:
    """A volume on the conformed grid mapped back onto the grid of source ``key``.

    The result has that grid's shape and affine exactly, and ``reference``'s header (by default
    the original file's, read from the path in the record when it still exists). Label maps
    (``labels``, the default) are sampled by nearest neighbour, images linearly.
    """
    data = volume.data if isinstance(volume, Volume) else np.asarray(volume)
    if tuple(data.shape) != record.shape:
        raise ValueError(f"volume has shape {data.shape}, the conformed grid {record.shape}")
    grid = record._source(key)
    inverse = _snap(np.asarray(np.linalg.inv(record.voxel_map(key)), dtype=np.float64))
    values = _resample(data, inverse, grid.shape, 0 if labels else 1)
    if reference is None and grid.file and Path(grid.file).is_file():
        original = load_volume(grid.file, dtype=None)
        if original.shape == grid.shape and np.array_equal(original.affine, grid.affine):
            reference = original
    if reference is not None:
        return Volume(values, grid.affine.copy(), reference.header, None)
    return new_volume(values, grid.affine)


def conform_case(
    source: CaseFiles | str | PathLike[str],
    out_dir: str | PathLike[str],
    *,
    spacing: Sequence[float] = DEFAULT_SPACING,
    shape: Sequence[int] = BRATS_SHAPE,
) -> Path:
    """Conform one case and write ``OUT/CASE/CASE-{key}.nii.gz`` and ``OUT/CASE/conform.json``.

    Images are written as float32, the segmentation as uint8. The case's files may lie on
    different grids (each is resampled from its own); the folder appears whole or not at all.
    """
    volumes, case_id = _read_case(source)
    record = plan_conform(volumes, case_id=case_id, spacing=spacing, shape=shape)
    with atomic_folder(Path(out_dir) / case_id) as folder:
        for key, volume in volumes.items():
            conformed = conform_volume(volume, record, key, labels=key == SEG)
            name = brats2023_filename(case_id, key)
            save_volume(conformed, folder / name, dtype="uint8" if key == SEG else "float32")
        record.save(folder / RECORD_FILE)
    return Path(out_dir) / case_id


def _read_case(source: CaseFiles | str | PathLike[str]) -> tuple[dict[str, Volume], str]:
    """The case's volumes by key; files of a case may sit on different grids here."""
    if not isinstance(source, CaseFiles) or source.volumes:
        case = load_case(source)  # 4D files and single-case folders
        volumes = dict(case.images)
        if case.seg is not None:
            volumes[SEG] = case.seg
        return volumes, case.case_id
    volumes = {key: load_volume(path) for key, path in source.sequences.items()}
    for volume in volumes.values():
        check_finite(volume)
    if source.seg is not None:
        volumes[SEG] = load_labels(source.seg)
    return volumes, source.case_id

"""Axis orientation: which anatomical direction each array axis points to, and changing it.

nibabel reads BraTS files as L-P-S while MONAI pipelines usually expect R-A-S. A reorientation
only permutes and flips axes, so it is exact; :func:`undo_reorient` restores the original array,
affine and header bit for bit, which is what lets a prediction made in R-A-S be written back
onto the source grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import nibabel.orientations as orientations
import numpy as np
import numpy.typing as npt

from mri_io.nifti import Volume

AxisCodes = tuple[str, str, str]

_OPPOSITE = {"R": "L", "L": "R", "A": "P", "P": "A", "S": "I", "I": "S"}
_nib: Any = orientations


@dataclass(frozen=True, eq=False)
class Reorientation:
    """What :func:`reorient` did: the axis transform and the geometry it replaced."""

    source_codes: AxisCodes
    target_codes: AxisCodes
    transform: npt.NDArray[np.float64]
    source_affine: npt.NDArray[np.float64]
    source_shape: tuple[int, int, int]
    reoriented_shape: tuple[int, int, int]


def axis_codes(affine: npt.ArrayLike) -> AxisCodes:
    """The direction each voxel axis points to, e.g. ``("L", "P", "S")`` for BraTS files."""
    codes = _nib.aff2axcodes(np.asarray(affine, dtype=np.float64))
    if None in codes:
        raise ValueError(f"the affine does not give every axis a direction: {codes}")
    first, second, third = (str(code) for code in codes)
    return first, second, third


def _validate_codes(codes: tuple[str, ...]) -> AxisCodes:
    upper = tuple(code.upper() for code in codes)
    axes = {frozenset((code, _OPPOSITE.get(code, code))) for code in upper}
    if len(upper) != 3 or any(code not in _OPPOSITE for code in upper) or len(axes) != 3:
        raise ValueError(
            f"axis codes must name each of L/R, A/P, S/I once (e.g. R, A, S), got {codes}"
        )
    return upper[0], upper[1], upper[2]


def orientation_transform(affine: npt.ArrayLike, codes: tuple[str, ...]) -> npt.NDArray[np.float64]:
    """nibabel's orientation transform (``(3, 2)``: target axis and flip of each source axis)
    that takes an array on ``affine``'s grid to one whose axes point along ``codes``."""
    start = _nib.io_orientation(np.asarray(affine, dtype=np.float64))
    target = _nib.axcodes2ornt(_validate_codes(codes))
    return np.asarray(_nib.ornt_transform(start, target), dtype=np.float64)


def reorient(
    volume: Volume, codes: tuple[str, str, str] = ("R", "A", "S")
) -> tuple[Volume, Reorientation]:
    """Permute and flip the axes of ``volume`` so they point along ``codes``.

    The new affine maps each voxel to the same millimetre position as before, so the image does
    not move in space; only the array order changes. Returns the new volume and the record that
    :func:`undo_reorient` needs.
    """
    target = _validate_codes(codes)
    transform = orientation_transform(volume.affine, target)
    data = np.ascontiguousarray(_nib.apply_orientation(volume.data, transform))
    affine = volume.affine @ _nib.inv_ornt_aff(transform, volume.shape)
    record = Reorientation(
        source_codes=axis_codes(volume.affine),
        target_codes=target,
        transform=transform,
        source_affine=volume.affine.copy(),
        source_shape=volume.shape,
        reoriented_shape=(int(data.shape[0]), int(data.shape[1]), int(data.shape[2])),
    )
    return Volume(data, affine, volume.header, volume.path), record


def undo_reorient(volume: Volume, record: Reorientation) -> Volume:
    """Bring a volume on the reoriented grid back to the source grid, affine included, exactly.

    ``volume`` may be the output of :func:`reorient` or any array made on its grid (a predicted
    segmentation, say); its shape must be the reoriented shape.
    """
    if volume.shape != record.reoriented_shape:
        raise ValueError(
            f"volume has shape {volume.shape}, but the reoriented grid is {record.reoriented_shape}"
        )
    inverse = _nib.ornt_transform(
        _nib.axcodes2ornt(record.target_codes), _nib.io_orientation(record.source_affine)
    )
    data = np.ascontiguousarray(_nib.apply_orientation(volume.data, inverse))
    return Volume(data, record.source_affine.copy(), volume.header, volume.path)

"""Load one case (its sequences and segmentation) and check that its files agree.

Training code trusts that voxel ``(i, j, k)`` is the same point in every sequence and that the
segmentation holds only known labels. Those assumptions fail silently on real data (a
sequence resampled on another grid, a NaN from a bad conversion, a BraTS 2021 label 4 in a
2023-style dataset), so :func:`load_case` checks them and names the file that breaks them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mri_io.errors import (
    DimensionError,
    GeometryMismatchError,
    LabelError,
    LayoutError,
    MissingSequenceError,
)
from mri_io.labels import check_labels, convert_labels, guess_label_convention
from mri_io.layouts import CaseFiles, scan_cases
from mri_io.nifti import Volume, check_finite, load_labels, load_volume
from mri_io.nnunet import load_channels
from mri_io.sequences import canonical_sequence


@dataclass(eq=False)
class Case:
    """The loaded images of one case by canonical sequence key, and its segmentation."""

    case_id: str
    images: dict[str, Volume]
    seg: Volume | None
    missing: tuple[str, ...]
    label_convention: str | None = None


def load_case(
    source: CaseFiles | str | PathLike[str],
    *,
    label_convention: str | None = None,
    affine_tolerance: float = 1e-4,
    require: Iterable[str] = (),
    dtype: npt.DTypeLike = np.float32,
) -> Case:
    """Read a case and check it.

    ``source`` is a :class:`CaseFiles` from :func:`scan_cases` or a folder holding exactly one
    case. Images are read as ``dtype`` and the segmentation as exact uint8 labels. Checks, each
    raising its own error naming the file: every file is one 3D volume with finite values
    (:class:`DimensionError`, :class:`NonFiniteError`); all files share the first file's shape
    and, within ``affine_tolerance`` per matrix entry, its affine
    (:class:`GeometryMismatchError`); every sequence in ``require`` is present
    (:class:`MissingSequenceError`); the segmentation holds only labels of ``label_convention``
    (:class:`LabelError`), which is the one the dataset declares (nnU-Net/MSD) or is guessed
    from the labels when not given. When the dataset declares a convention and ``label_convention``
    names another, the labels are converted (:data:`mri_io.labels.LABEL_CONVERSIONS`).
    """
    files = _case_files(source)
    absent = sorted({canonical_sequence(name) for name in require} & set(files.missing))
    if absent:
        raise MissingSequenceError(
            files.folder, f"case {files.case_id} has no {', '.join(absent)} file"
        )
    images = _load_images(files, dtype)
    seg = None if files.seg is None else load_labels(files.seg)
    volumes = [*images.values(), *([seg] if seg is not None else [])]
    for volume in images.values():
        check_finite(volume)
    for volume in volumes[1:]:
        _check_same_grid(volumes[0], volume, affine_tolerance)
    convention = label_convention
    declared = files.label_convention
    if seg is not None and declared is not None and convention not in (None, declared):
        check_labels(seg.data, declared, seg.path)
        seg = seg.with_data(convert_labels(seg.data, declared, str(convention)))
    if seg is not None:
        convention = convention or declared
        if convention is None:
            try:
                convention = guess_label_convention(seg.data)
            except LabelError as exc:
                raise LabelError(seg.path, exc.problem) from None
        check_labels(seg.data, convention, seg.path)
    return Case(files.case_id, images, seg, files.missing, convention)


def _load_images(files: CaseFiles, dtype: npt.DTypeLike) -> dict[str, Volume]:
    """Each sequence's volume: its own 3D file, or its volume of a 4D file (MSD layout)."""
    stacks: dict[Path, list[Volume]] = {}
    images = {}
    for key, path in files.sequences.items():
        if key in files.volumes:
            if path not in stacks:
                stacks[path] = load_channels(path, dtype=dtype)
            stack = stacks[path]
            index = files.volumes[key]
            if index >= len(stack):
                raise DimensionError(
                    path, f"holds {len(stack)} volumes; {key} should be volume {index}"
                )
            images[key] = stack[index]
        else:
            images[key] = load_volume(path, dtype=dtype)
    return images


def _case_files(source: CaseFiles | str | PathLike[str]) -> CaseFiles:
    if isinstance(source, CaseFiles):
        return source
    cases = scan_cases(Path(source))
    if len(cases) != 1:
        names = ", ".join(case.case_id for case in cases[:3]) + (", ..." if len(cases) > 3 else "")
        raise LayoutError(
            source, f"folder holds {len(cases)} cases ({names}); give one case's folder"
        )
    return cases[0]


def _check_same_grid(reference: Volume, volume: Volume, tolerance: float) -> None:
    reference_name = reference.path.name if reference.path else "the first image"
    if volume.shape != reference.shape:
        raise GeometryMismatchError(
            volume.path, f"shape {volume.shape} differs from {reference_name}'s {reference.shape}"
        )
    difference = float(np.max(np.abs(volume.affine - reference.affine)))
    if difference > tolerance:
        raise GeometryMismatchError(
            volume.path,
            f"affine differs from {reference_name}'s by up to {difference:.6g} "
            f"(tolerance {tolerance:g}):\n{volume.affine}\nvs\n{reference.affine}",
        )

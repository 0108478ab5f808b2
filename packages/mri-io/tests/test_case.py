"""Loading a case: each inconsistency between its files raises its own error naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nibabel
import numpy as np
import pytest

from mri_io.case import load_case
from mri_io.errors import (
    DimensionError,
    GeometryMismatchError,
    LabelError,
    LayoutError,
    MissingSequenceError,
    NonFiniteError,
)
from mri_io.layouts import brats2023_filename, scan_cases
from mri_io.nifti import BRATS_AFFINE, new_volume, save_volume

#: nibabel has no annotations; it is the reference here, strict typing covers our side.
nib: Any = nibabel

CASE = "BraTS-GLI-00007-000"
SHAPE = (24, 20, 16)


def write_case(
    folder: Path,
    keys: tuple[str, ...] = ("t1n", "t1c", "t2w", "t2f"),
    labels: tuple[int, ...] = (1, 2, 3),
) -> Path:
    rng = np.random.default_rng(7)
    for key in keys:
        image = new_volume(rng.uniform(0, 900, size=SHAPE).astype(np.float32), BRATS_AFFINE)
        save_volume(image, folder / brats2023_filename(CASE, key))
    seg = np.zeros(SHAPE, dtype=np.uint8)
    for offset, label in enumerate(labels):
        seg[8 + offset, 8:12, 6:10] = label
    save_volume(new_volume(seg, BRATS_AFFINE), folder / brats2023_filename(CASE, "seg"))
    return folder


def test_loads_a_consistent_case(tmp_path: Path) -> None:
    case = load_case(write_case(tmp_path))
    assert case.case_id == CASE
    assert sorted(case.images) == ["t1c", "t1n", "t2f", "t2w"]
    assert case.missing == ()
    assert case.label_convention == "brats2023"
    assert case.seg is not None
    assert case.seg.data.dtype == np.uint8
    assert int(case.seg.data.sum()) == 4 * 4 * (1 + 2 + 3)
    reference = nib.load(tmp_path / brats2023_filename(CASE, "t2w")).get_fdata()
    np.testing.assert_array_equal(case.images["t2w"].data, reference.astype(np.float32))
    np.testing.assert_array_equal(case.images["t1n"].affine, BRATS_AFFINE)


def test_case_files_from_a_scan_and_missing_sequences(tmp_path: Path) -> None:
    write_case(tmp_path / "a", keys=("t1n", "t2w", "t2f"))
    (files,) = scan_cases(tmp_path)
    case = load_case(files, require=("t1", "flair"))
    assert case.missing == ("t1c",)
    with pytest.raises(MissingSequenceError, match=rf"case {CASE} has no t1c file"):
        load_case(files, require=("T1Gd",))


def test_shape_mismatch_names_the_file(tmp_path: Path) -> None:
    write_case(tmp_path)
    odd = new_volume(np.zeros((24, 20, 15), dtype=np.float32), BRATS_AFFINE)
    save_volume(odd, tmp_path / brats2023_filename(CASE, "t2f"))
    with pytest.raises(GeometryMismatchError, match=r"t2f\.nii\.gz: shape \(24, 20, 15\) differs"):
        load_case(tmp_path)


def test_affine_mismatch_respects_the_tolerance(tmp_path: Path) -> None:
    write_case(tmp_path)
    shifted = BRATS_AFFINE.copy()
    shifted[0, 3] += 0.01
    image = new_volume(np.zeros(SHAPE, dtype=np.float32), shifted)
    save_volume(image, tmp_path / brats2023_filename(CASE, "t1c"))
    with pytest.raises(GeometryMismatchError, match=r"t1c\.nii\.gz: affine differs .* 0\.01"):
        load_case(tmp_path)
    assert sorted(load_case(tmp_path, affine_tolerance=0.02).images) == ["t1c", "t1n", "t2f", "t2w"]


def test_nan_names_the_file(tmp_path: Path) -> None:
    write_case(tmp_path)
    data = np.ones(SHAPE, dtype=np.float32)
    data[3, 3, 3] = np.nan
    save_volume(new_volume(data, BRATS_AFFINE), tmp_path / brats2023_filename(CASE, "t2w"))
    with pytest.raises(NonFiniteError, match=r"t2w\.nii\.gz: 1 of 7680 voxels"):
        load_case(tmp_path)


def test_labels_outside_the_profile(tmp_path: Path) -> None:
    write_case(tmp_path, labels=(1, 2, 4))
    assert load_case(tmp_path).label_convention == "brats2021"
    with pytest.raises(LabelError, match=r"seg\.nii\.gz: labels \[4\] are not in .*'brats2023'"):
        load_case(tmp_path, label_convention="brats2023")
    write_case(tmp_path, labels=(1, 6))
    with pytest.raises(LabelError, match=r"seg\.nii\.gz: labels \[1, 6\] match no known"):
        load_case(tmp_path)


def test_several_volumes_in_one_file(tmp_path: Path) -> None:
    write_case(tmp_path)
    four_d = nib.Nifti1Image(np.zeros((*SHAPE, 2), dtype=np.float32), BRATS_AFFINE)
    four_d.to_filename(tmp_path / brats2023_filename(CASE, "t1n"))
    with pytest.raises(DimensionError, match=r"t1n\.nii\.gz: image holds 2 volumes"):
        load_case(tmp_path)


def test_folder_with_two_cases_is_ambiguous(tmp_path: Path) -> None:
    write_case(tmp_path)
    (tmp_path / "BraTS-GLI-00008-000-t1n.nii.gz").write_bytes(b"")
    with pytest.raises(LayoutError, match="folder holds 2 cases"):
        load_case(tmp_path)

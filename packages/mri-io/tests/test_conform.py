"""``mri-io conform``: to the BraTS grid (L-P-S, spacing, shape, brain centred) and back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mri_io import load_labels, load_volume, new_volume, save_volume, scan_cases
from mri_io.conform import (
    RECORD_FILE,
    ConformRecord,
    conform_case,
    conform_volume,
    plan_conform,
    target_affine,
    unconform,
)
from mri_io.nifti import BRATS_AFFINE
from mri_io.orientation import axis_codes

SHAPE = (20, 24, 16)
TARGET = (40, 44, 36)


def _rotation(degrees_z: float, degrees_x: float) -> np.ndarray:
    z, x = np.radians(degrees_z), np.radians(degrees_x)
    about_z = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    about_x = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    return about_z @ about_x


def _affine(matrix: np.ndarray, origin: tuple[float, float, float]) -> np.ndarray:
    affine = np.eye(4)
    affine[:3, :3] = matrix
    affine[:3, 3] = origin
    return affine.astype(np.float32).astype(np.float64)  # what a NIfTI file holds


def _case(folder: Path, affine: np.ndarray, case_id: str = "case01") -> Path:
    """A brain (an off-centre box of graded intensity) and a three-label tumour inside it."""
    image = np.zeros(SHAPE, dtype=np.float32)
    image[3:15, 4:19, 2:12] = 100.0 + np.arange(10, dtype=np.float32)
    seg = np.zeros(SHAPE, dtype=np.uint8)
    seg[6:12, 8:15, 4:9] = 2
    seg[7:10, 9:13, 5:8] = 1
    seg[8, 10, 6] = 3
    folder.mkdir(parents=True, exist_ok=True)
    for key, scale in (("t1n", 1.0), ("t1c", 2.0), ("t2w", 3.0), ("t2f", 4.0)):
        save_volume(new_volume(image * scale, affine), folder / f"{case_id}-{key}.nii.gz")
    save_volume(new_volume(seg, affine), folder / f"{case_id}-seg.nii.gz")
    return folder


def _world_centre(data: np.ndarray, affine: np.ndarray) -> np.ndarray:
    points = np.argwhere(data != 0) @ affine[:3, :3].T + affine[:3, 3]
    return (points.min(axis=0) + points.max(axis=0)) / 2


def test_default_grid_is_the_brats_grid() -> None:
    assert np.array_equal(target_affine(), BRATS_AFFINE)
    assert axis_codes(target_affine((2, 2, 2), (120, 120, 78))) == ("L", "P", "S")


def test_oblique_scan_round_trips_to_its_exact_grid(tmp_path: Path) -> None:
    affine = _affine(_rotation(20, 10) @ np.diag([1.2, 0.9, 1.5]), (-14.5, 30.25, -7.0))
    source = _case(tmp_path / "in" / "case01", affine)
    written = conform_case(scan_cases(tmp_path / "in")[0], tmp_path / "out", shape=TARGET)
    record = ConformRecord.load(written / RECORD_FILE)
    conformed = load_labels(written / "case01-seg.nii.gz")
    assert axis_codes(conformed.affine) == ("L", "P", "S")
    assert conformed.shape == TARGET
    assert np.array_equal(conformed.affine, record.affine)
    assert set(np.unique(conformed.data)) == {0, 1, 2, 3}
    back = tmp_path / "back-seg.nii.gz"
    result = subprocess.run(
        [sys.executable, "-m", "mri_io", "conform", "--inverse", str(written / "case01-seg.nii.gz"),
         "--record", str(written / RECORD_FILE), "--out", str(back)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    original = load_labels(source / "case01-seg.nii.gz")
    restored = load_labels(back)
    assert restored.shape == original.shape
    assert np.array_equal(restored.affine, original.affine)
    assert int(restored.header["sform_code"]) == int(original.header["sform_code"])
    # nearest neighbour through a rotation: most voxels agree, none is invented
    agree = np.mean(restored.data == original.data)
    assert agree > 0.95
    assert set(np.unique(restored.data)) <= {0, 1, 2, 3}


@pytest.mark.parametrize(
    ("matrix", "spacing"),
    [
        (np.diag([1.0, 1.0, 1.0]), (1.0, 1.0, 1.0)),  # R-A-S, reorientation only
        (np.array([[0.0, 0, -1], [1, 0, 0], [0, -1, 0]]), (1.0, 1.0, 1.0)),  # axes permuted
        (np.diag([2.0, 2.0, 3.0]), (1.0, 1.0, 1.0)),  # upsampled by whole factors
        (np.diag([1.0, -1.0, 1.0]), (2.0, 2.0, 2.0)),  # downsampled by two
    ],
)
def test_integer_spacings_round_trip_labels_exactly(
    tmp_path: Path, matrix: np.ndarray, spacing: tuple[float, float, float]
) -> None:
    source = _case(tmp_path / "in" / "case01", _affine(matrix, (3.0, -5.0, 11.0)))
    seg = load_labels(source / "case01-seg.nii.gz")
    t1n = load_volume(source / "case01-t1n.nii.gz")
    record = plan_conform({"t1n": t1n, "seg": seg}, spacing=spacing, shape=TARGET)
    conformed = conform_volume(seg, record, "seg", labels=True)
    assert axis_codes(conformed.affine) == ("L", "P", "S")
    restored = unconform(conformed, record, "seg")
    assert np.array_equal(restored.affine, seg.affine)
    assert restored.shape == seg.shape
    if spacing == (1.0, 1.0, 1.0):
        assert np.array_equal(restored.data, seg.data)
    if spacing == t1n.spacing:  # the same voxels in another order
        image = conform_volume(t1n, record, "t1n")
        assert np.array_equal(np.sort(image.data[image.data > 0]), np.sort(t1n.data[t1n.data > 0]))
    else:  # a 2 mm grid keeps every other voxel: those agree
        assert np.array_equal(restored.data[::2, ::2, ::2], seg.data[::2, ::2, ::2])


def test_brain_centre_moves_by_the_recorded_shift(tmp_path: Path) -> None:
    affine = _affine(_rotation(0, 0) @ np.diag([1.0, 1.0, 1.0]), (40.0, -60.0, 25.0))
    source = _case(tmp_path / "in" / "case01", affine)
    written = conform_case(source, tmp_path / "out", shape=TARGET)
    record = ConformRecord.load(written / RECORD_FILE)
    t1n = load_volume(source / "case01-t1n.nii.gz")
    centre = _world_centre(t1n.data, t1n.affine)
    np.testing.assert_allclose(record.brain_centre_mm, centre)
    conformed = load_volume(written / "case01-t1n.nii.gz")
    moved = _world_centre(conformed.data, conformed.affine)
    np.testing.assert_allclose(moved, centre + np.asarray(record.shift_mm), atol=1e-4)
    grid_centre = record.affine[:3, :3] @ ((np.asarray(TARGET) - 1) / 2) + record.affine[:3, 3]
    assert np.max(np.abs(moved - grid_centre)) <= 0.5 + 1e-6  # centred to the voxel


def test_oblique_centre_is_kept_within_interpolation(tmp_path: Path) -> None:
    affine = _affine(_rotation(30, 0), (5.0, 5.0, 5.0))
    source = _case(tmp_path / "in" / "case01", affine)
    written = conform_case(source, tmp_path / "out", shape=TARGET)
    record = ConformRecord.load(written / RECORD_FILE)
    conformed = load_volume(written / "case01-t1n.nii.gz")
    moved = _world_centre(conformed.data > 50, conformed.affine)
    np.testing.assert_allclose(
        moved, np.asarray(record.brain_centre_mm) + record.shift_mm, atol=1.5
    )


def test_record_round_trips_exactly(tmp_path: Path) -> None:
    affine = _affine(_rotation(13, 7) @ np.diag([0.7, 1.1, 2.3]), (1.1, 2.2, 3.3))
    source = _case(tmp_path / "in" / "case01", affine)
    record = plan_conform({"t1n": load_volume(source / "case01-t1n.nii.gz")}, shape=TARGET)
    record.save(tmp_path / "r.json")
    again = ConformRecord.load(tmp_path / "r.json")
    assert again.shift_mm == record.shift_mm
    assert again.shape == record.shape
    assert np.array_equal(again.sources["t1n"].affine, record.sources["t1n"].affine)
    assert np.array_equal(again.voxel_map(), record.voxel_map())
    assert json.loads((tmp_path / "r.json").read_text())["target"]["axes"] == ["L", "P", "S"]


def test_cli_conform_and_errors(tmp_path: Path) -> None:
    _case(tmp_path / "in" / "case01", _affine(np.diag([2.0, 2.0, 2.0]), (0.0, 0.0, 0.0)))
    run = [sys.executable, "-m", "mri_io", "conform"]
    done = subprocess.run(
        [*run, str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--spacing", "2",
         "--shape", "24", "24", "20"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    conformed = scan_cases(tmp_path / "out")
    assert [c.case_id for c in conformed] == ["case01"]
    assert conformed[0].missing == ()
    assert load_volume(conformed[0].sequences["t2f"]).spacing == (2.0, 2.0, 2.0)
    inside = subprocess.run(
        [*run, str(tmp_path / "in"), "--out", str(tmp_path / "in" / "x")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert inside.returncode == 2
    assert "lies inside the input folder" in inside.stderr
    wrong = subprocess.run(
        [*run, "--inverse", str(conformed[0].sequences["t1n"]), "--record",
         str(tmp_path / "in" / "case01" / "case01-t1n.nii.gz"), "--out", str(tmp_path / "x.nii")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert wrong.returncode == 2
    assert len(wrong.stderr.strip().splitlines()) == 1
    assert "cannot read the conform record" in wrong.stderr

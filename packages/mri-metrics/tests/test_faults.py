"""Bad files on the command line: one line naming the file(s), exit status 2, never a score
computed on voxels that do not correspond, and never a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mri_io import new_volume, save_volume
from mri_metrics.cli import main

SHAPE = (12, 12, 10)
AFFINE = np.array([[-1.0, 0, 0, 11], [0, -1, 0, 11], [0, 0, 1, 0], [0, 0, 0, 1]])


def labels() -> np.ndarray:
    data = np.zeros(SHAPE, np.uint8)
    data[2:6, 3:8, 2:5] = 2
    data[3:5, 4:6, 3:4] = 1
    data[4, 5, 3] = 3
    return data


@pytest.fixture
def ref(tmp_path: Path) -> Path:
    path = tmp_path / "case-seg.nii.gz"
    save_volume(new_volume(labels(), AFFINE), path)
    return path


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("mri-metrics: error: ")
    return lines[0]


def seg(pred: Path, ref: Path) -> int:
    return main(["seg", "--pred", str(pred), "--ref", str(ref), "--no-progress"])


def test_a_flipped_prediction_is_refused_naming_both_files(
    tmp_path: Path, ref: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flipped = AFFINE.copy()
    flipped[0] = [1.0, 0, 0, 0]  # the same voxels read left-right mirrored
    pred = tmp_path / "flipped.nii.gz"
    save_volume(new_volume(labels(), flipped), pred)
    assert seg(pred, ref) == 2
    line = error_line(capsys)
    assert str(pred) in line
    assert str(ref) in line
    assert "reference grid" in line


def test_a_prediction_on_another_grid_is_refused(
    tmp_path: Path, ref: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    coarse = AFFINE @ np.diag([2.0, 2.0, 2.0, 1.0])  # same shape, twice the voxel size
    pred = tmp_path / "coarse.nii.gz"
    save_volume(new_volume(labels(), coarse), pred)
    assert seg(pred, ref) == 2
    line = error_line(capsys)
    assert str(pred) in line
    assert str(ref) in line


def test_a_prediction_on_the_same_grid_still_scores(
    tmp_path: Path, ref: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pred = tmp_path / "pred.nii.gz"
    save_volume(new_volume(labels(), AFFINE + 1e-5), pred)  # float32 round-off of one grid
    assert seg(pred, ref) == 0
    assert "dice=1.0000" in capsys.readouterr().out


@pytest.mark.parametrize("cut", [0.5, 0.97])
def test_a_truncated_prediction_is_one_line(
    tmp_path: Path, ref: Path, capsys: pytest.CaptureFixture[str], cut: float
) -> None:
    whole = tmp_path / "whole.nii.gz"
    save_volume(new_volume(labels(), AFFINE), whole)
    content = whole.read_bytes()
    pred = tmp_path / "cut.nii.gz"
    pred.write_bytes(content[: int(len(content) * cut)])
    assert seg(pred, ref) == 2
    assert str(pred) in error_line(capsys)


def test_an_empty_volume_is_refused(
    tmp_path: Path, ref: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import nibabel as nib

    pred = tmp_path / "empty.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((0, 4, 4), np.uint8), AFFINE), pred)
    assert seg(pred, ref) == 2
    line = error_line(capsys)
    assert str(pred) in line
    assert "no voxels" in line


def test_nan_voxels_in_a_mask_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "image.nii.gz"
    save_volume(
        new_volume(np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE), AFFINE), image
    )
    mask = np.zeros(SHAPE, np.float32)
    mask[2:8, 2:8, 2:8] = 1
    mask[0, 0, 0] = np.nan  # NaN != 0: a plain test would count it as inside
    mask_path = tmp_path / "mask.nii.gz"
    save_volume(new_volume(mask, AFFINE), mask_path)
    assert main(["image", "--ref", str(image), "--pred", str(image), "--mask", str(mask_path)]) == 2
    line = error_line(capsys)
    assert str(mask_path) in line
    assert "NaN" in line


def test_an_image_prediction_on_another_grid_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE)
    image, moved = tmp_path / "image.nii.gz", tmp_path / "moved.nii.gz"
    save_volume(new_volume(data, AFFINE), image)
    shifted = AFFINE.copy()
    shifted[:3, 3] += 5.0
    save_volume(new_volume(data, shifted), moved)
    assert main(["image", "--ref", str(image), "--pred", str(moved)]) == 2
    line = error_line(capsys)
    assert str(moved) in line
    assert str(image) in line

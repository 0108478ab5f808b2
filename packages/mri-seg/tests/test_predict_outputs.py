"""``mri-seg predict`` never writes where its outputs would be read as input or collide (an
output folder inside or around the input and two cases of one id are refused before any work,
with one line naming the problem), and a killed run leaves only whole label maps."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from mri_io.layouts import scan_cases
from mri_io.nifti import load_labels
from mri_io.testing import kill_at_rename, run_killed
from mri_seg.cli import main
from mri_seg.unet import UNet3D


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model")
    UNet3D.from_preset("tiny").save_pretrained(folder)
    return folder


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("mri-seg: error: ")
    return lines[0]


def test_an_output_folder_inside_the_cohort_is_refused(
    model_dir: Path, cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "cohort"
    shutil.copytree(cohort, copy)
    out = copy / "predictions"
    code = main(["predict", "--model", str(model_dir), "--cohort", str(copy), "--out", str(out)])
    assert code == 2
    line = _error_line(capsys)
    assert str(out) in line
    assert "inside the input folder" in line
    assert not out.exists()
    assert len(scan_cases(copy)) == len(scan_cases(cohort))


def test_an_output_folder_around_the_case_is_refused(
    model_dir: Path, case_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = tmp_path / "data" / case_dir.name
    shutil.copytree(case_dir, case)
    before = sorted(p.name for p in case.iterdir())
    code = main(["predict", "--model", str(model_dir), "--case", str(case), "--out", str(tmp_path)])
    assert code == 2
    assert "holds the input folder" in _error_line(capsys)
    assert sorted(p.name for p in case.iterdir()) == before


def test_one_case_id_in_two_folders_is_refused_naming_both(
    model_dir: Path, case_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for part in ("train", "val"):
        shutil.copytree(case_dir, tmp_path / "in" / part / case_dir.name)
    out = tmp_path / "out"
    code = main(
        ["predict", "--model", str(model_dir), "--cohort", str(tmp_path / "in"), "--out", str(out)]
    )
    assert code == 2
    line = _error_line(capsys)
    assert case_dir.name in line
    assert str(Path("train") / case_dir.name) in line
    assert str(Path("val") / case_dir.name) in line
    assert not out.exists()


def test_predict_killed_while_writing_leaves_only_whole_label_maps(
    model_dir: Path, cohort: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    arguments = ["predict", "--model", str(model_dir), "--cohort", str(cohort), "--out", str(out)]
    # Killed when the second label map, fully written to its temporary file, is to be renamed.
    run_killed(kill_at_rename(2), f"from mri_seg.cli import main\nmain({arguments!r})")
    visible = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert visible == ["BraTS-GLI-00000-000-seg.nii.gz"]
    assert (
        load_labels(out / visible[0]).shape
        == load_labels(cohort / "BraTS-GLI-00000-000" / "BraTS-GLI-00000-000-seg.nii.gz").shape
    )
    # A rerun writes every label map; the leftover temporary file is never read as one.
    assert main(arguments) == 0
    visible = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert len(visible) == len(scan_cases(cohort))

"""The ``seg`` command on NIfTI files and folders, called through its own parser."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import numpy.typing as npt
import pytest

from mri_metrics.commands.seg import case_id, register
from mri_metrics.errors import MetricInputError
from mri_metrics.scoring import score_segmentation

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SPACING = (1.0, 1.0, 2.0)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mri-metrics")
    register(parser.add_subparsers())
    return parser.parse_args(["seg", "--no-progress", *argv])


def write(path: Path, labels: npt.NDArray[np.uint8]) -> None:
    nib.save(nib.Nifti1Image(labels.astype(np.uint8), np.diag([*SPACING, 1.0])), path)


def label_pair(seed: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    rng = np.random.default_rng(seed)
    ref = np.zeros((24, 24, 16), dtype=np.uint8)
    x, y = rng.integers(4, 12, size=2)
    ref[x : x + 8, y : y + 8, 4:10] = 2
    ref[x + 2 : x + 6, y + 2 : y + 6, 5:9] = 1
    ref[x + 3 : x + 5, y + 3 : y + 5, 6:8] = 3
    return np.roll(ref, 1, axis=0), ref


def test_two_files_give_the_library_scores_with_header_spacing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pred, ref = label_pair(0)
    write(tmp_path / "p.nii.gz", pred)
    write(tmp_path / "BraTS-GLI-00001-000-seg.nii.gz", ref)
    args = parse(
        "--pred",
        str(tmp_path / "p.nii.gz"),
        "--ref",
        str(tmp_path / "BraTS-GLI-00001-000-seg.nii.gz"),
        "--json",
    )
    assert args.handler(args) == 0
    report = json.loads(capsys.readouterr().out)
    expected = score_segmentation(pred, ref, spacing=SPACING)
    got = report["cases"]["BraTS-GLI-00001-000"]
    for region, scores in expected.items():
        for key, value in scores.items():
            assert float(got[region][key]) == pytest.approx(value, rel=1e-12, nan_ok=True)


def test_folders_are_paired_by_case_id_and_scored_in_parallel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pred").mkdir()
    (tmp_path / "ref").mkdir()
    for i in range(3):
        pred, ref = label_pair(i)
        write(tmp_path / "pred" / f"BraTS-MET-0000{i}-000.nii.gz", pred)
        write(tmp_path / "ref" / f"BraTS-MET-0000{i}-000-seg.nii.gz", ref)
    args = parse(
        "--pred",
        str(tmp_path / "pred"),
        "--ref",
        str(tmp_path / "ref"),
        "--profile",
        "brats2023-met",
        "--csv",
        "--workers",
        "2",
    )
    assert args.handler(args) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["case"], r["region"]) for r in rows][:3] == [
        ("BraTS-MET-00000-000", "WT"),
        ("BraTS-MET-00000-000", "TC"),
        ("BraTS-MET-00000-000", "ET"),
    ]
    assert len(rows) == 9
    pred, ref = label_pair(2)
    expected = score_segmentation(pred, ref, "brats2023-met", spacing=SPACING)["ET"]
    assert float(rows[-1]["lesion_dice"]) == expected["lesion_dice"]


def test_missing_prediction_and_bad_labels_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "pred").mkdir()
    (tmp_path / "ref").mkdir()
    pred, ref = label_pair(0)
    write(tmp_path / "ref" / "case1_seg.nii.gz", ref)
    args = parse("--pred", str(tmp_path / "pred"), "--ref", str(tmp_path / "ref"))
    with pytest.raises(MetricInputError, match=r"no prediction for 1 cases \(case1\)"):
        args.handler(args)
    write(tmp_path / "pred" / "case1.nii.gz", np.where(pred == 3, 4, pred))
    with pytest.raises(MetricInputError, match=r"case1\.nii\.gz vs .*labels 4"):
        args.handler(args)


def test_case_ids_strip_suffixes() -> None:
    assert case_id(Path("BraTS20_Training_001_seg.nii.gz")) == "BraTS20_Training_001"
    assert case_id(Path("x/BraTS-GLI-00000-000.nii")) == "BraTS-GLI-00000-000"

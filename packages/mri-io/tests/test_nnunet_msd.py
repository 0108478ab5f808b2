"""nnU-Net raw datasets and Decathlon 4D files as input layouts, read through dataset.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from mri_io import LayoutError, load_case, new_volume, nnunet_filename, save_volume, scan_cases
from mri_io.labels import region_mask

SHAPE = (6, 5, 4)
AFFINE = np.diag([-1.0, -1.0, 1.0, 1.0])

#: Task01_BrainTumour's dataset.json, as the Decathlon ships it (cut to what is read).
MSD_JSON = {
    "name": "BRATS",
    "tensorImageSize": "4D",
    "modality": {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"},
    "labels": {
        "0": "background",
        "1": "edema",
        "2": "non-enhancing tumor",
        "3": "enhancing tumour",
    },
    "numTraining": 2,
}
#: nnU-Net v2's conversion of the same task (Dataset001_BrainTumour).
NNUNET_JSON = {
    "channel_names": {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"},
    "labels": {"background": 0, "edema": 1, "non-enhancing tumor": 2, "enhancing tumour": 3},
    "numTraining": 2,
    "file_ending": ".nii.gz",
}


def _labels() -> np.ndarray:
    seg = np.zeros(SHAPE, dtype=np.uint8)
    seg[1:4, 1:4, 1:3] = 1  # edema
    seg[2, 2, 1] = 2  # non-enhancing
    seg[2, 2, 2] = 3  # enhancing
    return seg


def _channel(index: int) -> np.ndarray:
    return np.full(SHAPE, 10.0 * (index + 1), dtype=np.float32)


def _write_json(folder: Path, content: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset.json").write_text(json.dumps(content), encoding="utf-8")


def _msd(root: Path, cases: tuple[str, ...] = ("BRATS_001", "BRATS_002")) -> Path:
    _write_json(root, MSD_JSON)
    for folder in ("imagesTr", "labelsTr"):
        (root / folder).mkdir()
    stack = np.stack([_channel(i) for i in range(4)], axis=-1)
    for case in cases:
        nib.save(nib.Nifti1Image(stack, AFFINE), root / "imagesTr" / f"{case}.nii.gz")
        save_volume(new_volume(_labels(), AFFINE), root / "labelsTr" / f"{case}.nii.gz")
    (root / "imagesTr" / "._BRATS_001.nii.gz").write_bytes(b"macOS resource fork")
    return root


def _nnunet(root: Path, content: dict = NNUNET_JSON) -> Path:
    _write_json(root, content)
    for case in ("BRATS_001", "BRATS_002"):
        for channel in range(4):
            path = root / "imagesTr" / nnunet_filename(case, channel)
            path.parent.mkdir(exist_ok=True)
            save_volume(new_volume(_channel(channel), AFFINE), path)
        path = root / "labelsTr" / nnunet_filename(case)
        path.parent.mkdir(exist_ok=True)
        save_volume(new_volume(_labels(), AFFINE), path)
    return root


def test_nnunet_file_names() -> None:
    assert nnunet_filename("BRATS_001", 0) == "BRATS_001_0000.nii.gz"
    assert nnunet_filename("BRATS_001", 12) == "BRATS_001_0012.nii.gz"
    assert nnunet_filename("BRATS_001") == "BRATS_001.nii.gz"


def test_msd_4d_cases_are_split_into_sequences_by_dataset_json(tmp_path: Path) -> None:
    cases = scan_cases(_msd(tmp_path / "Task01_BrainTumour"))
    assert [c.case_id for c in cases] == ["BRATS_001", "BRATS_002"]
    first = cases[0]
    assert first.layout == "msd"
    assert first.missing == ()
    assert first.volumes == {"t1n": 1, "t1c": 2, "t2w": 3, "t2f": 0}
    assert first.label_convention == "msd-brain"
    case = load_case(first)
    for key, index in first.volumes.items():
        assert np.array_equal(case.images[key].data, _channel(index))
        assert np.array_equal(case.images[key].affine, AFFINE)
    assert case.label_convention == "msd-brain"
    assert case.seg is not None
    assert np.array_equal(case.seg.data, _labels())
    # MSD's labels keep their meaning: edema is outside the tumour core, ET inside it
    assert region_mask(case.seg.data, "msd-brain", "TC").sum() == 2


def test_msd_labels_convert_to_the_brats_profiles(tmp_path: Path) -> None:
    files = scan_cases(_msd(tmp_path / "Task01"))[0]
    case = load_case(files, label_convention="brats2023")
    assert case.seg is not None
    assert case.label_convention == "brats2023"
    expected = _labels()
    assert np.array_equal(case.seg.data == 2, expected == 1)  # edema: SNFH is 2 in BraTS 2023
    assert np.array_equal(case.seg.data == 1, expected == 2)
    assert np.array_equal(case.seg.data == 3, expected == 3)
    legacy = load_case(files, label_convention="brats2021")
    assert legacy.seg is not None
    assert set(np.unique(legacy.seg.data)) == {0, 1, 2, 4}


def test_nnunet_raw_dataset_channels_by_channel_names(tmp_path: Path) -> None:
    root = _nnunet(tmp_path / "Dataset001_BrainTumour")
    cases = scan_cases(root)
    assert [c.case_id for c in cases] == ["BRATS_001", "BRATS_002"]
    first = cases[0]
    assert first.layout == "nnunet"
    assert first.missing == ()
    assert first.volumes == {}
    assert first.sequences["t2f"].name == "BRATS_001_0000.nii.gz"
    assert first.seg == root / "labelsTr" / "BRATS_001.nii.gz"
    case = load_case(first)
    assert np.array_equal(case.images["t1c"].data, _channel(2))
    assert case.label_convention == "msd-brain"
    # one of the dataset's folders, given alone, is read through the parent's dataset.json
    assert [c.case_id for c in scan_cases(root / "imagesTr")] == ["BRATS_001", "BRATS_002"]


def test_nnunet_region_based_labels_match_a_profile(tmp_path: Path) -> None:
    content = dict(NNUNET_JSON)
    content["channel_names"] = {"0": "T1", "1": "T1ce", "2": "T2", "3": "Flair"}
    content["labels"] = {
        "background": 0,
        "whole tumor": [1, 2, 3],
        "tumor core": [2, 3],
        "enhancing tumor": 3,
    }
    root = _nnunet(tmp_path / "Dataset137_BraTS2021", content)
    first = scan_cases(root)[0]
    assert first.label_convention == "msd-brain"
    assert first.sequences["t1n"].name == "BRATS_001_0000.nii.gz"


def test_test_split_without_labels_and_a_missing_channel(tmp_path: Path) -> None:
    root = _nnunet(tmp_path / "Dataset001")
    (root / "imagesTs").mkdir()
    for channel in (0, 1, 2):
        save_volume(
            new_volume(_channel(channel), AFFINE),
            root / "imagesTs" / nnunet_filename("BRATS_100", channel),
        )
    test_case = {c.case_id: c for c in scan_cases(root)}["BRATS_100"]
    assert test_case.seg is None
    assert test_case.missing == ("t2w",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"channel_names": None, "modality": None}, "no 'channel_names'"),
        ({"channel_names": {"0": "CT", "1": "T1w", "2": "t1gd", "3": "T2w"}}, "'CT'"),
        ({"channel_names": {"0": "T1", "1": "t1n", "2": "t1gd", "3": "T2w"}}, "repeats"),
        ({"channel_names": {"0": "FLAIR", "1": "T1w", "2": "t1gd"}}, "channel 3 is not declared"),
        ({"labels": {"background": 0, "liver": 1, "tumour": 2}}, "match no label convention"),
    ],
)
def test_a_wrong_dataset_json_is_named_in_one_line(
    tmp_path: Path, change: dict, message: str
) -> None:
    content = {**NNUNET_JSON, **change}
    root = _nnunet(tmp_path / "Dataset", {k: v for k, v in content.items() if v is not None})
    with pytest.raises(LayoutError, match=message):
        scan_cases(root)
    result = subprocess.run(
        [sys.executable, "-m", "mri_io", "scan", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "dataset.json" in lines[0]
    assert message in lines[0]


def test_unreadable_dataset_json(tmp_path: Path) -> None:
    root = _nnunet(tmp_path / "Dataset")
    (root / "dataset.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(LayoutError, match=r"dataset\.json.*cannot read"):
        scan_cases(root)


def test_scan_reports_the_layouts(tmp_path: Path) -> None:
    _msd(tmp_path / "data" / "Task01_BrainTumour")
    _nnunet(tmp_path / "data" / "Dataset001_BrainTumour")
    result = subprocess.run(
        [sys.executable, "-m", "mri_io", "scan", "--json", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(result.stdout)
    assert sorted({row["layout"] for row in rows}) == ["msd", "nnunet"]
    assert all(row["label_convention"] == "msd-brain" for row in rows)
    assert all(row["missing"] == [] for row in rows)
    table = subprocess.run(
        [sys.executable, "-m", "mri_io", "scan", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "msd" in table
    assert "nnunet" in table
    assert "4 cases" in table

"""``mri-seg predict`` reads an nnU-Net raw dataset and writes nnU-Net's prediction names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mri_io import load_labels, load_volume, nnunet_filename, save_volume
from mri_seg import Segmenter2D
from mri_seg.cli import main
from mri_seg.prediction import prediction_path

CHANNELS = {"0": "T1", "1": "T1ce", "2": "T2", "3": "FLAIR"}


def _as_nnunet(case_dir: Path, root: Path) -> Path:
    """The case as an nnU-Net v2 test split: ``imagesTs/CASE_000X.nii.gz``."""
    (root / "imagesTs").mkdir(parents=True)
    (root / "dataset.json").write_text(
        json.dumps({"channel_names": CHANNELS, "labels": {"background": 0}}), encoding="utf-8"
    )
    for channel, sequence in enumerate(("t1n", "t1c", "t2w", "t2f")):
        volume = load_volume(case_dir / f"{case_dir.name}-{sequence}.nii.gz")
        save_volume(volume, root / "imagesTs" / nnunet_filename("BRATS_007", channel))
    return root


def test_prediction_names() -> None:
    assert prediction_path("out", "BRATS_007", "nnunet") == Path("out/BRATS_007.nii.gz")
    assert prediction_path("out", "BRATS_007") == Path("out/BRATS_007-seg.nii.gz")
    with pytest.raises(ValueError, match="naming"):
        prediction_path("out", "BRATS_007", "monai")


def test_predict_an_nnunet_dataset_with_nnunet_names(case_dir: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    Segmenter2D(features=(4, 8, 8, 8)).save_pretrained(tmp_path / "model")
    root = _as_nnunet(case_dir, tmp_path / "Dataset500_Mine")
    out = tmp_path / "predictions"
    model = str(tmp_path / "model")
    args = ["predict", "--model", model, "--cohort", str(root / "imagesTs"), "--out", str(out)]
    assert main([*args, "--naming", "nnunet"]) == 0
    assert sorted(path.name for path in out.iterdir()) == ["BRATS_007.nii.gz"]
    written = load_labels(out / "BRATS_007.nii.gz")
    reference = load_volume(case_dir / f"{case_dir.name}-t1n.nii.gz")
    assert written.shape == reference.shape
    assert np.array_equal(written.affine, reference.affine)

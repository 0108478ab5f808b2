"""The 2D segmenter's slice data and a short training run."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from mri_io.case import load_case
from mri_io.layouts import scan_cases
from mri_seg.cli import main
from mri_seg.networks import Segmenter2D
from mri_seg.training2d import Segmenter2DConfig, tumour_slices, tumour_type_of


@pytest.mark.parametrize(
    ("case_id", "kind"),
    [
        ("BraTS-MET-00012-000", "met"),
        ("BraTS-MEN-RT-0001-1", "men"),
        ("BraTS-GLI-00000-000", "gli"),
        ("BraTS20_Training_001", "gli"),
        ("BraTS-SSA-00002-000", "gli"),
    ],
)
def test_tumour_type_from_identifier(case_id: str, kind: str) -> None:
    assert tumour_type_of(case_id) == kind


def test_tumour_slices_match_brute_force(cohort: Path) -> None:
    files = scan_cases(cohort)[:1]
    config = Segmenter2DConfig(views=("axial", "sagittal"), min_tumour_fraction=0.01)
    model = Segmenter2D()
    slices = tumour_slices(files, config, model, {files[0].case_id: "met"})
    labels = load_case(files[0]).seg
    assert labels is not None
    seg = labels.data
    # 60 x 60 x 39 case: every slice is padded to 64 x 64 (multiple of 8, largest plane).
    assert slices.images.shape[1:] == (4, 64, 64)
    threshold = 0.01 * 64 * 64
    axial = [k for k in range(seg.shape[2]) if np.count_nonzero(seg[:, :, k]) >= threshold]
    sagittal = [i for i in range(seg.shape[0]) if np.count_nonzero(seg[i]) >= threshold]
    assert len(slices) == len(axial) + len(sagittal)
    assert (slices.tumour_types == model.tumour_types.index("met")).all()
    assert np.count_nonzero(slices.views == model.views.index("axial")) == len(axial)
    # The first axial slice holds the case's labels, padded with background around them.
    first = slices.classes[: len(axial)][0]
    assert np.count_nonzero(first) == np.count_nonzero(seg[:, :, axial[0]])
    assert set(np.unique(slices.classes)) <= {0, 1, 2, 3}


def test_cli_trains_segmenter2d(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    code = main(
        [
            "train",
            "segmenter2d",
            "--data",
            str(cohort),
            "--out",
            str(run),
            "--views",
            "axial",
            "--epochs",
            "2",
            "--steps-per-epoch",
            "1",
            "--batch-size",
            "4",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    assert "NETC" in capsys.readouterr().out
    model = Segmenter2D.from_pretrained(run / "best")
    assert isinstance(model, Segmenter2D)
    with open(run / "log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert all(0 <= float(row["val_dice_ET"]) <= 1 for row in rows)

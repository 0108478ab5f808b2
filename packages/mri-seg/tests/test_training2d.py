"""The 2D segmenter's slice data and a short training run."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mri_io.case import load_case
from mri_io.errors import RunFolderError
from mri_io.layouts import scan_cases
from mri_seg.cli import main
from mri_seg.networks import Segmenter2D
from mri_seg.segmenter2d import (
    Segmenter2DConfig,
    train_segmenter2d,
    tumour_slices,
    tumour_type_of,
)

CONFIG = Segmenter2DConfig(
    views=("axial",), epochs=3, steps_per_epoch=2, batch_size=4, val_fraction=0.25, device="cpu"
)


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
    command = [
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
    code = main(command)
    assert code == 0
    assert "NETC" in capsys.readouterr().out
    # The same command again is refused; with --resume it continues the finished run, so no
    # epoch is added.
    assert main(command) == 2
    assert "holds a run already" in capsys.readouterr().err
    assert main([*command, "--resume"]) == 0
    assert "trained 2 epochs" in capsys.readouterr().out
    model = Segmenter2D.from_pretrained(run / "best")
    assert isinstance(model, Segmenter2D)
    with open(run / "log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert all(0 <= float(row["val_dice_ET"]) <= 1 for row in rows)


def _epochs(run: Path) -> list[str]:
    with open(run / "log.csv", newline="") as handle:
        return [row["epoch"] for row in csv.DictReader(handle)]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "last" / "model.safetensors"))


def test_resumed_run_ends_with_the_uninterrupted_weights(cohort: Path, tmp_path: Path) -> None:
    full = train_segmenter2d(cohort, tmp_path / "full", CONFIG, progress=False)
    assert full.epochs_done == 3
    # Each call with a zero time budget stops after one epoch; the last call finishes the run.
    stopping = Segmenter2DConfig(**{**vars(CONFIG), "max_minutes": 0.0})
    run = tmp_path / "resumed"
    train_segmenter2d(cohort, run, stopping, progress=False)
    after_one = _weights(run)
    train_segmenter2d(cohort, run, stopping, resume=True, progress=False)
    assert _epochs(run) == ["1", "2"]
    resumed = train_segmenter2d(cohort, run, CONFIG, resume=True, progress=False)
    assert _epochs(run) == ["1", "2", "3"]
    expected, got = _weights(tmp_path / "full"), _weights(run)
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[name], got[name]) for name in expected)
    assert not all(torch.equal(after_one[name], got[name]) for name in got)
    assert (resumed.best_epoch, resumed.best_dice) == (full.best_epoch, full.best_dice)
    state = torch.load(run / "state.pt", weights_only=True)
    assert state["epoch"] == 3
    assert state["schedule"]["last_epoch"] == 6
    # A finished run called again trains nothing more and reports the same best model.
    again = train_segmenter2d(cohort, run, CONFIG, resume=True, progress=False)
    assert _epochs(run) == ["1", "2", "3"]
    assert again.best_dice == full.best_dice


@pytest.mark.parametrize(
    ("change", "named"),
    [({"learning_rate": 0.5}, "learning_rate"), ({"views": ("axial", "coronal")}, "views")],
)
def test_resume_with_other_settings_refused(
    cohort: Path, tmp_path: Path, change: dict[str, object], named: str
) -> None:
    first = Segmenter2DConfig(**{**vars(CONFIG), "epochs": 1, "steps_per_epoch": 1})
    train_segmenter2d(cohort, tmp_path, first, progress=False)
    changed = Segmenter2DConfig(**{**vars(first), **change})
    with pytest.raises(RunFolderError, match=rf"{tmp_path}.*other settings \({named}\)"):
        train_segmenter2d(cohort, tmp_path, changed, resume=True, progress=False)

"""Training runs on a tiny cohort: files, logs, best checkpoint, resumption, seeding."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mri_io.errors import RunFolderError
from mri_io.layouts import scan_cases
from mri_seg.errors import TrainingDataError
from mri_seg.networks import UNet3D
from mri_seg.split import split_cases
from mri_seg.unet import TrainConfig, train_unet

CONFIG = TrainConfig(
    epochs=2, steps_per_epoch=1, batch_size=1, crop=(16, 16, 16), val_fraction=0.25, device="cpu"
)


def _weights(run: Path, folder: str = "last") -> dict[str, torch.Tensor]:
    return load_file(str(run / folder / "model.safetensors"))


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def full_run(cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "full"
    train_unet(cohort, run, CONFIG, progress=False)
    return run


def test_run_folder_contents(full_run: Path, cohort: Path) -> None:
    names = {path.name for path in full_run.iterdir()}
    assert {"best", "last", "state.pt", "log.csv", "run.json", "split.json"} <= names
    with open(full_run / "log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    for row in rows:
        for region in ("WT", "TC", "ET"):
            assert 0.0 <= float(row[f"val_dice_{region}"]) <= 1.0
        assert float(row["train_loss"]) > 0
    assert float(rows[-1]["lr"]) == pytest.approx(0.0, abs=1e-12)  # cosine reaches 0
    saved = json.loads((full_run / "run.json").read_text())
    assert TrainConfig.from_json(saved) == CONFIG
    split = json.loads((full_run / "split.json").read_text())
    assert len(split["val"]) == 1
    assert len(split["train"]) == 3
    assert sorted(split["train"] + split["val"]) == [case.case_id for case in scan_cases(cohort)]
    best_epoch = max(rows, key=lambda row: float(row["val_dice_mean"]))["epoch"]
    state = torch.load(full_run / "state.pt", weights_only=True)
    assert state["epoch"] == 2
    assert str(state["best_epoch"]) == best_epoch
    model = UNet3D.from_pretrained(full_run / "best")
    assert isinstance(model, UNet3D)
    # The cohort's grid, for inference to bring other grids to.
    assert (model.spacing, model.orientation) == ((4.0, 4.0, 4.0), ("L", "P", "S"))


def test_training_changes_weights_and_is_seeded(
    full_run: Path, cohort: Path, tmp_path: Path
) -> None:
    torch.manual_seed(CONFIG.seed)
    initial = UNet3D.from_preset("tiny").state_dict()
    assert not _equal(initial, _weights(full_run))
    # One epoch, then the same command with two: resumes and ends where the full run ended.
    first = TrainConfig(**{**vars(CONFIG), "max_minutes": 0.0})
    train_unet(cohort, tmp_path, first, progress=False)
    with open(tmp_path / "log.csv", newline="") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["1"]
    train_unet(cohort, tmp_path, CONFIG, resume=True, progress=False)
    with open(tmp_path / "log.csv", newline="") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["1", "2"]
    assert _equal(_weights(tmp_path), _weights(full_run))


def test_resume_with_other_settings_refused(full_run: Path, cohort: Path) -> None:
    changed = TrainConfig(**{**vars(CONFIG), "learning_rate": 0.5})
    with pytest.raises(RunFolderError, match="other settings \\(learning_rate\\)"):
        train_unet(cohort, full_run, changed, resume=True, progress=False)
    with pytest.raises(RunFolderError, match="holds a run already"):
        train_unet(cohort, full_run, CONFIG, progress=False)


def test_split_is_seeded_and_disjoint(cohort: Path) -> None:
    cases = scan_cases(cohort)
    train, val = split_cases(cases, 0.5, seed=3)
    again = split_cases(cases, 0.5, seed=3)
    assert [c.case_id for c in train] == [c.case_id for c in again[0]]
    assert not {c.case_id for c in train} & {c.case_id for c in val}
    assert len(val) == 2


def test_cohort_without_segmentations_refused(case_without_flair: Path, tmp_path: Path) -> None:
    (case_without_flair / f"{case_without_flair.name}-seg.nii.gz").unlink()
    with pytest.raises(TrainingDataError, match=r"0 of 1 case\(s\) have a segmentation"):
        train_unet(case_without_flair.parent, tmp_path / "run", CONFIG, progress=False)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="unknown preset"):
        TrainConfig(preset="huge")
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="val_fraction"):
        TrainConfig(val_fraction=1.0)
    with pytest.raises(ValueError, match="noise_prob must be in"):
        TrainConfig(noise_prob=1.5)
    with pytest.raises(ValueError, match="cache must be one of"):
        TrainConfig(cache="gpu")  # type: ignore[arg-type]


def test_resume_with_other_loading_ends_where_the_full_run_ended(
    full_run: Path, cohort: Path, tmp_path: Path
) -> None:
    # Workers and cache change how cases are read, never which samples are drawn.
    first = TrainConfig(**{**vars(CONFIG), "max_minutes": 0.0, "workers": 0, "cache": "memory"})
    train_unet(cohort, tmp_path, first, progress=False)
    assert not (tmp_path / "cache").exists()
    train_unet(cohort, tmp_path, CONFIG, resume=True, progress=False)
    assert _equal(_weights(tmp_path), _weights(full_run))


def test_run_of_the_earlier_pipeline_refused_with_advice(cohort: Path, tmp_path: Path) -> None:
    earlier = {k: v for k, v in CONFIG.to_json().items() if k not in _PIPELINE_FIELDS}
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "run.json").write_text(json.dumps(earlier))
    with pytest.raises(RunFolderError, match=r"earlier mri-seg.*train again into another folder"):
        train_unet(cohort, tmp_path, CONFIG, resume=True, progress=False)


_PIPELINE_FIELDS = {
    "workers",
    "cache",
    "flip_prob",
    "scale_intensity_prob",
    "shift_intensity_prob",
    "noise_prob",
    "bias_field_prob",
    "contrast_prob",
}

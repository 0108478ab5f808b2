"""The epoch loop both mri-seg families share: log rows, best/last models, budget, resume."""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from mri_io.training import DistributedEnv, RunFolder
from mri_seg.checkpoint import TrainingParts
from mri_seg.epochs import Batch, EpochPlan, train_epochs
from mri_seg.segmenter2d.networks import Segmenter2D

ENV = DistributedEnv(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


def _parts() -> TrainingParts:
    torch.manual_seed(0)
    model = Segmenter2D()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=6)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    return TrainingParts(model, optimiser, schedule, scaler, torch.device("cpu"))


def _train(run: Path, parts: TrainingParts, scores: dict[int, dict[str, float] | None], **plan):  # type: ignore[no-untyped-def]
    model = parts.model

    def batches(epoch: int) -> list[Batch]:
        generator = torch.Generator().manual_seed(epoch)
        images = torch.randn(2, 4, 16, 16, generator=generator)
        codes = torch.zeros(2, dtype=torch.long)
        return [(images, codes, codes), (images.flip(-1), codes, codes)]

    def loss(batch: Batch) -> torch.Tensor:
        images, views, kinds = batch
        return model(images, views, kinds).square().mean()

    folder = RunFolder(run)
    resuming = folder.begin({"plan": "test"}, resume=folder.run_file.exists())
    return train_epochs(
        folder,
        parts,
        ENV,
        EpochPlan(epochs=3, steps_per_epoch=2, **plan),
        resuming=resuming,
        batches=batches,
        loss=loss,
        validate=lambda epoch: scores[epoch],
        progress=False,
    )


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "log.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_best_follows_validation_and_skipped_epochs_keep_the_best(tmp_path: Path) -> None:
    scores: dict[int, dict[str, float] | None] = {1: {"WT": 0.5}, 2: None, 3: {"WT": 0.25}}
    result = _train(tmp_path, _parts(), scores)
    assert (result.epochs_done, result.best_epoch, result.best_dice) == (3, 1, {"WT": 0.5})
    rows = _rows(tmp_path)
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert [row["step"] for row in rows] == ["2", "4", "6"]
    assert [row["val_dice_mean"] for row in rows] == ["0.5", "", "0.25"]
    assert (tmp_path / "best" / "model.safetensors").is_file()
    assert (tmp_path / "last" / "model.safetensors").is_file()


def test_without_validation_cases_the_lowest_training_loss_is_best(tmp_path: Path) -> None:
    result = _train(tmp_path, _parts(), {key: {} for key in (1, 2, 3)})
    losses = [float(row["train_loss"]) for row in _rows(tmp_path)]
    assert result.best_epoch == 1 + losses.index(min(losses))
    assert result.best_dice == {}


def test_budget_stops_after_an_epoch_and_resuming_ends_like_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    scores: dict[int, dict[str, float] | None] = {key: {"WT": 0.5} for key in (1, 2, 3)}
    full = _parts()
    _train(tmp_path / "full", full, scores)
    stopped = _train(tmp_path / "cut", _parts(), scores, max_minutes=0.0)
    assert stopped.epochs_done == 1
    resumed = _parts()
    assert _train(tmp_path / "cut", resumed, scores).epochs_done == 3
    assert [row["epoch"] for row in _rows(tmp_path / "cut")] == ["1", "2", "3"]
    for name, value in full.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value)

"""What mri-seg adds to the shared run folder: training-state round trip, best so far."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from mri_io.training import RunFolder
from mri_seg.checkpoint import BestSoFar, TrainingParts, load_checkpoint, save_checkpoint


def _parts(seed: int) -> TrainingParts:
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 2)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.1)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=10)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    return TrainingParts(model, optimiser, schedule, scaler, torch.device("cpu"))


def _weight(parts: TrainingParts) -> torch.Tensor:
    assert isinstance(parts.model, torch.nn.Linear)
    return parts.model.weight


def _step(parts: TrainingParts) -> None:
    parts.optimiser.zero_grad()
    parts.model(torch.rand(4, 3)).square().sum().backward()
    parts.optimiser.step()
    parts.schedule.step()


def test_checkpoint_round_trip_continues_identically(tmp_path: Path) -> None:
    trained = _parts(seed=0)
    for _ in range(3):
        _step(trained)
    best = BestSoFar(2, 0.75, {"WT": 0.8, "TC": 0.7})
    save_checkpoint(RunFolder(tmp_path), trained, 3, best)
    lr_after_save = trained.schedule.get_last_lr()
    _step(trained)  # draws its input from the global random state
    expected_weight, expected_draw = _weight(trained).detach().clone(), torch.rand(5)
    # A fresh process: other initial weights, another random state.
    restored = _parts(seed=1)
    epoch, loaded = load_checkpoint(RunFolder(tmp_path), restored)
    assert (epoch, loaded) == (3, best)
    assert restored.schedule.get_last_lr() == pytest.approx(lr_after_save)
    _step(restored)
    assert torch.equal(_weight(restored), expected_weight)
    assert torch.equal(torch.rand(5), expected_draw)


def test_best_so_far_keeps_strict_improvements() -> None:
    best = BestSoFar()
    assert best.score == -math.inf
    assert best.offer(1, 0.5, {"WT": 0.5})
    assert not best.offer(2, 0.5, {"WT": 0.9})
    assert not best.offer(3, 0.4, {"WT": 0.4})
    assert best.offer(4, 0.6, {"WT": 0.6})
    assert (best.epoch, best.score, best.dice) == (4, 0.6, {"WT": 0.6})

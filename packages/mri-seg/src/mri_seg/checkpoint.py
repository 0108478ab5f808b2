"""The training state every mri-seg family keeps in its run folder's ``state.pt``, and the
result a finished run reports.

The state (written with :meth:`mri_io.training.RunFolder.save_state`) holds model, optimiser,
learning-rate schedule, gradient scaler, the torch random state (CPU, and the CUDA device's
when training there), the last finished epoch and the best validation result so far. Batches
are drawn from generators seeded by ``(seed, epoch, step, ...)``, so together with this state
a resumed run repeats the uninterrupted one bit for bit on the CPU.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mri_io.training import RunFolder


@dataclass
class BestSoFar:
    """The best validation result of a run: epoch, score (higher is better), Dice per name."""

    epoch: int = 0
    score: float = -math.inf
    dice: dict[str, float] = field(default_factory=dict)

    def offer(self, epoch: int, score: float, dice: Mapping[str, float]) -> bool:
        """Keep ``epoch`` if it beats the best so far; whether it did."""
        if score <= self.score:
            return False
        self.epoch, self.score, self.dice = epoch, score, dict(dice)
        return True


@dataclass(frozen=True)
class TrainResult:
    """What a finished run reports: the best epoch and its validation Dice per region.

    Under ``torchrun`` only rank 0 validates; the other ranks report ``best_dice`` empty.
    """

    run_dir: Path
    epochs_done: int
    best_epoch: int
    best_dice: dict[str, float]
    seconds: float
    rank: int = 0


@dataclass(frozen=True)
class TrainingParts:
    """What a checkpoint saves and restores: the objects a training step changes."""

    model: torch.nn.Module
    optimiser: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    device: torch.device


def save_checkpoint(run: RunFolder, parts: TrainingParts, epoch: int, best: BestSoFar) -> None:
    """Write the state after ``epoch`` to the run's ``state.pt`` atomically."""
    state: dict[str, Any] = {
        "model": parts.model.state_dict(),
        "optimiser": parts.optimiser.state_dict(),
        "schedule": parts.schedule.state_dict(),
        "scaler": parts.scaler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "epoch": epoch,
        "best_epoch": best.epoch,
        "best_score": best.score,
        "best_dice": json.dumps(best.dice),
    }
    if parts.device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(parts.device)
    run.save_state(state)


def load_checkpoint(run: RunFolder, parts: TrainingParts) -> tuple[int, BestSoFar]:
    """Restore ``parts`` from the run's ``state.pt``; the epoch it ended and the best."""
    state = run.load_state(parts.device)
    parts.model.load_state_dict(state["model"])
    parts.optimiser.load_state_dict(state["optimiser"])
    parts.schedule.load_state_dict(state["schedule"])
    parts.scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(state["torch_rng"].cpu())
    if parts.device.type == "cuda" and "cuda_rng" in state:
        torch.cuda.set_rng_state(state["cuda_rng"].cpu(), parts.device)
    best = BestSoFar(
        int(state["best_epoch"]), float(state["best_score"]), json.loads(state["best_dice"])
    )
    return int(state["epoch"]), best

"""What mri-seg's trainers add to the shared run folder (:class:`mri_io.training.RunFolder`).

Besides ``run.json``, ``log.csv`` (one row per epoch), ``state.pt``, ``best/`` and ``last/``,
a segmentation run keeps ``split.json`` (which cases train and which validate), so a resumed
run validates on the same cases. Its state holds model, optimiser, learning-rate schedule,
gradient scaler, the torch random state (CPU, and the CUDA device's when training there), the
last finished epoch and the best validation result so far. Batches are drawn from generators
seeded by ``(seed, epoch, step, ...)``, so together with this state a resumed run repeats the
uninterrupted one bit for bit on the CPU.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from mri_io.atomic import atomic_write_text
from mri_io.layouts import CaseFiles
from mri_io.training import RunFolder
from mri_seg.errors import TrainingDataError

SPLIT_FILE = "split.json"


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
class TrainingParts:
    """What a checkpoint saves and restores: the objects a training step changes."""

    model: torch.nn.Module
    optimiser: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    device: torch.device


def split_cases(
    cases: Sequence[CaseFiles], val_fraction: float, seed: int
) -> tuple[list[CaseFiles], list[CaseFiles]]:
    """Seeded train/validation split (at least one validation case when the fraction > 0)."""
    order = np.random.default_rng([seed, 7919]).permutation(len(cases))
    count = 0 if val_fraction == 0 else max(1, round(val_fraction * len(cases)))
    if count >= len(cases):
        raise TrainingDataError(
            None, f"{len(cases)} case(s) cannot give a training and validation split"
        )
    val = sorted((cases[i] for i in order[:count]), key=lambda c: c.case_id)
    train = sorted((cases[i] for i in order[count:]), key=lambda c: c.case_id)
    return train, val


def load_split(
    run: RunFolder, cases: Sequence[CaseFiles], val_fraction: float, seed: int
) -> tuple[list[CaseFiles], list[CaseFiles]]:
    """The split saved in ``run`` (a resumed run keeps it), else a fresh seeded one."""
    by_id = {case.case_id: case for case in cases}
    path = run.path / SPLIT_FILE
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        absent = sorted(set(saved["train"] + saved["val"]) - set(by_id))
        if absent:
            raise TrainingDataError(
                path, f"cases {absent[:3]} of the saved split are not in the data"
            )
        return [by_id[c] for c in saved["train"]], [by_id[c] for c in saved["val"]]
    return split_cases(cases, val_fraction, seed)


def write_split(run: RunFolder, train: Sequence[CaseFiles], val: Sequence[CaseFiles]) -> None:
    """Record which cases train and which validate."""
    split = {"train": [c.case_id for c in train], "val": [c.case_id for c in val]}
    atomic_write_text(run.path / SPLIT_FILE, json.dumps(split, indent=2) + "\n")


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

"""The run folder both trainers share: settings, case split, training state, resumption.

A run folder holds ``train_config.json`` (the settings it was started with), ``split.json``
(which cases train and which validate), ``log.csv``, ``best/``, ``last/`` and ``checkpoint.pt``
(the state after the last finished epoch). Running the same training again on the folder
resumes after that epoch; settings that shape the result (anything but the ``resumable``
keys a trainer names, such as the time budget or the device) must match, otherwise the run is
refused naming the settings that differ, because a resumed run with another learning rate or
schedule length is neither the old run nor a new one.

The checkpoint holds model, optimiser, learning-rate schedule, gradient scaler, the torch
random state (CPU, and the CUDA device's when training there), the last finished epoch and the
best validation result so far. It contains only tensors, numbers and strings, so it is read
back with ``torch.load(weights_only=True)``. Batches are drawn from generators seeded by
``(seed, epoch, step, ...)``, so together with this state a resumed run repeats the
uninterrupted one bit for bit on the CPU.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mri_io.atomic import atomic_write, atomic_write_text
from mri_io.layouts import CaseFiles
from mri_seg.errors import TrainingDataError

CHECKPOINT_FILE = "checkpoint.pt"
LOG_FILE = "log.csv"
CONFIG_FILE = "train_config.json"
SPLIT_FILE = "split.json"
BEST_DIR = "best"
LAST_DIR = "last"


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
    run_dir: Path, cases: Sequence[CaseFiles], val_fraction: float, seed: int
) -> tuple[list[CaseFiles], list[CaseFiles]]:
    """The split saved in ``run_dir`` (a resumed run keeps it), else a fresh seeded one."""
    by_id = {case.case_id: case for case in cases}
    path = run_dir / SPLIT_FILE
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        absent = sorted(set(saved["train"] + saved["val"]) - set(by_id))
        if absent:
            raise TrainingDataError(
                path, f"cases {absent[:3]} of the saved split are not in the data"
            )
        return [by_id[c] for c in saved["train"]], [by_id[c] for c in saved["val"]]
    return split_cases(cases, val_fraction, seed)


def write_run_files(
    run_dir: Path,
    settings: Mapping[str, Any],
    train: Sequence[CaseFiles],
    val: Sequence[CaseFiles],
) -> None:
    """Create ``run_dir`` and write its settings and split."""
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / CONFIG_FILE, json.dumps(dict(settings), indent=2) + "\n")
    split = {"train": [c.case_id for c in train], "val": [c.case_id for c in val]}
    atomic_write_text(run_dir / SPLIT_FILE, json.dumps(split, indent=2) + "\n")


def check_resume(run_dir: Path, settings: Mapping[str, Any], resumable: Collection[str]) -> bool:
    """Whether ``run_dir`` holds a run to resume with ``settings`` (JSON-ready).

    Raises ``ValueError`` naming the differing settings when the folder's run was started with
    others; keys in ``resumable`` (time budget, device, logging) may change between calls.
    """
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        return False
    saved = json.loads(path.read_text(encoding="utf-8"))
    differ = sorted(
        key
        for key in set(saved) | set(settings)
        if key not in resumable and saved.get(key) != settings.get(key)
    )
    if differ:
        raise ValueError(
            f"{run_dir}: the run there was started with other settings ({', '.join(differ)}); "
            "choose another --out or the same settings to resume"
        )
    return (run_dir / CHECKPOINT_FILE).is_file()


def save_checkpoint(run_dir: Path, parts: TrainingParts, epoch: int, best: BestSoFar) -> None:
    """Write the state after ``epoch`` to ``run_dir/checkpoint.pt`` atomically."""
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
    with atomic_write(run_dir / CHECKPOINT_FILE) as temporary:
        torch.save(state, temporary)


def load_checkpoint(run_dir: Path, parts: TrainingParts) -> tuple[int, BestSoFar]:
    """Restore ``parts`` from ``run_dir/checkpoint.pt``; the epoch it ended and the best."""
    path = run_dir / CHECKPOINT_FILE
    state = torch.load(path, map_location=parts.device, weights_only=True)
    parts.model.load_state_dict(state["model"])
    parts.optimiser.load_state_dict(state["optimiser"])
    parts.schedule.load_state_dict(state["schedule"])
    parts.scaler.load_state_dict(state["scaler"])
    if "torch_rng" in state:  # absent from checkpoints of earlier versions
        torch.set_rng_state(state["torch_rng"].cpu())
    if parts.device.type == "cuda" and "cuda_rng" in state:
        torch.cuda.set_rng_state(state["cuda_rng"].cpu(), parts.device)
    best = BestSoFar(
        int(state["best_epoch"]), float(state["best_score"]), json.loads(state["best_dice"])
    )
    return int(state["epoch"]), best

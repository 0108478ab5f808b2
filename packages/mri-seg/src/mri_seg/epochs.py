"""The epoch loop every mri-seg family trains with.

A family brings what differs: its batches (``batches(epoch)``, drawn from generators seeded by
``(seed, epoch, step, ...)``), the loss of one batch, and its validation. The loop does the rest
the same way for all of them: resuming from the run's state, float16 autocast with gradient
scaling on CUDA, the learning-rate schedule step after every optimiser step, the log row of
each epoch (``step``, ``train_loss`` averaged over processes, ``lr``, ``val_dice_*``,
``val_dice_mean``, ``val_seconds``, ``seconds``), the best model by mean validation Dice
(``best/``; without validation cases the lowest training loss stands in), ``last/`` and the
state after every epoch, and the time budget, checked on every process together.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from mri_io.training import DistributedEnv, RunFolder, any_rank, barrier, mean_over_ranks
from mri_seg.checkpoint import (
    BestSoFar,
    TrainingParts,
    TrainResult,
    load_checkpoint,
    save_checkpoint,
)

Batch = Sequence[torch.Tensor]


@dataclass(frozen=True)
class EpochPlan:
    """How long and how a run trains: ``epochs`` of ``steps_per_epoch`` steps, a time budget
    (``max_minutes``: stop after the first epoch that ends past it; the schedule still spans
    every epoch), float16 autocast on CUDA (``amp``), and the run's TensorBoard logging."""

    epochs: int
    steps_per_epoch: int
    max_minutes: float | None = None
    amp: bool = True
    tensorboard: bool = False
    tensorboard_install: str = "pip install tensorboard"
    description: str = "train"


def train_epochs(
    run: RunFolder,
    parts: TrainingParts,
    env: DistributedEnv,
    plan: EpochPlan,
    *,
    resuming: bool,
    batches: Callable[[int], Iterable[Batch]],
    loss: Callable[[Batch], torch.Tensor],
    validate: Callable[[int], dict[str, float] | None],
    progress: bool = True,
) -> TrainResult:
    """Train ``parts`` in ``run`` (continuing from its state when ``resuming``).

    ``batches(epoch)`` yields this process's batches of one epoch (tensors on any device);
    ``loss(batch)`` runs the network (DDP-wrapped when distributed) on a batch already on the
    device and returns its loss; ``validate(epoch)`` (called on rank 0 only) returns the Dice
    per name, ``{}`` when the run has no validation cases, or ``None`` when this epoch is not
    validated.
    """
    started = time.monotonic()
    device = parts.device
    use_amp = plan.amp and device.type == "cuda"
    done, best = load_checkpoint(run, parts) if resuming else (0, BestSoFar())
    log = (
        run.open_log(
            key="epoch",
            resume_after=done if resuming else None,
            tensorboard=plan.tensorboard,
            install=plan.tensorboard_install,
        )
        if env.is_main
        else None
    )
    bar = tqdm(
        range(done + 1, plan.epochs + 1),
        desc=plan.description,
        unit="epoch",
        disable=not (progress and env.is_main),
    )
    epoch = done
    try:
        for epoch in bar:
            epoch_start = time.monotonic()
            parts.model.train()
            losses = []
            for batch in batches(epoch):
                on_device = [tensor.to(device) for tensor in batch]
                parts.optimiser.zero_grad(set_to_none=True)
                with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                    value = loss(on_device)
                parts.scaler.scale(value).backward()  # type: ignore[no-untyped-call]
                parts.scaler.step(parts.optimiser)
                parts.scaler.update()
                parts.schedule.step()
                losses.append(float(value.detach()))
            mean_loss = mean_over_ranks({"loss": float(np.mean(losses))}, env)["loss"]
            row: dict[str, Any] = {
                "step": epoch * plan.steps_per_epoch,
                "train_loss": mean_loss,
                "lr": parts.schedule.get_last_lr()[0],
            }
            if env.is_main:
                _validate_and_save(run, parts, epoch, best, row, validate)
                row["seconds"] = time.monotonic() - epoch_start
                assert log is not None
                log.write(epoch, row)
                bar.set_postfix(
                    loss=f"{mean_loss:.3f}", dice=f"{row.get('val_dice_mean', math.nan):.3f}"
                )
            barrier(env)
            budget = plan.max_minutes
            if any_rank(budget is not None and time.monotonic() - started > 60 * budget, env):
                break
    finally:
        if log is not None:
            log.close()
    seconds = time.monotonic() - started
    return TrainResult(run.path, epoch, best.epoch, best.dice, seconds, env.rank)


def _validate_and_save(
    run: RunFolder,
    parts: TrainingParts,
    epoch: int,
    best: BestSoFar,
    row: dict[str, Any],
    validate: Callable[[int], dict[str, float] | None],
) -> None:
    """Validate (when due), keep the best model, write ``last/`` and the state."""
    val_start = time.monotonic()
    scores = validate(epoch)
    model: Any = parts.model
    if scores is not None:
        if scores:
            row.update({f"val_dice_{name}": value for name, value in scores.items()})
            score = float(np.mean(list(scores.values())))
            row["val_dice_mean"] = score
            row["val_seconds"] = time.monotonic() - val_start
        else:  # no validation cases: the lowest training loss stands in for the best Dice
            score = -float(row["train_loss"])
        if best.offer(epoch, score, scores):
            model.save_pretrained(run.best)
    model.save_pretrained(run.last)
    save_checkpoint(run, parts, epoch, best)

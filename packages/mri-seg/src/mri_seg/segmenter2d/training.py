"""Train HF-GAN's 2D segmenter on slices of BraTS-style cases (thesis §4.3.3).

Loss: focal Tversky over the four classes (background, NETC, edema, ET); Adam with a cosine
schedule; float16 autocast on CUDA. After each epoch the model is scored on the held-out
cases' slices (Dice per class with mri-metrics, pooled over slices) and the best one is saved
to ``RUN/best``; ``RUN/log.csv`` has one row per epoch.

The run folder is the suite's (:class:`mri_io.training.RunFolder`, with ``split.json``):
``last/`` and ``state.pt`` after every epoch, so :func:`train_segmenter2d` with ``resume=True``
on the same folder continues after the last finished epoch, and ends with the weights an
uninterrupted run ends with (batches are drawn from generators seeded by
``(seed, epoch, step)``). The trainer runs in one process.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from os import PathLike

import numpy as np
import torch

from mri_io.layouts import scan_cases
from mri_io.sequences import SEQUENCES
from mri_io.spacing import training_orientation, training_spacing
from mri_io.training import DistributedEnv, RunFolder, resolve_device, seed_everything
from mri_metrics import dice
from mri_seg.checkpoint import (
    TrainingParts,
    TrainResult,
)
from mri_seg.epochs import Batch, EpochPlan, train_epochs
from mri_seg.errors import TrainingDataError
from mri_seg.segmenter2d.config import RESUMABLE, Segmenter2DConfig
from mri_seg.segmenter2d.data import SliceSet, slice_batch, tumour_slices
from mri_seg.segmenter2d.losses import focal_tversky_loss
from mri_seg.segmenter2d.networks import CLASSES, TUMOUR_TYPES, Segmenter2D
from mri_seg.split import load_split, write_split


def slice_dice(model: Segmenter2D, slices: SliceSet, device: torch.device) -> dict[str, float]:
    """Dice per tumour class over all ``slices`` pooled (both empty: 1)."""
    predictions = []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(slices), 32):
            part = slice(start, start + 32)
            logits = model(
                torch.from_numpy(slices.images[part]).to(device),
                torch.from_numpy(slices.views[part]).to(device),
                torch.from_numpy(slices.tumour_types[part]).to(device),
            )
            predictions.append(logits.argmax(dim=1).cpu().numpy())
    predicted = np.concatenate(predictions)
    return {
        name: dice(predicted == index, slices.classes == index, empty=1.0)
        for index, name in enumerate(model.classes)
        if index > 0
    }


def train_segmenter2d(
    data: str | PathLike[str],
    run_dir: str | PathLike[str],
    config: Segmenter2DConfig | None = None,
    *,
    tumour_types: Mapping[str, str] | None = None,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train a :class:`Segmenter2D` on the cases under ``data``, or continue the run in
    ``run_dir`` (``resume=True``).

    ``tumour_types`` maps case ids to ``gli``/``met``/``men`` where the identifier does not
    tell (synthetic cohorts name every case ``BraTS-GLI-...``). The result's ``best_dice``
    holds the best validation Dice per class. Raises :class:`TrainingDataError` for an unusable
    cohort and :class:`mri_io.RunFolderError` when the folder holds another run or was started
    with other settings.
    """
    settings = config or Segmenter2DConfig()
    run = RunFolder(run_dir)
    device = resolve_device(settings.device)
    cases = [c for c in scan_cases(data) if c.seg is not None and not c.missing]
    if len(cases) < 2:
        raise TrainingDataError(data, f"{len(cases)} complete case(s) with a segmentation; need 2")
    resuming = run.begin(settings.to_json(), resume=resume, resumable=RESUMABLE)
    train_files, val_files = load_split(run, cases, settings.val_fraction, settings.seed)
    seed_everything(settings.seed)
    model = Segmenter2D(
        sequences=SEQUENCES,
        tumour_types=TUMOUR_TYPES,
        classes=CLASSES,
        spacing=training_spacing(train_files),
        orientation=training_orientation(train_files),
    ).to(device)
    train_slices = tumour_slices(train_files, settings, model, tumour_types)
    val_slices = tumour_slices(val_files, settings, model, tumour_types) if val_files else None
    write_split(run, train_files, val_files)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimiser, T_max=settings.epochs * settings.steps_per_epoch
    )
    scaler = torch.amp.GradScaler("cuda", enabled=settings.amp and device.type == "cuda")
    parts = TrainingParts(model, optimiser, schedule, scaler, device)

    def batches(epoch: int) -> Iterator[Batch]:
        for step in range(settings.steps_per_epoch):
            yield slice_batch(train_slices, settings, epoch, step)

    def loss(batch: Batch) -> torch.Tensor:
        images, classes, views, kinds = batch
        value: torch.Tensor = focal_tversky_loss(model(images, views, kinds).float(), classes)
        return value

    def validation(epoch: int) -> dict[str, float]:
        return slice_dice(model, val_slices, device) if val_slices is not None else {}

    plan = EpochPlan(
        epochs=settings.epochs,
        steps_per_epoch=settings.steps_per_epoch,
        max_minutes=settings.max_minutes,
        amp=settings.amp,
        description="train segmenter2d",
    )
    env = DistributedEnv(rank=0, world_size=1, local_rank=0, device=device)
    return train_epochs(
        run,
        parts,
        env,
        plan,
        resuming=resuming,
        batches=batches,
        loss=loss,
        validate=validation,
        progress=progress,
    )

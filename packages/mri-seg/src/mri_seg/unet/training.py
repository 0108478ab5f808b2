"""Train a 3D U-Net on a folder of BraTS-style cases.

One run folder (the suite's layout, :class:`mri_io.training.RunFolder`) holds everything:
``run.json`` (the settings), ``split.json``, ``log.csv`` (one row per epoch), ``best/`` (the
model with the highest mean validation Dice, as config.json + model.safetensors), ``last/`` and
``state.pt`` (the training state after the last finished epoch), and with ``cache="disk"``
the normalised cases in ``cache/``. :func:`train_unet` with ``resume=True`` on the same folder
continues after that epoch; samples are drawn from generators seeded by
``(seed, epoch, step, sample)`` (:mod:`mri_seg.unet.data`), so a resumed run draws the same
crops an uninterrupted one would.

Recipe (MONAI's BraTS tutorial, scaled to what the data allows): Adam with a cosine learning
rate schedule over all steps, Dice + cross-entropy (binary per region for sigmoid outputs),
random crops biased to tumour, random flips and intensity augmentation on MONAI datasets and
loaders, float16 autocast with gradient scaling on CUDA, validation Dice per region with
:func:`mri_metrics.overlap.dice` on whole held-out volumes by sliding-window inference. Under
``torchrun`` each process draws its share of each step's samples and DDP averages the
gradients; rank 0 validates and writes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from mri_io.errors import RunFolderError
from mri_io.layouts import CaseFiles, scan_cases
from mri_io.training import (
    DistributedEnv,
    RunFolder,
    any_rank,
    barrier,
    init_distributed,
    mean_over_ranks,
    seed_everything,
    shutdown,
    tensorboard_writer,
    wrap,
)
from mri_seg.checkpoint import (
    BestSoFar,
    TrainingParts,
    TrainResult,
    load_checkpoint,
    save_checkpoint,
)
from mri_seg.contract import InferenceSettings
from mri_seg.errors import TrainingDataError
from mri_seg.evaluation import region_dice
from mri_seg.inputs import load_training_case
from mri_seg.split import load_split, write_split
from mri_seg.targets import TargetSpec
from mri_seg.unet.config import RESUMABLE, TrainConfig
from mri_seg.unet.data import CropSamples, case_dataset, epoch_loader, training_transforms
from mri_seg.unet.inference import predict_probabilities
from mri_seg.unet.losses import dice_ce_loss
from mri_seg.unet.networks import UNet3D

TENSORBOARD_INSTALL = 'pip install "mri-seg[tensorboard]"'


def validation_dice(
    model: UNet3D, cases: Sequence[CaseFiles], settings: InferenceSettings
) -> dict[str, float]:
    """Mean Dice per region of the profile over ``cases`` (both empty counts as 1), read one
    case at a time."""
    spec = model.target
    regions = tuple(spec.profile.regions)
    per_case = []
    for files in cases:
        case = load_training_case(files, model.sequences, spec)
        labels = spec.decode(predict_probabilities(model, case.images, settings)).cpu().numpy()
        per_case.append(region_dice(labels, case.labels, spec.profile, regions))
    return {region: float(np.mean([scores[region] for scores in per_case])) for region in regions}


def train_unet(
    data: str | PathLike[str],
    run_dir: str | PathLike[str],
    config: TrainConfig | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train a :class:`UNet3D` on every case under ``data``, or continue the run in ``run_dir``
    (``resume=True``).

    Returns after ``config.epochs`` epochs (or the time budget). Raises
    :class:`TrainingDataError` for an unusable cohort and :class:`mri_io.RunFolderError` when
    the folder holds another run or was started with other settings.
    """
    settings = config or TrainConfig()
    env = init_distributed(settings.device)
    try:
        return _train(Path(data), RunFolder(run_dir), settings, env, resume, progress)
    finally:
        shutdown(env)


def _train(
    data: Path,
    run: RunFolder,
    settings: TrainConfig,
    env: DistributedEnv,
    resume: bool,
    progress: bool,
) -> TrainResult:
    started = time.monotonic()
    device = env.device
    spec = TargetSpec(settings.output, settings.label_profile)
    if settings.tensorboard and env.is_main:
        tensorboard_writer(TENSORBOARD_INSTALL)
    cases = scan_cases(data)
    usable = [
        case
        for case in cases
        if case.seg is not None and not set(settings.sequences) & set(case.missing)
    ]
    if len(usable) < 2:
        raise TrainingDataError(
            data,
            f"{len(usable)} of {len(cases)} case(s) have a segmentation and every sequence of "
            f"{', '.join(settings.sequences)}; training needs at least 2",
        )
    _refuse_earlier_pipeline(run, resume)
    resuming = run.begin(settings.to_json(), resume=resume, resumable=RESUMABLE, env=env)
    train_files, val_files = load_split(run, usable, settings.val_fraction, settings.seed)
    if env.is_main:
        write_split(run, train_files, val_files)
    train_set = case_dataset(
        train_files, settings, spec, run.path, progress=progress and env.is_main
    )
    transform = training_transforms(settings, spec)

    seed_everything(settings.seed)
    model = UNet3D.from_preset(settings.preset, sequences=settings.sequences, target=spec).to(
        device
    )
    optimiser = torch.optim.Adam(
        model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    total_steps = settings.epochs * settings.steps_per_epoch
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=total_steps)
    use_amp = settings.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    loss_function = dice_ce_loss(spec)
    parts = TrainingParts(model, optimiser, schedule, scaler, device)
    done, best = load_checkpoint(run, parts) if resuming else (0, BestSoFar())
    first_epoch = done + 1
    network = wrap(model, env)
    log = (
        run.open_log(
            key="epoch",
            resume_after=done if resuming else None,
            tensorboard=settings.tensorboard,
            install=TENSORBOARD_INSTALL,
        )
        if env.is_main
        else None
    )
    validate = InferenceSettings(
        overlap=settings.overlap, device=str(device), output_device=str(device)
    )
    epochs = range(first_epoch, settings.epochs + 1)
    bar = tqdm(
        epochs,
        desc=f"train {settings.preset}",
        unit="epoch",
        disable=not (progress and env.is_main),
    )
    epoch = first_epoch - 1
    for epoch in bar:
        epoch_start = time.monotonic()
        network.train()
        losses = []
        samples = CropSamples(
            train_set,
            len(train_files),
            transform,
            seed=settings.seed,
            epoch=epoch,
            steps=settings.steps_per_epoch,
            batch_size=settings.batch_size,
            world_size=env.world_size,
        )
        batches = epoch_loader(
            samples, settings.batch_size, settings.workers, env.rank, env.world_size
        )
        for images, targets in batches:
            images, targets = images.to(device), targets.to(device)
            optimiser.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                loss = loss_function(network(images), targets)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            schedule.step()
            losses.append(float(loss.detach()))
        row: dict[str, Any] = {
            "step": epoch * settings.steps_per_epoch,
            "train_loss": mean_over_ranks({"loss": float(np.mean(losses))}, env)["loss"],
            "lr": schedule.get_last_lr()[0],
        }
        validating = bool(val_files) and (
            epoch % settings.val_every == 0 or epoch == settings.epochs
        )
        if env.is_main:
            if validating:
                val_start = time.monotonic()
                scores = validation_dice(model, val_files, validate)
                row.update({f"val_dice_{region}": value for region, value in scores.items()})
                mean = float(np.mean(list(scores.values())))
                row["val_dice_mean"] = mean
                row["val_seconds"] = time.monotonic() - val_start
                if best.offer(epoch, mean, scores):
                    model.save_pretrained(run.best)
            row["seconds"] = time.monotonic() - epoch_start
            model.save_pretrained(run.last)
            save_checkpoint(run, parts, epoch, best)
            assert log is not None
            log.write(epoch, row)
            bar.set_postfix(
                loss=f"{row['train_loss']:.3f}", dice=f"{row.get('val_dice_mean', math.nan):.3f}"
            )
        barrier(env)
        budget = settings.max_minutes
        if any_rank(budget is not None and time.monotonic() - started > 60 * budget, env):
            break
    if log is not None:
        log.close()
    seconds = time.monotonic() - started
    return TrainResult(run.path, epoch, best.epoch, best.dice, seconds, env.rank)


def _refuse_earlier_pipeline(run: RunFolder, resume: bool) -> None:
    """A run started before the MONAI data pipeline drew other crops: it cannot continue."""
    if resume and run.run_file.is_file() and "cache" not in run.settings():
        raise RunFolderError(
            run.run_file,
            "the run there was started by an earlier mri-seg, which drew its crops "
            "differently, so it cannot be resumed; its best/ and last/ models still load "
            "(mri_seg.load_segmenter): train again into another folder",
        )

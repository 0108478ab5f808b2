"""Train a 3D U-Net on a folder of BraTS-style cases.

One run folder (the suite's layout, :class:`mri_io.training.RunFolder`) holds everything:
``run.json`` (the settings), ``split.json``, ``log.csv`` (one row per epoch), ``best/`` (the
model with the highest mean validation Dice, as config.json + model.safetensors), ``last/`` and
``state.pt`` (the training state after the last finished epoch), and with ``cache="disk"``
the normalised cases in ``cache/``; a KLE run also keeps its basis, fitted on the training
split, in ``kle/`` (and inside every saved model). :func:`train_unet` with ``resume=True`` on
the same folder continues after that epoch; samples are drawn from generators seeded by
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

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from monai.transforms.compose import Compose
from torch.utils.data import Dataset

from mri_io.errors import RunFolderError
from mri_io.layouts import CaseFiles, scan_cases
from mri_io.spacing import training_orientation, training_spacing
from mri_io.training import (
    DistributedEnv,
    RunFolder,
    init_distributed,
    seed_everything,
    shutdown,
    tensorboard_writer,
    wrap,
)
from mri_seg.checkpoint import TrainingParts, TrainResult
from mri_seg.contract import InferenceSettings
from mri_seg.epochs import Batch, EpochPlan, train_epochs
from mri_seg.errors import TrainingDataError
from mri_seg.evaluation import region_dice
from mri_seg.inputs import load_training_case
from mri_seg.split import load_split, write_split
from mri_seg.targets import TargetSpec
from mri_seg.unet.config import RESUMABLE, TrainConfig
from mri_seg.unet.data import CropSamples, case_dataset, epoch_loader, training_transforms
from mri_seg.unet.inference import predict_probabilities, stack_inputs
from mri_seg.unet.kle import JSON_NAME, KLEBasis
from mri_seg.unet.losses import dice_ce_loss
from mri_seg.unet.networks import UNet3D
from mri_seg.unet.robust import SequenceDropout

TENSORBOARD_INSTALL = 'pip install "mri-seg[tensorboard]"'
KLE_FOLDER = "kle"


def optimisation(
    model: torch.nn.Module,
    *,
    learning_rate: float,
    weight_decay: float,
    total_steps: int,
    amp: bool,
    device: torch.device,
) -> TrainingParts:
    """Adam with weight decay, a cosine decay to zero over ``total_steps`` and a gradient
    scaler that scales only on CUDA: how every 3D U-Net of the package is optimised (the
    supervised one and SynthTumour's two stages)."""
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=total_steps)
    scaler = torch.amp.GradScaler("cuda", enabled=amp and device.type == "cuda")
    return TrainingParts(model, optimiser, schedule, scaler, device)


class CropBudget(Protocol):
    """The settings that fix which crops an epoch draws (U-Net and SynthTumour configs)."""

    @property
    def seed(self) -> int: ...
    @property
    def steps_per_epoch(self) -> int: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def workers(self) -> int: ...


@dataclass(frozen=True)
class CropSamplesOf:
    """Where an epoch's crops come from: ``count`` case records and the transform that cuts,
    augments (and, for SynthTumour, first paints) each sample."""

    records: Dataset[dict[Hashable, Any]]
    count: int
    transform: Compose


def train_on_crops(
    run: RunFolder,
    parts: TrainingParts,
    env: DistributedEnv,
    plan: EpochPlan,
    budget: CropBudget,
    source: CropSamplesOf,
    *,
    loss_function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    validate: Callable[[int], dict[str, float] | None],
    resuming: bool,
    progress: bool,
    dropout: SequenceDropout | None = None,
) -> TrainResult:
    """Train a 3D U-Net on random crops, epoch by epoch: each epoch's :class:`CropSamples`
    (seeded by the run's seed and the epoch) through :func:`epoch_loader`, the loss on the
    DDP-wrapped model. The supervised U-Net and both SynthTumour stages train this way, so
    the same settings draw the same crops whichever of them trains."""
    network = wrap(parts.model, env)

    def batches(epoch: int) -> Iterable[Batch]:
        samples = CropSamples(
            source.records,
            source.count,
            source.transform,
            seed=budget.seed,
            epoch=epoch,
            steps=budget.steps_per_epoch,
            batch_size=budget.batch_size,
            world_size=env.world_size,
            dropout=dropout,
        )
        return epoch_loader(samples, budget.batch_size, budget.workers, env.rank, env.world_size)

    def loss(batch: Batch) -> torch.Tensor:
        images, targets = batch
        return loss_function(network(images), targets)

    return train_epochs(
        run,
        parts,
        env,
        plan,
        resuming=resuming,
        batches=batches,
        loss=loss,
        validate=validate,
        progress=progress,
    )


def validation_dice(
    model: UNet3D, cases: Sequence[CaseFiles], settings: InferenceSettings
) -> dict[str, float]:
    """Mean Dice per region of the convention over ``cases`` (both empty counts as 1), read one
    case at a time."""
    spec = model.target
    regions = tuple(spec.convention.regions)
    per_case = []
    for files in cases:
        case = load_training_case(files, model.sequences, spec)
        images = stack_inputs(model, case.images)
        labels = spec.decode(predict_probabilities(model, images, settings)).cpu().numpy()
        per_case.append(region_dice(labels, case.labels, spec.convention, regions))
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
    device = env.device
    spec = TargetSpec(settings.output, settings.label_convention)
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
    kle = _kle_basis(run, train_files, settings, env.is_main) if settings.kle else None
    train_set = case_dataset(
        train_files, settings, spec, run.path, progress=progress and env.is_main, kle=kle
    )
    transform = training_transforms(settings, spec)

    seed_everything(settings.seed)
    # The grid the network learns on, recorded so inference brings other cases to it.
    model = UNet3D.from_preset(
        settings.preset,
        sequences=settings.sequences,
        target=spec,
        spacing=training_spacing(train_files),
        kle=kle,
        availability=settings.robust,
        orientation=training_orientation(train_files),
    ).to(device)
    parts = optimisation(
        model,
        learning_rate=settings.learning_rate,
        weight_decay=settings.weight_decay,
        total_steps=settings.epochs * settings.steps_per_epoch,
        amp=settings.amp,
        device=device,
    )
    validate = InferenceSettings(
        overlap=settings.overlap, device=str(device), output_device=str(device)
    )

    def validation(epoch: int) -> dict[str, float] | None:
        if not val_files:
            return {}
        if epoch % settings.val_every and epoch != settings.epochs:
            return None
        return validation_dice(model, val_files, validate)

    plan = EpochPlan(
        epochs=settings.epochs,
        steps_per_epoch=settings.steps_per_epoch,
        max_minutes=settings.max_minutes,
        amp=settings.amp,
        tensorboard=settings.tensorboard,
        tensorboard_install=TENSORBOARD_INSTALL,
        description=f"train {settings.preset}",
    )
    return train_on_crops(
        run,
        parts,
        env,
        plan,
        settings,
        CropSamplesOf(train_set, len(train_files), transform),
        loss_function=dice_ce_loss(spec),
        validate=validation,
        resuming=resuming,
        progress=progress,
        dropout=settings.dropout_plan() if settings.robust else None,
    )


def _kle_basis(
    run: RunFolder, cases: Sequence[CaseFiles], settings: TrainConfig, write: bool
) -> KLEBasis:
    """The KLE of the training split, kept in ``RUN/kle`` (a resumed run reads it back; every
    process fits the same basis, so only rank 0 writes it)."""
    folder = run.path / KLE_FOLDER
    if (folder / JSON_NAME).is_file():
        return KLEBasis.load(folder)
    if len(cases) < 2:
        raise TrainingDataError(
            run.path, f"a KLE needs at least 2 training cases, the split has {len(cases)}"
        )
    spec = TargetSpec(settings.output, settings.label_convention)
    stacks = (load_training_case(files, settings.sequences, spec).images for files in cases)
    basis = KLEBasis.fit(stacks, settings.sequences, components=settings.kle_components)
    if write:
        basis.save(folder)
    return basis


def _refuse_earlier_pipeline(run: RunFolder, resume: bool) -> None:
    """A run started before the MONAI data pipeline drew other crops: it cannot continue."""
    if resume and run.run_file.is_file() and "cache" not in run.settings():
        raise RunFolderError(
            run.run_file,
            "the run there was started by an earlier mri-seg, which drew its crops "
            "differently, so it cannot be resumed; its best/ and last/ models still load "
            "(mri_seg.load_segmenter): train again into another folder",
        )

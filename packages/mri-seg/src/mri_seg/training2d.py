"""Train HF-GAN's 2D segmenter on slices of BraTS-style cases (thesis §4.3.3).

Slices of every requested view are cut from the normalised four-sequence stack
(:func:`mri_seg.data.image_stack`) with :class:`mri_io.slicing.SliceLayout`, padded with the
background value to a square whose side is a multiple of 8. Only slices with at least
``min_tumour_fraction`` tumour pixels (0.1 % in the thesis) are used. The tumour type of a case
comes from its BraTS identifier (``BraTS-MET-...`` is a metastasis) unless given explicitly.
Loss: focal Tversky over the four classes (background, NETC, edema, ET); Adam with a cosine
schedule; float16 autocast on CUDA. After each epoch the model is scored on the held-out
cases' slices (Dice per class with mri-metrics, pooled over slices) and the best one is saved
to ``RUN/best``; ``RUN/log.csv`` has one row per epoch.

The run folder is the suite's (:class:`mri_io.training.RunFolder`, with the 3D trainer's
``split.json``): ``last/`` and ``state.pt`` after every epoch, so :func:`train_segmenter2d`
with ``resume=True`` on the same folder continues after the last finished epoch, and ends with
the weights an uninterrupted run ends with (batches are drawn from generators seeded by
``(seed, epoch, step)``). The trainer runs in one process.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from os import PathLike
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from tqdm import tqdm

from mri_io.intensity import BACKGROUND
from mri_io.layouts import CaseFiles, scan_cases
from mri_io.sequences import SEQUENCES
from mri_io.slicing import SliceLayout, View, view_axis
from mri_io.training import RunFolder, resolve_device, seed_everything
from mri_metrics import dice
from mri_seg.data import load_training_case
from mri_seg.errors import TrainingDataError
from mri_seg.losses import focal_tversky_loss
from mri_seg.networks.segmenter2d import CLASSES, TUMOUR_TYPES, Segmenter2D
from mri_seg.runfolder import (
    BestSoFar,
    TrainingParts,
    load_checkpoint,
    load_split,
    save_checkpoint,
    write_split,
)
from mri_seg.targets import TargetSpec
from mri_seg.training import TrainResult

_TYPE_IN_ID = re.compile(r"^BraTS-(?P<kind>[A-Za-z]+)-")
_TYPE_BY_DATASET = {"met": "met", "men": "men"}


def tumour_type_of(case_id: str) -> str:
    """``"met"``/``"men"`` for BraTS metastasis/meningioma identifiers, otherwise ``"gli"``."""
    match = _TYPE_IN_ID.match(case_id)
    return _TYPE_BY_DATASET.get(match["kind"].lower(), "gli") if match else "gli"


@dataclass(frozen=True)
class Segmenter2DConfig:
    """Settings of a 2D segmenter run (stored as ``train_config.json``).

    ``max_minutes`` stops after the first epoch that ends past the budget (the schedule still
    spans ``epochs``); it and ``device`` may change when a run is resumed, nothing else may.
    """

    views: tuple[View, ...] = ("axial", "coronal", "sagittal")
    epochs: int = 20
    steps_per_epoch: int = 50
    batch_size: int = 16
    learning_rate: float = 1e-3
    min_tumour_fraction: float = 0.001
    val_fraction: float = 0.2
    seed: int = 0
    amp: bool = True
    device: str | None = None
    max_minutes: float | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "steps_per_epoch", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.views:
            raise ValueError("at least one view is needed")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return {**asdict(self), "views": list(self.views)}


#: Settings that may change when a run is resumed.
RESUMABLE = frozenset({"max_minutes", "device"})


@dataclass(frozen=True)
class SliceSet:
    """Tumour slices of a set of cases: images, class maps, view and tumour-type indices."""

    images: NDArray[np.float32]
    classes: NDArray[np.int64]
    views: NDArray[np.int64]
    tumour_types: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.images.shape[0])


def _side(shape: Sequence[int], view: View) -> int:
    """The larger in-plane side of ``view``, rounded up to the segmenter's multiple of 8."""
    plane = max(n for axis, n in enumerate(shape) if axis != view_axis(view))
    return -(-plane // 8) * 8


def tumour_slices(
    folders: Sequence[CaseFiles],
    config: Segmenter2DConfig,
    model: Segmenter2D,
    tumour_types: Mapping[str, str] | None = None,
) -> SliceSet:
    """Every slice of every view with enough tumour, from the cases ``folders`` describes.

    Slices of all views are padded to one common side (the largest needed), so they batch.
    """
    spec = TargetSpec("labels")
    cases = [load_training_case(files, model.sequences, spec) for files in folders]
    side = max(_side(case.shape, view) for case in cases for view in config.views)
    images, classes, views, kinds = [], [], [], []
    for case in cases:
        kind = (tumour_types or {}).get(case.case_id) or tumour_type_of(case.case_id)
        view_codes, type_codes = model.codes(list(config.views), [kind] * len(config.views))
        for view, view_code, type_code in zip(config.views, view_codes, type_codes, strict=True):
            layout = SliceLayout.square(case.shape, view, side)
            labels = layout.slices(case.target[0], pad=0.0)
            pixels = np.count_nonzero(labels, axis=(1, 2))
            keep = np.flatnonzero(pixels >= config.min_tumour_fraction * labels[0].size)
            if keep.size == 0:
                continue
            images.append(layout.slices(case.images, keep, pad=BACKGROUND))
            classes.append(labels[keep].astype(np.int64))
            views.append(np.full(keep.size, int(view_code)))
            kinds.append(np.full(keep.size, int(type_code)))
    if not images:
        raise TrainingDataError(None, "no slice holds enough tumour to train on")
    return SliceSet(
        np.concatenate(images).astype(np.float32),
        np.concatenate(classes),
        np.concatenate(views).astype(np.int64),
        np.concatenate(kinds).astype(np.int64),
    )


def _batch(
    slices: SliceSet, config: Segmenter2DConfig, epoch: int, step: int
) -> tuple[torch.Tensor, ...]:
    rng = np.random.default_rng([config.seed, epoch, step])
    chosen = rng.integers(len(slices), size=config.batch_size)
    images, classes = slices.images[chosen], slices.classes[chosen]
    flips = rng.random((config.batch_size, 2)) < 0.5
    for i, (rows, columns) in enumerate(flips):
        axes = tuple(a for a, flip in ((-2, rows), (-1, columns)) if flip)
        if axes:
            images[i] = np.flip(images[i], axes)
            classes[i] = np.flip(classes[i], axes)
    return (
        torch.from_numpy(images),
        torch.from_numpy(classes),
        torch.from_numpy(slices.views[chosen]),
        torch.from_numpy(slices.tumour_types[chosen]),
    )


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
    started = time.monotonic()
    settings = config or Segmenter2DConfig()
    run = RunFolder(run_dir)
    device = resolve_device(settings.device)
    cases = [c for c in scan_cases(data) if c.seg is not None and not c.missing]
    if len(cases) < 2:
        raise TrainingDataError(data, f"{len(cases)} complete case(s) with a segmentation; need 2")
    resuming = run.begin(settings.to_json(), resume=resume, resumable=RESUMABLE)
    train_files, val_files = load_split(run, cases, settings.val_fraction, settings.seed)
    seed_everything(settings.seed)
    model = Segmenter2D(sequences=SEQUENCES, tumour_types=TUMOUR_TYPES, classes=CLASSES).to(device)
    train_slices = tumour_slices(train_files, settings, model, tumour_types)
    val_slices = tumour_slices(val_files, settings, model, tumour_types) if val_files else None
    write_split(run, train_files, val_files)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimiser, T_max=settings.epochs * settings.steps_per_epoch
    )
    use_amp = settings.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    parts = TrainingParts(model, optimiser, schedule, scaler, device)
    done, best = load_checkpoint(run, parts) if resuming else (0, BestSoFar())
    log = run.open_log(key="epoch", resume_after=done if resuming else None)
    epoch = done
    epochs = range(done + 1, settings.epochs + 1)
    for epoch in tqdm(epochs, desc="train segmenter2d", unit="epoch", disable=not progress):
        epoch_start = time.monotonic()
        model.train()
        losses = []
        for step in range(settings.steps_per_epoch):
            images, classes, views, kinds = (
                t.to(device) for t in _batch(train_slices, settings, epoch, step)
            )
            optimiser.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                loss = focal_tversky_loss(model(images, views, kinds).float(), classes)
            torch.autograd.backward(scaler.scale(loss))
            scaler.step(optimiser)
            scaler.update()
            schedule.step()
            losses.append(float(loss.detach()))
        row: dict[str, Any] = {
            "step": epoch * settings.steps_per_epoch,
            "train_loss": float(np.mean(losses)),
            "lr": schedule.get_last_lr()[0],
        }
        scores = slice_dice(model, val_slices, device) if val_slices is not None else {}
        row.update({f"val_dice_{name}": value for name, value in scores.items()})
        # Without validation cases the lowest training loss stands in for the best Dice.
        score = float(np.mean(list(scores.values()))) if scores else -row["train_loss"]
        if best.offer(epoch, score, scores):
            model.save_pretrained(run.best)
        model.save_pretrained(run.last)
        save_checkpoint(run, parts, epoch, best)
        row["seconds"] = time.monotonic() - epoch_start
        log.write(epoch, row)
        budget = settings.max_minutes
        if budget is not None and time.monotonic() - started > 60 * budget:
            break
    log.close()
    return TrainResult(run.path, epoch, best.epoch, best.dice, time.monotonic() - started)

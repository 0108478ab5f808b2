"""A training run on disk: cohort in, run folder out, resumable.

The run folder holds ``run.json`` (model and training configuration), ``stats.json`` (the
intensity statistics the data was normalised with), ``losses.csv``, ``state.pt`` (the latest
resumable state) and the shareable model: ``config.json`` + ``model.safetensors`` (EMA weights
when EMA is on), which ``mri-gen synthesize --model RUN`` and
:meth:`HFGANGenerator.from_pretrained` read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from tqdm import tqdm

from mri_gen.errors import CheckpointError, ConfigError
from mri_gen.hfgan.config import HFGANConfig
from mri_gen.hfgan.dataset import BatchStream, SliceDataset, SliceSource
from mri_gen.hfgan.losses import LossWeights
from mri_gen.hfgan.segmenter import FrozenSegmenter
from mri_gen.hfgan.trainer import HFGANTrainer, TrainConfig
from mri_gen.training.checkpoint import STATE_NAME, load_state, save_state
from mri_gen.training.distributed import DistributedEnv, barrier, mean_over_ranks
from mri_gen.training.loss_log import LossLog
from mri_io.atomic import atomic_write_text
from mri_io.case import load_case
from mri_io.intensity import PRESETS as STATS_PRESETS
from mri_io.intensity import IntensityStats, dataset_stats, load_stats, save_stats
from mri_io.layouts import CaseFiles, scan_cases
from mri_io.slicing import View

RUN_NAME = "run.json"
STATS_NAME = "stats.json"
LOG_NAME = "losses.csv"


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines a run besides the data: model, training, views, statistics."""

    model: HFGANConfig
    train: TrainConfig
    views: tuple[View, ...] = ("axial",)
    checkpoint_every: int = 100
    workers: int = 0
    tensorboard: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model.to_json(),
            "train": self.train.to_json(),
            "views": list(self.views),
        }


def training_cases(folder: str | PathLike[str]) -> list[CaseFiles]:
    """The complete cases under ``folder``; none at all is an error naming the folder."""
    cases = [case for case in scan_cases(folder) if not case.missing]
    if not cases:
        raise ConfigError(folder, "no case with all four sequences to train on")
    return cases


def cohort_stats(cases: Sequence[CaseFiles], sequences: Sequence[str]) -> dict[str, IntensityStats]:
    """Dataset-wide statistics of the training cases (two streamed passes, exact)."""

    def volumes() -> Any:
        for files in tqdm(cases, desc="intensity statistics", unit="case", leave=False):
            case = load_case(files)
            yield {name: case.images[name].data for name in sequences if name in case.images}

    return dataset_stats(volumes(), volumes())


def resolve_stats(
    spec: str | None, cases: Sequence[CaseFiles], sequences: Sequence[str]
) -> dict[str, IntensityStats]:
    """``None``: computed from the cases; ``"brasyn25"``: the thesis figures; else a JSON file."""
    if spec is None:
        return cohort_stats(cases, sequences)
    if spec in STATS_PRESETS:
        return dict(STATS_PRESETS[spec])
    stats = load_stats(spec)
    absent = [name for name in sequences if name not in stats]
    if absent:
        raise ConfigError(spec, f"no statistics for {', '.join(absent)}")
    return stats


def _compatible(saved: Mapping[str, Any], spec: RunSpec, folder: Path) -> None:
    if saved.get("model") != json.loads(json.dumps(spec.model.to_json())):
        raise CheckpointError(folder / RUN_NAME, "the saved run has another model configuration")


def train_hfgan(
    data: str | PathLike[str],
    out: str | PathLike[str],
    spec: RunSpec,
    env: DistributedEnv,
    *,
    resume: bool = False,
    stats: str | None = None,
    segmenter: FrozenSegmenter | None = None,
    progress: bool = True,
    until: int | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> Path:
    """Train on the cases under ``data``, writing the run folder ``out``; returns ``out``.

    ``until`` stops after that many steps (checkpointing there) while the learning-rate
    schedule still runs toward ``spec.train.steps``: a run cut short by a time budget, to be
    continued with ``resume=True``. ``on_step(step, losses)`` is called after every step.
    """
    folder = Path(out)
    sequences = spec.model.generator.sequences
    cases = training_cases(data)
    if resume:
        saved = json.loads((folder / RUN_NAME).read_text(encoding="utf-8"))
        _compatible(saved, spec, folder)
        intensity = load_stats(folder / STATS_NAME)
    else:
        if (folder / STATE_NAME).exists():
            raise ConfigError(folder, "holds a run already; pass --resume or choose another --out")
        intensity = resolve_stats(stats, cases, sequences)
    if env.is_main and not resume:
        folder.mkdir(parents=True, exist_ok=True)
        save_stats(intensity, folder / STATS_NAME)
        atomic_write_text(folder / RUN_NAME, json.dumps(spec.to_json(), indent=2) + "\n")
    source = SliceSource(
        tuple(cases), intensity, sequences, spec.views, spec.model.generator.image_size
    )
    dataset = SliceDataset(source, seed=spec.train.seed)
    stream = BatchStream(dataset, spec.train.batch_size, workers=spec.workers)
    trainer = HFGANTrainer(spec.model, spec.train, env, segmenter)
    if resume:
        state = load_state(folder / STATE_NAME, env.device)
        trainer.load_state_dict(state)
        stream.seek(int(state["epoch"]), int(state["batch"]))
    columns = [*LossWeights.terms(), "g_total", "d_total", "lr"]
    log = (
        LossLog(
            folder / LOG_NAME,
            columns,
            tensorboard=spec.tensorboard,
            resume_from=trainer.step_count if resume else None,
        )
        if env.is_main
        else None
    )
    bar = tqdm(
        total=spec.train.steps,
        initial=trainer.step_count,
        desc="training HF-GAN",
        unit="step",
        disable=not (progress and env.is_main),
    )
    batches = iter(stream)
    try:
        last = spec.train.steps if until is None else min(until, spec.train.steps)
        while trainer.step_count < last:
            values = mean_over_ranks(trainer.step(next(batches)), env)
            step = trainer.step_count
            bar.update(1)
            bar.set_postfix(g=f"{values['g_total']:.3f}")
            if log is not None:
                log.write(step, values)
            if on_step is not None:
                on_step(step, values)
            if step % spec.checkpoint_every == 0 or step == last:
                _checkpoint(trainer, stream, folder, intensity, env)
    finally:
        bar.close()
        if log is not None:
            log.close()
    return folder


def _checkpoint(
    trainer: HFGANTrainer,
    stream: BatchStream,
    folder: Path,
    intensity: Mapping[str, IntensityStats],
    env: DistributedEnv,
) -> None:
    if env.is_main:
        epoch, batch = stream.position
        save_state({**trainer.state_dict(), "epoch": epoch, "batch": batch}, folder / STATE_NAME)
        stats = {name: asdict(value) for name, value in intensity.items()}
        inputs = trainer.train_config.inputs
        trainer.shared_generator.save_pretrained(
            folder, {"stats": stats, "step": trainer.step_count, "trained_inputs": inputs}
        )
    barrier(env)

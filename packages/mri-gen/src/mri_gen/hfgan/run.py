"""A training run on disk: cohort in, run folder out, resumable.

The run folder has the suite's layout (:class:`mri_io.training.RunFolder`): ``run.json`` (model
and training configuration), ``log.csv`` (one row per step), ``state.pt`` (the latest
resumable state) and ``last/``, the shareable model (``config.json`` + ``model.safetensors``,
EMA weights when EMA is on), plus HF-GAN's ``stats.json`` (the intensity statistics the data was
normalised with). ``mri-gen complete --model RUN`` and :meth:`HFGANGenerator.from_pretrained`
read the run folder itself: it resolves to its ``last/`` model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from tqdm import tqdm

from mri_gen.errors import ConfigError
from mri_gen.hfgan.config import HFGANConfig
from mri_gen.hfgan.data import BatchStream, SliceDataset, SliceSource
from mri_gen.hfgan.inference import CROP, NORMALISATION
from mri_gen.hfgan.segmenter import FrozenSegmenter
from mri_gen.hfgan.training import HFGANTrainer, TrainConfig
from mri_gen.training import open_log
from mri_io.case import load_case
from mri_io.intensity import PRESETS as STATS_PRESETS
from mri_io.intensity import IntensityStats, dataset_stats, load_stats, save_stats
from mri_io.layouts import CaseFiles, scan_cases
from mri_io.slicing import View
from mri_io.spacing import grid_record, training_orientation, training_spacing
from mri_io.training import DistributedEnv, RunFolder, barrier, mean_over_ranks

STATS_NAME = "stats.json"


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
    run = RunFolder(out)
    sequences = spec.model.generator.sequences
    cases = training_cases(data)
    settings = spec.to_json()
    resumed = run.begin(settings, resume=resume, env=env, write=False)
    if resume:
        intensity = load_stats(run.path / STATS_NAME)
    else:
        intensity = resolve_stats(stats, cases, sequences)
        if env.is_main:
            # stats.json before run.json: a folder with a run.json is resumed, and a resumed
            # run reads its statistics.
            save_stats(intensity, run.path / STATS_NAME)
            run.begin(settings, resume=False)
    # Recorded so inference brings other grids to the one the model learnt on.
    grid = grid_record(training_spacing(cases), training_orientation(cases), NORMALISATION, CROP)
    source = SliceSource(
        tuple(cases), intensity, sequences, spec.views, spec.model.generator.image_size
    )
    dataset = SliceDataset(source, seed=spec.train.seed)
    stream = BatchStream(dataset, spec.train.batch_size, workers=spec.workers)
    trainer = HFGANTrainer(spec.model, spec.train, env, segmenter)
    if resumed:
        state = run.load_state(env.device)
        trainer.load_state_dict(state)
        stream.seek(int(state["epoch"]), int(state["batch"]))
    log = (
        open_log(
            run,
            resume_after=trainer.step_count if resume else None,
            tensorboard=spec.tensorboard,
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
                _checkpoint(trainer, stream, run, intensity, grid, env)
    finally:
        bar.close()
        if log is not None:
            log.close()
    return run.path


def _checkpoint(
    trainer: HFGANTrainer,
    stream: BatchStream,
    run: RunFolder,
    intensity: Mapping[str, IntensityStats],
    grid: Mapping[str, Any],
    env: DistributedEnv,
) -> None:
    if env.is_main:
        stats = {name: asdict(value) for name, value in intensity.items()}
        inputs = trainer.train_config.inputs
        trainer.shared_generator.save_pretrained(
            run.last,
            {
                "stats": stats,
                "step": trainer.step_count,
                "trained_inputs": inputs,
                **grid,
            },
        )
        # The state last: a run killed between the two resumes from the previous state and
        # writes last/ again, while a state ahead of last/ would end a resumed run at once
        # with last/ one checkpoint behind.
        epoch, batch = stream.position
        run.save_state({**trainer.state_dict(), "epoch": epoch, "batch": batch})
    barrier(env)

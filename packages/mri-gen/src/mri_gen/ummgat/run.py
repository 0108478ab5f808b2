"""A UMMGAT training run on disk: cohort in, run folder out, resumable.

The run folder has the suite's layout (:class:`mri_io.training.RunFolder`): ``run.json`` (model
and training configuration), ``log.csv`` (one row per step), ``state.pt`` (the latest
resumable state) and ``last/``, the shareable model (``config.json`` + ``model.safetensors``,
EMA weights), plus UMMGAT's ``assignment.json`` (the one domain each training patient
contributed: the unpaired setting is recorded, not implied).
:class:`~mri_gen.ummgat.inference.Translator` and ``mri-gen translate --model RUN`` read the run
folder itself: it resolves to its ``last/`` model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from tqdm import tqdm

from mri_gen.training import open_log
from mri_gen.ummgat.config import UMMGATConfig
from mri_gen.ummgat.data import UnpairedSampler, load_unpaired
from mri_gen.ummgat.inference import CROP, NORMALISATION
from mri_gen.ummgat.training import TrainConfig, UMMGATTrainer
from mri_io.atomic import atomic_write_text
from mri_io.layouts import scan_cases
from mri_io.spacing import grid_record, training_orientation, training_spacing
from mri_io.training import DistributedEnv, RunFolder, barrier, mean_over_ranks

ASSIGNMENT_NAME = "assignment.json"


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines a run besides the data.

    ``model.domains`` is replaced by the domains found in the data (sorted), unless
    ``keep_domains`` is set, in which case the data must fit the given ones.
    """

    model: UMMGATConfig
    train: TrainConfig
    default_centre: str | None = None
    keep_domains: bool = False
    checkpoint_every: int = 500
    tensorboard: bool = False


def _document(model: UMMGATConfig, train: TrainConfig) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        json.dumps({"model": model.to_json(), "train": train.to_json()})
    )
    return loaded


def train_ummgat(
    data: str | PathLike[str],
    out: str | PathLike[str],
    spec: RunSpec,
    env: DistributedEnv,
    *,
    resume: bool = False,
    progress: bool = True,
    until: int | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> Path:
    """Train on the cohort under ``data`` into the run folder ``out``; returns ``out``.

    ``until`` stops after that many steps (checkpointing there), to be continued later with
    ``resume=True``; ``on_step(step, losses)`` is called after every step.
    """
    run = RunFolder(out)
    domains = spec.model.domains if spec.keep_domains else None
    if resume:
        # The domains of a resumed run are the ones it was started with, whatever the data.
        domains = tuple(run.settings()["model"]["domains"])
    slices, assignment = load_unpaired(
        data,
        spec.model.image_size,
        seed=spec.train.seed,
        default_centre=spec.default_centre,
        domains=domains,
        progress=progress and env.is_main,
    )
    model = spec.model.with_domains(slices.domains)
    # Recorded so inference brings other grids to the one the model learnt on.
    cases = scan_cases(data)
    grid = grid_record(training_spacing(cases), training_orientation(cases), NORMALISATION, CROP)
    settings = _document(model, spec.train)
    resumed = run.begin(settings, resume=resume, env=env)
    # Written again by a resumed run that lacks it (one killed just after run.json): the same
    # seed and domains give the same assignment.
    if env.is_main and not (resume and (run.path / ASSIGNMENT_NAME).is_file()):
        atomic_write_text(run.path / ASSIGNMENT_NAME, json.dumps(assignment, indent=2) + "\n")
    trainer = UMMGATTrainer(model, spec.train, env)
    sampler = UnpairedSampler(
        slices,
        spec.train.batch_size,
        seed=spec.train.seed + 7919 * env.rank,
        latent_dim=model.latent_dim,
    )
    if resumed:
        state = run.load_state(env.device)
        trainer.load_state_dict(state)
        sampler.load_state_dict(state["sampler"])
    log = None
    if env.is_main:
        log = open_log(
            run,
            resume_after=trainer.step_count if resume else None,
            tensorboard=spec.tensorboard,
        )
    last = spec.train.steps if until is None else min(until, spec.train.steps)
    bar = tqdm(
        total=spec.train.steps,
        initial=trainer.step_count,
        desc="training UMMGAT",
        unit="step",
        disable=not (progress and env.is_main),
    )
    try:
        while trainer.step_count < last:
            values = mean_over_ranks(trainer.step(sampler.next()), env)
            step = trainer.step_count
            bar.update(1)
            if log is not None:
                log.write(step, values)
            if on_step is not None:
                on_step(step, values)
            if step % spec.checkpoint_every == 0 or step == last:
                if env.is_main:
                    # The model before the state: a run killed between the two resumes from
                    # the previous state and writes last/ again.
                    trainer.shared_model.save_pretrained(run.last, {"step": step, **grid})
                    run.save_state({**trainer.state_dict(), "sampler": sampler.state_dict()})
                barrier(env)
    finally:
        bar.close()
        if log is not None:
            log.close()
    return run.path

"""The benchmark run: cases x scenarios x strategies -> completion -> segmentation -> scores.

For every case and scenario the scenario's sequences are removed (and the rest shifted, for a
cross-centre scenario); each strategy completes the case, knowing its acquisition centre (a
harmonising strategy also replaces the available inputs); the fixed segmenter segments it and
mri-metrics scores the label map against the reference (Dice, HD95, NSD and lesion-wise
scores per region), and every synthesised sequence that exists for real is scored against it
(foreground SSIM, PSNR and MAE after BraSyn's [0, 1] scaling, on the brain and the tumour).

Jobs are (case, scenario) pairs run in worker processes (``workers``); the main process is the
only writer of the results store and commits each (case, scenario, strategy) task in one
transaction as soon as it arrives, so a killed run resumes with :func:`run_benchmark`
(``resume=True``) exactly where it stopped. The panel case also leaves the axial slices the
report draws (``panels/``), written before its task is committed.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import as_completed
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from mri_bench.config import SEGMENTER, SIMPLE_STRATEGIES, BenchConfig
from mri_bench.errors import StoreError
from mri_bench.generators import GeneratorStrategy
from mri_bench.provenance import package_versions, provenance_key
from mri_bench.reference import SequenceReference, estimate_reference, unit_scale
from mri_bench.scenarios import Scenario, case_rng
from mri_bench.segmenter import FixedSegmenter, SegmenterStrategy
from mri_bench.store import STORE_NAME, ResultStore, Row, TaskResult, writer_lock
from mri_bench.strategies import (
    UNKNOWN_CENTRE,
    Completion,
    CompletionStrategy,
    CopyMatched,
    CopyMostCorrelated,
    MeanFill,
    ZeroFill,
)
from mri_io import case_centres, process_pool
from mri_io.atomic import atomic_write, atomic_write_text
from mri_io.case import Case, load_case
from mri_io.layouts import CaseFiles, scan_cases
from mri_io.sequences import SEQUENCES
from mri_metrics import get_profile, mae, psnr, region_masks, score_segmentation, ssim

CONFIG_NAME = "config.json"
REFERENCE_NAME = "reference.json"
PANELS = "panels"
#: Metrics holding the voxel counts of the predicted and reference masks of each region.
PREDICTED_VOXELS = "predicted_voxels"
REFERENCE_VOXELS = "reference_voxels"


def load_reference(path: Path, out: Path) -> SequenceReference:
    """A stored reference (JSON file), or one estimated from the complete cases of a folder
    (saved to ``out/reference.json`` so a resumed run does not re-estimate it)."""
    saved = out / REFERENCE_NAME
    if path.is_file():
        return SequenceReference.load(path)
    if saved.is_file():
        return SequenceReference.load(saved)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: reference is neither a JSON file nor a case folder")
    complete = [files for files in scan_cases(path) if not files.missing]
    if not complete:
        raise ValueError(f"{path}: no complete case to learn sequence correlations from")
    images = (
        {k: v.data for k, v in load_case(files).images.items()}
        for files in tqdm(complete, desc="reference", unit="case", leave=False)
    )
    reference = estimate_reference(images)
    reference.save(saved)
    return reference


def build_strategies(
    config: BenchConfig, reference: SequenceReference
) -> dict[str, CompletionStrategy]:
    """The strategy objects a config runs (a shard's only: a shard of the baselines needs no
    generator's weights, which may not exist yet), by name."""
    built: dict[str, CompletionStrategy] = {}
    for spec in config.active_strategies:
        strategy: CompletionStrategy
        if spec.kind in SIMPLE_STRATEGIES:
            strategy = simple_strategy(spec.kind, spec.name, reference)
        elif spec.kind == SEGMENTER:
            assert spec.checkpoint is not None
            own = FixedSegmenter(spec.checkpoint, device=config.device)
            fill = simple_strategy(spec.fill, spec.fill, reference) if spec.fill else None
            strategy = SegmenterStrategy(spec.name, own, fill)
        else:
            assert spec.checkpoint is not None
            strategy = GeneratorStrategy(
                spec.name,
                spec.generator,
                spec.checkpoint,
                device=config.device,
                options=dict(spec.options),
            )
        built[spec.name] = strategy
    return built


def simple_strategy(kind: str, name: str, reference: SequenceReference) -> CompletionStrategy:
    """A copy or fill strategy of ``kind`` (one of ``SIMPLE_STRATEGIES``)."""
    if kind == "copy":
        return CopyMostCorrelated(reference, name=name)
    if kind == "copy-matched":
        return CopyMatched(reference, name=name)
    if kind == "zero":
        return ZeroFill(name=name)
    return MeanFill(name=name)


@dataclass
class Context:
    """What every job needs besides its case: shared by all jobs of a run."""

    strategies: dict[str, CompletionStrategy]
    segmenter: FixedSegmenter | None
    profile: str
    provenance: dict[str, str]
    panel_case: str
    panels: Path


@dataclass(frozen=True)
class Job:
    """One case under one scenario, for the strategies not yet stored."""

    files: CaseFiles
    centre: str
    scenario: Scenario
    strategies: tuple[str, ...]


def scenario_case(case: Case, scenario: Scenario) -> tuple[Case, tuple[str, ...]]:
    """The case as the scenario presents it (missing removed, rest shifted) and what is
    missing, including sequences the case never had."""
    removed = set(scenario.missing_for(case.case_id)) | set(case.missing)
    kept = {k: v for k, v in case.images.items() if k not in removed}
    if not kept:
        raise ValueError(
            f"case {case.case_id}: scenario {scenario.name!r} leaves no sequence "
            f"(the case has only {sorted(case.images)})"
        )
    if scenario.shift is not None:
        reference = next(iter(kept.values()))
        rng = case_rng(scenario.seed, case.case_id, "shift")
        shifted = scenario.shift.apply({k: v.data for k, v in kept.items()}, reference.spacing, rng)
        kept = {k: v.with_data(shifted[k]) for k, v in kept.items()}
    missing = tuple(s for s in SEQUENCES if s not in kept)
    view = Case(case.case_id, kept, case.seg, missing, case.label_convention)
    return view, missing


def split_completion(
    view: Case,
    completion: Completion,
    missing: Sequence[str],
    strategy: str,
    *,
    partial: bool = False,
) -> tuple[Case, Completion]:
    """The case the segmenter sees (available sequences a strategy replaced, e.g. harmonised
    ones, swapped in) and the images of the missing sequences it completed: every one of them,
    unless ``partial`` (a strategy whose own segmenter takes incomplete cases)."""
    stray = sorted(set(completion) - set(missing) - set(view.images))
    absent = [] if partial else [key for key in missing if key not in completion]
    if stray or absent:
        raise ValueError(
            f"strategy {strategy!r}, case {view.case_id}: a completion must hold every missing "
            f"sequence {list(missing)} and may replace available ones {sorted(view.images)}; "
            f"it lacks {absent} and holds unknown {stray}"
        )
    images = {
        key: volume.with_data(completion[key]) if key in completion else volume
        for key, volume in view.images.items()
    }
    seen = Case(view.case_id, images, view.seg, view.missing, view.label_convention)
    return seen, {key: completion[key] for key in missing if key in completion}


def image_scores(
    case: Case, completion: Mapping[str, npt.NDArray[Any]]
) -> Iterator[tuple[str, str, str, float]]:
    """(target, region, metric, value) of every synthesised sequence that exists for real."""
    real = {k: np.asarray(v.data, dtype=np.float64) for k, v in case.images.items()}
    brain = np.any(np.stack([image > 0 for image in real.values()]), axis=0)
    tumour = brain & (case.seg.data > 0) if case.seg is not None else np.zeros_like(brain)
    for target in sorted(completion):
        if target not in real:
            continue
        truth = unit_scale(real[target], brain)
        made = unit_scale(np.asarray(completion[target], dtype=np.float64), brain)
        for region, mask in (("brain", brain), ("tumour", tumour)):
            if not mask.any():
                continue
            yield target, region, "ssim", ssim(made, truth, mask=mask, data_range=1.0)
            yield target, region, "psnr", psnr(made, truth, mask=mask, data_range=1.0)
            yield target, region, "mae", mae(made, truth, mask=mask)


def region_volumes(
    labels: npt.ArrayLike, reference: npt.ArrayLike, profile: str
) -> Iterator[tuple[str, str, str, float]]:
    """(target, region, metric, voxels) of the predicted and reference masks of every region
    the profile scores: the report needs them to tell an empty segmentation (whose distance
    scores are undefined or a penalty) and a healthy case (no reference tumour) from the rest,
    which no score says under every profile."""
    settings = get_profile(profile)
    for metric, label_map in ((PREDICTED_VOXELS, labels), (REFERENCE_VOXELS, reference)):
        masks = region_masks(label_map, settings.convention, regions=settings.regions)
        for region, mask in masks.items():
            yield "", region, metric, float(np.count_nonzero(mask))


def _axial_slice(case: Case) -> int:
    if case.seg is not None and case.seg.data.any():
        return int(np.argmax((case.seg.data > 0).sum(axis=(0, 1))))
    return next(iter(case.images.values())).shape[2] // 2


def _write_panel(
    path: Path,
    case: Case,
    view: Case,
    completion: Mapping[str, npt.NDArray[Any]],
    labels: npt.NDArray[np.uint8] | None,
) -> None:
    z = _axial_slice(case)
    real = {k: np.asarray(v.data, dtype=np.float64) for k, v in case.images.items()}
    brain = np.any(np.stack([image > 0 for image in real.values()]), axis=0)
    arrays: dict[str, npt.NDArray[Any]] = {"z": np.array(z)}
    for target, image in completion.items():
        made = unit_scale(np.asarray(image, dtype=np.float64), brain)
        arrays[f"completed_{target}"] = made[:, :, z].astype(np.float32)
        if target in real:
            arrays[f"real_{target}"] = unit_scale(real[target], brain)[:, :, z].astype(np.float32)
    for key, volume in view.images.items():
        arrays[f"input_{key}"] = unit_scale(volume.data, brain)[:, :, z].astype(np.float32)
    if case.seg is not None:
        arrays["reference_seg"] = np.asarray(case.seg.data[:, :, z], dtype=np.uint8)
    if labels is not None:
        arrays["predicted_seg"] = labels[:, :, z]
    with atomic_write(path) as temporary, temporary.open("wb") as handle:
        savez: Any = np.savez_compressed  # the stub types every keyword as allow_pickle
        savez(handle, **arrays)


def panel_path(panels: Path, scenario: str, strategy: str) -> Path:
    """Where the slice panel of one scenario and strategy is kept."""
    slug = "".join(c if c.isalnum() else "-" for c in scenario)
    return panels / f"{slug}__{strategy}.npz"


def run_job(job: Job, context: Context) -> list[TaskResult]:
    """Every pending strategy of one case under one scenario."""
    case = load_case(job.files)
    view, missing = scenario_case(case, job.scenario)
    results = []
    unchanged: tuple[list[tuple[str, str, str, float]], npt.NDArray[np.uint8] | None] | None = None
    for name in job.strategies:
        started = time.perf_counter()
        strategy = context.strategies[name]
        own = isinstance(strategy, SegmenterStrategy)
        segmenter = (
            strategy.segmenter if isinstance(strategy, SegmenterStrategy) else context.segmenter
        )
        completion = strategy.complete(view, missing, centre=job.centre)
        partial = isinstance(strategy, SegmenterStrategy) and strategy.fill is None
        seen, generated = split_completion(view, completion, missing, name, partial=partial)
        labels = None
        if not completion and not own and unchanged is not None:
            # Nothing completed or replaced: every such strategy hands the segmenter the same input.
            values, labels = unchanged
        else:
            values = list(image_scores(case, generated))
            if segmenter is not None and case.seg is not None:
                labels = segmenter.segment(seen, generated)
                spacing = case.seg.spacing
                scores = score_segmentation(labels, case.seg.data, context.profile, spacing)
                values += [
                    ("", region, metric, float(value))
                    for region, by_metric in scores.items()
                    for metric, value in by_metric.items()
                ]
                values += list(region_volumes(labels, case.seg.data, context.profile))
            if not completion and not own:
                unchanged = (values, labels)
        if job.files.case_id == context.panel_case and missing:
            path = panel_path(context.panels, job.scenario.name, name)
            _write_panel(path, case, seen, generated, labels)
        rows = tuple(
            Row(
                case.case_id,
                job.centre,
                job.scenario.name,
                name,
                target,
                region,
                metric,
                value,
                job.scenario.seed,
                context.provenance[name],
            )
            for target, region, metric, value in values
        )
        seconds = time.perf_counter() - started
        results.append(TaskResult(case.case_id, job.scenario.name, name, missing, seconds, rows))
    return results


_CONTEXT: Context | None = None


def _init_worker(context: Context, threads: int) -> None:
    """Worker initialiser: keep the shared context, and share the cores instead of every
    worker using all of them (torch is imported later, so it reads these)."""
    global _CONTEXT
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)
    _CONTEXT = context


def _run_in_worker(job: Job) -> list[TaskResult]:
    assert _CONTEXT is not None
    return run_job(job, _CONTEXT)


def plan_jobs(config: BenchConfig, done: set[tuple[str, str, str]]) -> list[Job]:
    """The (case, scenario) jobs of the config's case shard with at least one strategy not
    yet stored (the shard's cases are drawn from every case's work, stored or not)."""
    cases = scan_cases(config.data)
    if config.cases:
        wanted = set(config.cases)
        absent = sorted(wanted - {c.case_id for c in cases})
        if absent:
            raise ValueError(f"{config.data}: no case {absent[:3]} named by the config")
        cases = [c for c in cases if c.case_id in wanted]
    centres = case_centres(config.data, UNKNOWN_CENTRE)
    jobs = []
    for files in cases:
        centre = centres.get(files.case_id, UNKNOWN_CENTRE)
        for scenario in config.active_scenarios:
            left = set(files.sequences) - set(scenario.missing_for(files.case_id))
            if not scenario.applies_to(centre) or not left:
                # A case whose own sequences the scenario removes entirely has no input left.
                continue
            pending = tuple(
                s.name
                for s in config.active_strategies
                if (files.case_id, scenario.name, s.name) not in done
            )
            jobs.append(Job(files, centre, scenario, pending))
    if not config.shard.whole:
        mine = config.shard.cases(Counter(job.files.case_id for job in jobs))
        jobs = [job for job in jobs if job.files.case_id in mine]
    return [job for job in jobs if job.strategies]


def _open_store(config: BenchConfig, out: Path, resume: bool) -> ResultStore:
    path = out / STORE_NAME
    exists = path.is_file()
    if exists and not resume:
        raise StoreError(f"{path}: holds results already; pass --resume or choose another --out")
    store = ResultStore(path)
    digest = store.meta("config_sha256")
    if digest is not None and digest != config.digest():
        store.close()
        raise StoreError(f"{path}: was started with another config; resume it with the same config")
    store.set_meta("config_sha256", config.digest())
    store.set_meta("config", json.dumps(config.to_json(), sort_keys=True))
    return store


def run_benchmark(
    config: BenchConfig,
    out: str | os.PathLike[str],
    *,
    resume: bool = False,
    progress: bool = True,
    workers: int | None = None,
    new_provenance: bool = False,
) -> Path:
    """Run (or resume) the benchmark into ``out``; returns the results store's path.

    One run writes to a folder at a time (a second is refused, naming the first). A resumed
    run refuses a strategy or segmenter whose model, options or reference changed since the
    stored results were computed, naming what changed, unless ``new_provenance`` is set: the
    new results then carry their own provenance record beside the old ones.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with writer_lock(folder / STORE_NAME), closing(_open_store(config, folder, resume)) as store:
        atomic_write_text(folder / CONFIG_NAME, json.dumps(config.to_json(), indent=2) + "\n")
        reference = load_reference(config.reference, folder)
        strategies = build_strategies(config, reference)
        segmenter = (
            None
            if config.segmenter is None
            else FixedSegmenter(
                config.segmenter, device=config.device, window=config.segmenter_window
            )
        )
        versions = package_versions()
        keys = {}
        stored = list(store.provenance().values())
        for name, strategy in strategies.items():
            record = {
                "versions": versions,
                "config_sha256": config.digest(),
                "strategy": {"name": name, **strategy.provenance()},
                **(segmenter.provenance() if segmenter is not None else {}),
            }
            if not new_provenance:
                _check_same_models(store.path, name, record, stored)
            keys[name] = provenance_key(record)
            store.add_provenance(keys[name], record)
        jobs = plan_jobs(config, store.done())
        panel_case = config.panel_case or _first_case(config)
        context = Context(strategies, segmenter, config.profile, keys, panel_case, folder / PANELS)
        total = sum(len(job.strategies) for job in jobs)
        bar = tqdm(total=total, desc="benchmark", unit="task", disable=not progress)
        with bar:
            for results in _execute(jobs, context, workers or config.workers):
                for result in results:
                    store.add(result)
                    bar.update(1)
    return folder / STORE_NAME


#: Provenance fields that say which computation produced a number; package versions are
#: recorded but a resume across an upgrade is allowed.
_UNCHECKED = frozenset({"versions"})


def _check_same_models(
    store: Path, name: str, record: dict[str, Any], stored: Sequence[dict[str, Any]]
) -> None:
    """Refuse to resume strategy ``name`` if its stored results came from other models.

    ``stored`` are the provenance records already in the store; those of this strategy must
    include one equal to ``record`` (package versions aside), or there must be none.
    """
    mine = [r for r in stored if isinstance(r.get("strategy"), dict)]
    mine = [r for r in mine if r["strategy"].get("name") == name]
    if not mine:
        return

    def relevant(entry: dict[str, Any]) -> dict[str, Any]:
        flat = {k: v for k, v in entry.items() if k not in _UNCHECKED and k != "strategy"}
        flat.update({f"strategy {k}": v for k, v in entry["strategy"].items()})
        return flat

    current = relevant(record)
    if any(relevant(entry) == current for entry in mine):
        return
    before = relevant(mine[-1])
    changed = sorted(k for k in current.keys() | before.keys() if current.get(k) != before.get(k))
    shown = "; ".join(f"{k}: {before.get(k)} -> {current.get(k)}" for k in changed[:3])
    raise StoreError(
        f"{store}: strategy {name!r} has stored results from other models or settings "
        f"({shown}); resuming would mix two models in one table. Run into a new --out, or "
        "pass --new-provenance to continue with the new ones under their own provenance"
    )


def _first_case(config: BenchConfig) -> str:
    if config.cases:
        return sorted(config.cases)[0]
    cases = scan_cases(config.data)
    return cases[0].case_id if cases else ""


def _execute(jobs: Sequence[Job], context: Context, workers: int) -> Iterator[list[TaskResult]]:
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield run_job(job, context)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    with process_pool(
        workers, start_method="spawn", initializer=_init_worker, initargs=(context, threads)
    ) as pool:
        futures = [pool.submit(_run_in_worker, job) for job in jobs]
        for future in as_completed(futures):
            yield future.result()

"""The main job: the whole benchmark on a synthetic cohort, from nothing, in one command.

1. Generate two synthetic cohorts with mri-io (training and held-out cases; three centres that
   acquire all four sequences), on a coarse grid (4 mm by default) so everything fits two
   CPU cores.
2. Train the ``tiny`` HF-GAN (mri-gen) on axial slices of the training cases: the
   generator, the longest stage.
3. Beside it, train the ``tiny`` 3D U-Net (mri-seg) on the complete training cases (the
   fixed segmenter), then score the copy baselines, which need no generator, in the 15
   subset scenarios on the held-out cases: the core the shorter training leaves idle.
4. Score the generator in the same scenarios (the same results store; see
   :func:`mri_bench.pipeline.run_benchmark`), then write the report. The output folder is the
   run folder: ``report.md`` lies beside ``cohort/``, ``segmenter/`` and ``generator/``.

Every stage is skipped when its output already exists, so an interrupted demo continues where
it stopped (the benchmark itself resumes task by task). Stage wall times go to
``timings.json`` and into the report folder.

Training is fixed in steps, never in minutes, so the same settings give the same models on a
loaded and on an idle machine. Every process the demo computes in runs torch on one thread and
there are ``workers`` of them (steps 2 and 3 run side by side when ``workers`` >= 2), so
the processes never compete for more cores than they were given. The defaults were chosen by
measurement (``packages/mri-bench/benchmarks/demo_design.py``, docs/mri-bench/demo-design.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from mri_bench.config import parse_config
from mri_bench.generators import GEN_EXTRA
from mri_bench.pipeline import run_benchmark
from mri_bench.report import write_report
from mri_bench.segmenter import SEG_EXTRA
from mri_bench.store import STORE_NAME
from mri_io import process_pool, resolve_model_folder
from mri_io.atomic import atomic_write_text
from mri_io.synthetic import FULL_GRID, MANIFEST, AnatomyName, write_cohort

if TYPE_CHECKING:
    from mri_gen.hfgan import LossWeights

SEGMENTER_RUN = "segmenter"
GENERATOR_RUN = "generator"
CONFIG_NAME = "demo-config.json"


GeneratorRecipe = Literal["whole-brain", "reconstruction", "thesis"]

#: HF-GAN's loss recipes. ``"thesis"`` keeps all of the thesis' terms
#: (``mri_gen.hfgan.LossWeights``); ``"reconstruction"`` drops those that need the
#: discriminator or a second generator pass (adversarial, class, cycle, feature), keeping L1
#: and the dual SSIM (healthy tissue and tumour weighted equally); ``"whole-brain"`` is
#: ``"reconstruction"`` with the SSIM term taken over the whole brain, the region the
#: benchmark's foreground SSIM scores.
GENERATOR_RECIPES: Final = ("whole-brain", "reconstruction", "thesis")


def generator_weights(recipe: GeneratorRecipe) -> LossWeights:
    """The ``mri_gen.hfgan.LossWeights`` of a recipe (mri-gen is imported only when a demo
    trains)."""
    from mri_gen.hfgan import LossWeights

    if recipe == "thesis":
        return LossWeights()
    return LossWeights(
        adv=0, cls=0, cycle=0, feat=0, ssim_regions="whole" if recipe == "whole-brain" else "dual"
    )


@dataclass(frozen=True)
class DemoSettings:
    """What the demo generates and how many steps it trains (the defaults: the design measured
    in docs/mri-bench/demo-design.md)."""

    n_train: int = 16
    #: Held-out cases: the report's paired tests compare strategies case by case; the
    #: benchmark's cost grows with them (45 tasks each).
    n_test: int = 20
    seed: int = 0
    #: Voxel size in mm: 4 gives 60 x 60 x 39 volumes, 3 gives 80 x 80 x 52.
    voxel_mm: int = 4
    anatomy: AnatomyName = "mni"
    centres: tuple[str, ...] = ("research-3t", "clinical-1.5t", "legacy-2d")
    segmenter_preset: str = "tiny"
    #: The U-Net trains ``segmenter_epochs`` x ``segmenter_steps`` optimiser steps (steps per
    #: epoch) at ``segmenter_lr`` (Adam, cosine schedule) and validates once, at the end.
    #: 1600 steps at 1e-2: the first measured recipe with WT Dice >= 0.8 on the held-out
    #: tumour cases (800 steps at 3e-3 reach 0.69, under-segmenting edema); it costs less CPU
    #: than the generator it trains beside.
    segmenter_epochs: int = 64
    segmenter_steps: int = 25
    segmenter_batch: int = 4
    segmenter_lr: float = 1e-2
    generator_preset: str = "tiny"
    #: HF-GAN's optimiser steps (the whole learning-rate schedule) and loss terms
    #: (:data:`GENERATOR_RECIPES`). ``"whole-brain"``: L1 and SSIM over the brain, one
    #: generator pass per update and no discriminator, under half a ``"thesis"`` update's
    #: cost. 1000 such steps beat ``copy-matched`` on foreground SSIM for t2w and t2f; the
    #: dual SSIM of ``"reconstruction"`` stays level with it on t2w
    #: (docs/mri-bench/demo-design.md).
    generator_steps: int = 1000
    generator_recipe: GeneratorRecipe = "whole-brain"
    generator_batch: int = 8
    strategies: tuple[str, ...] = ("copy", "copy-matched")
    #: Processes, each with one torch thread: the two trainings side by side, then the
    #: benchmark's workers. Set it to the number of cores.
    workers: int = 2
    #: Where the networks train and run: "cpu" or "cuda".
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.generator_recipe not in GENERATOR_RECIPES:
            raise ValueError(
                f"unknown generator recipe {self.generator_recipe!r}; "
                f"choose one of {', '.join(GENERATOR_RECIPES)}"
            )

    @property
    def window(self) -> tuple[int, int, int]:
        """One window (a multiple of 8) covering a whole volume of the demo grid."""
        x, y, z = (8 * -(-n // self.voxel_mm // 8) for n in FULL_GRID.shape)
        return x, y, z


def write_cohorts(out: Path, settings: DemoSettings) -> tuple[Path, Path]:
    """The training and held-out cohorts under ``out/cohort`` (each written once)."""
    grid = FULL_GRID.coarsened(settings.voxel_mm)
    folders = []
    for offset, (name, count) in enumerate(
        (("train", settings.n_train), ("test", settings.n_test))
    ):
        folder = out / "cohort" / name
        if not (folder / MANIFEST).is_file():
            write_cohort(
                folder,
                count,
                seed=settings.seed + offset,
                centres=settings.centres,
                tumour="mix",
                grid=grid,
                anatomy=settings.anatomy,
                workers=settings.workers,
                overwrite=True,
            )
        folders.append(folder)
    return folders[0], folders[1]


def _crop(settings: DemoSettings) -> tuple[int, int, int] | None:
    """Tiny networks train on 48^3 crops (or the whole small volume); others use their
    preset's window."""
    if settings.segmenter_preset != "tiny":
        return None
    x, y, z = (min(48, n) for n in settings.window)
    return x, y, z


@contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one CPU thread in this process (restored after): with ``workers`` such
    processes the demo uses ``workers`` cores and no process waits on another's threads."""
    try:
        from mri_io.training import torch_threads
    except ImportError as exc:
        raise ImportError(f"{SEG_EXTRA} ({exc})") from exc
    with torch_threads(1):
        yield


def train_segmenter(train: Path, run: Path, settings: DemoSettings) -> Path:
    """The fixed segmenter: mri-seg's 3D U-Net on the complete training cases."""
    try:
        from mri_io.training import RunFolder
        from mri_seg import TrainConfig, train_unet
    except ImportError as exc:
        raise ImportError(f"{SEG_EXTRA} ({exc})") from exc
    folder = RunFolder(run)
    best = folder.best
    if not (best / "model.safetensors").is_file():
        config = TrainConfig(
            preset=settings.segmenter_preset,
            epochs=settings.segmenter_epochs,
            steps_per_epoch=settings.segmenter_steps,
            batch_size=settings.segmenter_batch,
            crop=_crop(settings),
            learning_rate=settings.segmenter_lr,
            val_fraction=0.2,
            # One validation, after the last step: validating each epoch would cost more CPU
            # than the training steps at this size, and best is then the last model.
            val_every=settings.segmenter_epochs,
            seed=settings.seed,
            device=settings.device,
            # Batches loaded in the training process: the same batches on every run, and no
            # extra processes competing for the cores.
            workers=0,
        )
        with one_thread():
            # A demo stopped during training continues its run where the run stopped.
            train_unet(train, run, config, resume=folder.run_file.is_file(), progress=False)
    return best


def train_generator(train: Path, run: Path, settings: DemoSettings) -> Path:
    """The generator: mri-gen's HF-GAN on axial slices of the training cases."""
    try:
        from mri_gen.hfgan import RunSpec, TrainConfig, preset, train_hfgan
        from mri_io.training import RunFolder, init_distributed
    except ImportError as exc:
        raise ImportError(f"{GEN_EXTRA} ({exc})") from exc
    folder = RunFolder(run)
    if not (folder.last / "model.safetensors").is_file():
        spec = RunSpec(
            preset(settings.generator_preset).with_image_size(settings.window[0]),
            TrainConfig(
                steps=settings.generator_steps,
                batch_size=settings.generator_batch,
                # Few, small batches on a CPU: no linear scaling down of the learning rate
                # from batch 64, and a short warm-up, or a few hundred steps change nothing.
                base_lr=1e-3,
                base_batch=settings.generator_batch,
                warmup_steps=max(1, settings.generator_steps // 20),
                # The scenarios also drop two or three sequences: train every input subset.
                inputs="subsets",
                weights=generator_weights(settings.generator_recipe),
                seed=settings.seed,
            ),
            ("axial",),
            # A checkpoint every tenth of the run: an interrupted demo loses little.
            checkpoint_every=max(1, settings.generator_steps // 10),
        )
        with one_thread():
            # A demo stopped before the first checkpoint starts its run again.
            train_hfgan(
                train,
                run,
                spec,
                init_distributed(settings.device),
                resume=folder.run_file.is_file(),
                progress=False,
            )
    return run


def segmenter_then_baselines(
    train: Path, out: Path, config_path: Path, settings: DemoSettings
) -> dict[str, float]:
    """Train the fixed segmenter, then score the baseline strategies, which need no generator:
    beside the generator's longer training this uses the core the segmenter leaves idle.
    Returns each stage's wall seconds."""
    started = time.monotonic()
    train_segmenter(train, out / SEGMENTER_RUN, settings)
    seconds = {"train segmenter": round(time.monotonic() - started, 1)}
    if settings.strategies:
        started = time.monotonic()
        config = parse_config(json.loads(config_path.read_text()), config_path)
        with one_thread():
            # The baselines' shard of the whole config: the same store and fingerprint, so the
            # generator's tasks join them later.
            run_benchmark(
                config.select((), settings.strategies),
                out,
                resume=(out / STORE_NAME).is_file(),
                progress=False,
                workers=1,
            )
        seconds["benchmark baselines"] = round(time.monotonic() - started, 1)
    return seconds


def generator_stage(train: Path, out: Path, settings: DemoSettings) -> dict[str, float]:
    """Train the generator; returns the stage's wall seconds."""
    started = time.monotonic()
    train_generator(train, out / GENERATOR_RUN, settings)
    return {"train generator": round(time.monotonic() - started, 1)}


def side_by_side(
    stages: Sequence[Callable[[], dict[str, float]]], settings: DemoSettings
) -> dict[str, float]:
    """Independent stages, each returning its wall seconds by name: in one one-thread process
    each when ``workers`` >= 2, else one after the other in this process."""
    if settings.workers < 2:
        return {name: s for stage in stages for name, s in stage().items()}
    with process_pool(len(stages), start_method="spawn") as pool:
        futures = [pool.submit(stage) for stage in stages]
        return {name: s for future in futures for name, s in future.result().items()}


def _timed(timings: dict[str, float], stage: str, work: Callable[[], Any]) -> Any:
    started = time.monotonic()
    print(f"[demo] {stage} ...", flush=True)
    result = work()
    timings[stage] = round(time.monotonic() - started, 1)
    print(f"[demo] {stage}: {timings[stage]:.0f} s", flush=True)
    return result


def benchmark_document(
    train: Path, test: Path, segmenter: Path, generator: Path, settings: DemoSettings
) -> dict[str, Any]:
    """The demo's benchmark config: the 15 subsets on the held-out cases, the baselines and
    the generator, the segmenter run over one window."""
    return {
        "name": "demo",
        "data": str(test),
        "reference": str(train),
        "segmenter": str(segmenter),
        # One window over the whole small volume: fewer, larger forward passes on a CPU.
        "segmenter_window": list(settings.window),
        "scenarios": ["subsets"],
        "strategies": [
            *settings.strategies,
            {
                "name": "hfgan",
                "kind": "generator",
                "generator": "hfgan",
                "checkpoint": str(generator),
            },
        ],
        "workers": settings.workers,
        "device": settings.device,
    }


def run_demo(out: Path, settings: DemoSettings = DemoSettings()) -> Path:
    """Run the main job into ``out`` and return the path of the Markdown report."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    record_path = out / "timings.json"
    previous = json.loads(record_path.read_text())["seconds"] if record_path.is_file() else {}
    # Stages whose output exists are skipped; their time is the one recorded when they ran.
    skipped = {
        "synthetic cohort": all(
            (out / "cohort" / name / MANIFEST).is_file() for name in ("train", "test")
        ),
        "train segmenter": (out / SEGMENTER_RUN / "best" / "model.safetensors").is_file(),
        "train generator": (
            resolve_model_folder(out / GENERATOR_RUN) / "model.safetensors"
        ).is_file(),
    }
    timings: dict[str, float] = {}
    train, test = _timed(timings, "synthetic cohort", lambda: write_cohorts(out, settings))
    segmenter = out / SEGMENTER_RUN / "best"
    document = benchmark_document(train, test, segmenter, out / GENERATOR_RUN, settings)
    config_path = out / CONFIG_NAME
    atomic_write_text(config_path, json.dumps(document, indent=2) + "\n")
    stages = [
        partial(generator_stage, train, out, settings),
        partial(segmenter_then_baselines, train, out, config_path, settings),
    ]
    print("[demo] train generator | train segmenter, benchmark baselines ...", flush=True)
    for stage, seconds in side_by_side(stages, settings).items():
        timings[stage] = seconds
        print(f"[demo] {stage}: {seconds:.0f} s", flush=True)
    config = parse_config(document, config_path)
    with one_thread():
        _timed(
            timings,
            "benchmark generator",
            lambda: run_benchmark(config, out, resume=(out / STORE_NAME).is_file()),
        )
    report = _timed(timings, "report", lambda: write_report(out))
    for stage, was_skipped in skipped.items():
        if was_skipped and stage in previous:
            timings[stage] = previous[stage]
    record = {"settings": asdict(settings), "seconds": timings}
    atomic_write_text(record_path, json.dumps(record, indent=2) + "\n")
    return Path(report)

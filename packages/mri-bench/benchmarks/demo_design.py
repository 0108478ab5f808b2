"""Measure candidate designs of ``mri-bench demo`` and write docs/mri-bench/demo-design.json.

    python packages/mri-bench/benchmarks/demo_design.py --work /tmp/demo-design \\
        --design 4:400:150 --design 3:400:150
    python packages/mri-bench/benchmarks/demo_design.py --render   # the page from the JSON

A design is ``voxel_mm:unet_steps:hfgan_steps[:unet_lr[:hfgan_recipe]]`` (``hfgan_steps``
``-``: measure the cohort and the U-Net only; without ``unet_lr`` the U-Net trains at 3e-3, the
rate of the designs measured before it was a design parameter; ``hfgan_recipe`` is one of
``mri_bench.demo.GENERATOR_RECIPES``, trained with the target's input channel marked; without
it, the designs measured before either: the thesis' losses, the target's channel at the
background value) on top of the demo's defaults
(:class:`mri_bench.demo.DemoSettings`: cases, seed, batches, centres). Each design runs the
demo's own stages with the demo's own functions, one at a time in this process on one torch
thread: the synthetic cohorts (shared by every design on the same grid), the U-Net and HF-GAN
trainings (shared by designs with the same grid and steps), and the benchmark on the first
``--bench-cases`` held-out cases (its cost per case is extrapolated to all of them: each case
is the same 15 scenarios x strategies). The quality of each design is measured directly on
every held-out case: the U-Net's WT/TC/ET Dice on the complete cases (segmented as the
benchmark segments them), and HF-GAN against ``copy-matched`` when t2w or t2f alone is
missing (foreground SSIM and MAE on BraSyn's [0, 1] scale, as the benchmark scores them).

Every stage records its wall and CPU seconds and the load average before and after. The
machine these numbers come from may be shared: CPU seconds do not depend on the other jobs,
wall seconds do. The idle wall time of the demo is estimated from the CPU seconds
(:func:`idle_estimate`). Stages already recorded in the JSON are not run again.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mri_bench import CopyMatched, estimate_reference, run_benchmark, write_report
from mri_bench.config import parse_config
from mri_bench.demo import (
    GENERATOR_RECIPES,
    DemoSettings,
    benchmark_document,
    one_thread,
    train_generator,
    train_segmenter,
    write_cohorts,
)
from mri_bench.reference import unit_scale
from mri_bench.store import STORE_NAME, ResultStore
from mri_io.case import load_case
from mri_io.layouts import scan_cases
from mri_io.nifti import load_labels
from mri_io.provenance import load_average, machine, today
from mri_io.training import RunFolder
from mri_metrics import mae, ssim

ROOT = Path(__file__).resolve().parents[3]
RESULTS = ROOT / "docs" / "mri-bench" / "demo-design.json"
TARGETS = ("t2w", "t2f")
#: Installing the packages and torch into a fresh venv (``nox -s demo``): about 3 minutes on
#: the development machine (not measured by this script).
INSTALL_SECONDS = 180
#: The U-Net learning rate of a design that names none.
EARLIER_LR = 3e-3
#: The product owner's targets for the demo.
GOALS = {"idle wall minutes": 20.0, "WT Dice": 0.8, "held-out cases": 20}


def measured(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``work()``'s result plus its wall and CPU seconds (this process and its children) and
    the load average before and after."""
    load = load_average()
    before, wall = os.times(), time.perf_counter()
    result = work()
    after = os.times()
    cpu = sum(after[:4]) - sum(before[:4])
    result["cost"] = {
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "cpu_seconds": round(cpu, 1),
        "load_average_before": load,
        "load_average_after": load_average(),
    }
    return result


def settings_of(design: str, defaults: DemoSettings) -> DemoSettings:
    """The demo's settings of ``design``; HF-GAN steps ``-`` (only the cohort and the U-Net)
    read as 0."""
    parts = design.split(":")
    if len(parts) not in (3, 4, 5) or (len(parts) == 5 and parts[4] not in GENERATOR_RECIPES):
        raise SystemExit(
            "a design is voxel_mm:unet_steps:hfgan_steps[:unet_lr[:hfgan_recipe]] with a "
            f"recipe among {', '.join(GENERATOR_RECIPES)}, got {design}"
        )
    voxel, unet, hfgan = (int(part.replace("-", "0")) for part in parts[:3])
    if unet % defaults.segmenter_steps:
        raise SystemExit(f"U-Net steps {unet} are not a multiple of {defaults.segmenter_steps}")
    return replace(
        defaults,
        voxel_mm=voxel,
        segmenter_epochs=unet // defaults.segmenter_steps,
        segmenter_lr=float(parts[3]) if len(parts) >= 4 else EARLIER_LR,
        generator_steps=hfgan,
        generator_recipe=parts[4] if len(parts) == 5 else "thesis",  # type: ignore[arg-type]
        workers=1,
    )


def segmenter_name(design: str, settings: DemoSettings) -> str:
    """``"U-Net steps"``, with the learning rate when the design names one."""
    steps = settings.segmenter_epochs * settings.segmenter_steps
    return f"{steps} steps" + (f" lr {settings.segmenter_lr:g}" if design.count(":") >= 3 else "")


def generator_name(design: str, settings: DemoSettings) -> str:
    """``"HF-GAN steps"``, with the recipe when the design names one."""
    recipe = design.split(":")[4] if design.count(":") == 4 else None
    return f"{settings.generator_steps} steps" + (f" {recipe}, target marked" if recipe else "")


def segmenter_quality(model: Path, test: Path, settings: DemoSettings) -> dict[str, Any]:
    """Dice per region on the complete held-out cases, segmented as the benchmark's fixed
    segmenter segments them (one window over the volume, overlap 0.25): the mean over every
    case, and the mean over the cases whose reference holds the region (an empty reference
    scores 1 or 0 only, and the ``mix`` cohort's healthy and core-less cases would dominate
    the first mean), with how many of the others got a false positive."""
    from mri_metrics import region_masks
    from mri_seg import InferenceSettings, load_segmenter, score_cases

    segmenter = load_segmenter(model)
    window = InferenceSettings(roi_size=settings.window, overlap=0.25, device="cpu")
    cases = scan_cases(test)
    scores = score_cases(segmenter, cases, window)
    regions = ("WT", "TC", "ET")
    present: dict[str, list[str]] = {r: [] for r in regions}
    for files in cases:
        assert files.seg is not None
        masks = region_masks(load_labels(files.seg).data, files.label_convention or "brats2023")
        for region in regions:
            if masks[region].any():
                present[region].append(files.case_id)
    absent = {r: [c for c in scores if c not in present[r]] for r in regions}
    return {
        "dice": {r: round(float(np.mean([s[r] for s in scores.values()])), 4) for r in regions},
        "dice_min": {r: round(float(min(s[r] for s in scores.values())), 4) for r in regions},
        "dice_present": {
            r: round(float(np.mean([scores[c][r] for c in present[r]])), 4) for r in regions
        },
        "cases_present": {r: len(present[r]) for r in regions},
        "false_positives_absent": {
            r: f"{sum(scores[c][r] < 1.0 for c in absent[r])}/{len(absent[r])}" for r in regions
        },
        "cases": len(scores),
    }


def generator_quality(run: Path, train: Path, test: Path) -> dict[str, Any]:
    """HF-GAN against ``copy-matched`` on each held-out case with one of :data:`TARGETS`
    missing (the other three sequences given): foreground SSIM and MAE, and on how many
    cases the generator's SSIM is the higher."""
    from mri_gen.hfgan import Synthesiser

    arrays = []
    for files in scan_cases(train):
        case = load_case(files)
        arrays.append({k: np.asarray(v.data, dtype=np.float32) for k, v in case.images.items()})
    baseline = CopyMatched(estimate_reference(arrays))
    synthesiser = Synthesiser.from_pretrained(RunFolder(run).last)
    scores: dict[str, dict[str, list[float]]] = {t: {} for t in TARGETS}
    for files in scan_cases(test):
        case = load_case(files)
        for target in TARGETS:
            truth = np.asarray(case.images[target].data, dtype=np.float64)
            brain = truth > 0
            real = unit_scale(truth, brain)
            given = replace(case, images={k: v for k, v in case.images.items() if k != target})
            candidates = {
                "gen": synthesiser.synthesise(given)[target],
                "copy": baseline.complete(given, [target])[target],
            }
            for name, image in candidates.items():
                made = unit_scale(np.asarray(image, dtype=np.float64), brain)
                row = scores[target]
                row.setdefault(f"ssim_{name}", []).append(
                    float(ssim(made, real, mask=brain, data_range=1.0))
                )
                row.setdefault(f"mae_{name}", []).append(float(mae(made, real, mask=brain)))
    summary: dict[str, Any] = {}
    for target, row in scores.items():
        summary[target] = {k: round(float(np.mean(v)), 4) for k, v in row.items()}
        wins = sum(g > c for g, c in zip(row["ssim_gen"], row["ssim_copy"], strict=True))
        summary[target]["ssim_wins"] = f"{wins}/{len(row['ssim_gen'])}"
    return {"scores": summary}


def benchmark_sample(
    work: Path, train: Path, test: Path, segmenter: Path, generator: Path, settings: DemoSettings,
    cases: int,
) -> dict[str, Any]:  # fmt: skip
    """The demo's benchmark and report on the first ``cases`` held-out cases, in this
    process (one worker, one thread)."""
    chosen = sorted(files.case_id for files in scan_cases(test))[:cases]
    # settings.workers is 1 here: one process, as every stage of this measurement.
    document = benchmark_document(train, test, segmenter, generator, settings)
    document |= {"cases": chosen, "device": "cpu"}
    out = work / "benchmark"
    config = parse_config(document, out / "config.json")
    store = run_benchmark(config, out, resume=(out / STORE_NAME).is_file(), progress=False)
    with ResultStore(store) as results:
        seconds = results.seconds_by_strategy()
    started = time.process_time()
    write_report(out)
    return {
        "cases": len(chosen),
        "tasks": len(chosen) * 15 * (len(settings.strategies) + 1),
        "store": store.name,
        "report_cpu_seconds": round(time.process_time() - started, 1),
        # What the baselines and the generator each took of the benchmark: the demo scores
        # the baselines beside the generator's training.
        "task_seconds": {name: round(value, 1) for name, value in seconds.items()},
    }


class Recorder:
    """The JSON document: one record per stage, saved after every stage, so an interrupted
    measurement keeps what it finished and a rerun skips it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.document: dict[str, Any] = (
            json.loads(path.read_text()) if path.is_file() else {"stages": {}, "designs": {}}
        )

    def stage(self, key: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        stages = self.document["stages"]
        if key not in stages:
            print(f"[design] {key} ...", flush=True)
            stages[key] = {**measured(work), "measured": datetime.now(UTC).isoformat()}
            self.save()
            print(f"[design] {key}: {json.dumps(stages[key])}", flush=True)
        return stages[key]  # type: ignore[no-any-return]

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_name(self.path.name + ".partial")
        staging.write_text(json.dumps(self.document, indent=1, sort_keys=True) + "\n")
        staging.replace(self.path)


def measure_design(
    recorder: Recorder, work: Path, design: str, defaults: DemoSettings, bench_cases: int
) -> None:
    settings = settings_of(design, defaults)
    grid = work / f"{settings.voxel_mm}mm"
    unet_steps = settings.segmenter_epochs * settings.segmenter_steps
    unet_name = segmenter_name(design, settings)
    seg_run = grid / f"unet-{unet_name.replace(' ', '-')}"
    gen_name = generator_name(design, settings)
    gen_run = grid / f"hfgan-{gen_name.replace(' steps', '').replace(',', '').replace(' ', '-')}"
    cohort_key = f"cohort {settings.voxel_mm}mm {settings.n_train}+{settings.n_test}"
    recorder.stage(cohort_key, lambda: {"folders": [str(p) for p in write_cohorts(grid, settings)]})
    # write_cohorts' folders, also when the stage was recorded by an earlier invocation.
    train, test = grid / "cohort" / "train", grid / "cohort" / "test"
    seg_key = f"segmenter {settings.voxel_mm}mm {unet_name}"
    recorder.stage(
        seg_key,
        lambda: {"run": str(train_segmenter(train, seg_run, settings)), "steps": unet_steps},
    )
    seg_eval = recorder.stage(
        f"{seg_key}: quality",
        lambda: segmenter_quality(RunFolder(seg_run).best, test, settings),
    )
    if not settings.generator_steps:
        return  # a partial design: its stages are in the document, it is not a candidate
    gen_key = f"generator {settings.voxel_mm}mm {gen_name}"
    recorder.stage(
        gen_key,
        lambda: {
            "run": str(train_generator(train, gen_run, settings)),
            "steps": settings.generator_steps,
        },
    )
    gen_eval = recorder.stage(
        f"{gen_key}: quality", lambda: generator_quality(gen_run, train, test)
    )
    bench_key = f"benchmark {design} on {bench_cases} cases"
    recorder.stage(
        bench_key,
        lambda: benchmark_sample(
            work / design.replace(":", "-"),
            train,
            test,
            RunFolder(seg_run).best,
            gen_run,
            settings,
            bench_cases,
        ),
    )
    stages = {"cohort": cohort_key, "segmenter": seg_key, "generator": gen_key}
    recorder.document["designs"][design] = {
        "settings": asdict(settings),
        "stages": {**stages, "benchmark": bench_key},
        "segmenter": seg_eval["dice"],
        "segmenter_present": seg_eval["dice_present"],
        "segmenter_cases_present": seg_eval["cases_present"],
        "segmenter_false_positives": seg_eval["false_positives_absent"],
        "generator": gen_eval["scores"],
    }
    recorder.save()


def cpu(recorder_document: dict[str, Any], key: str) -> float:
    return float(recorder_document["stages"][key]["cost"]["cpu_seconds"])


def idle_estimate(document: dict[str, Any], design: str, workers: int = 2) -> dict[str, float]:
    """The demo's wall seconds on an idle machine with ``workers`` cores, from CPU seconds:
    installs, the cohort (its cases spread over the workers), the trainings and the benchmark
    over all held-out cases (its CPU per case measured on a sample), and the report. Assumes
    each one-thread process has a core of its own, i.e. wall = CPU.

    The demo trains HF-GAN beside the U-Net, whose process then scores the baselines; the
    generator's tasks follow, spread over the workers. A benchmark sample recorded before its
    tasks' split by strategy (``task_seconds``) is estimated as the demo ran then: the
    trainings side by side, then the whole benchmark spread over the workers."""
    row = document["designs"][design]
    stages, settings = row["stages"], row["settings"]
    bench = document["stages"][stages["benchmark"]]
    per_case = (bench["cost"]["cpu_seconds"] - bench["report_cpu_seconds"]) / bench["cases"]
    segmenter, generator = cpu(document, stages["segmenter"]), cpu(document, stages["generator"])
    benchmark = per_case * settings["n_test"]
    split = bench.get("task_seconds")
    if split:
        # The tasks' own seconds apportion the benchmark's CPU between baselines and generator.
        share = sum(v for k, v in split.items() if k in settings["strategies"]) / sum(
            split.values()
        )
        training = max(generator, segmenter + share * benchmark)
        benchmark *= (1 - share) / workers
    else:
        training = max(segmenter, generator)
        benchmark /= workers
    parts = {
        "installs": float(INSTALL_SECONDS),
        "cohort": cpu(document, stages["cohort"]) / workers,
        "training": training,
        "benchmark": benchmark,
        "report": float(bench["report_cpu_seconds"]),
    }
    parts["total"] = sum(parts.values())
    return {k: round(v, 1) for k, v in parts.items()}


def render(document: dict[str, Any]) -> str:
    """The page's measured table, from the JSON document only."""
    lines = [
        "| design (grid, U-Net steps and learning rate, HF-GAN steps) "
        "| WT / TC / ET Dice, all cases "
        "| WT / TC / ET Dice, cases holding the region | false positives where it is absent "
        "| t2w SSIM HF-GAN vs copy-matched | t2f SSIM HF-GAN vs copy-matched | "
        "CPU s: cohort / U-Net / HF-GAN / benchmark per case | idle wall estimate (min) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for design, row in document["designs"].items():
        stages = row["stages"]
        bench = document["stages"][stages["benchmark"]]
        per_case = (bench["cost"]["cpu_seconds"] - bench["report_cpu_seconds"]) / bench["cases"]
        dice = " / ".join(f"{row['segmenter'][r]:.3f}" for r in ("WT", "TC", "ET"))
        held = row["segmenter_present"], row["segmenter_cases_present"]
        present = " / ".join(f"{held[0][r]:.3f} (n={held[1][r]})" for r in ("WT", "TC", "ET"))
        false = " / ".join(row["segmenter_false_positives"][r] for r in ("WT", "TC", "ET"))
        gen = [
            f"{row['generator'][t]['ssim_gen']:.3f} vs {row['generator'][t]['ssim_copy']:.3f} "
            f"({row['generator'][t]['ssim_wins']} cases)"
            for t in TARGETS
        ]
        costs = " / ".join(
            f"{cpu(document, stages[s]):.0f}" for s in ("cohort", "segmenter", "generator")
        )
        estimate = idle_estimate(document, design)["total"] / 60
        voxel, unet, hfgan, *rest = design.split(":")
        rate = rest[0] if rest else f"{EARLIER_LR:g}"
        if len(rest) == 2:
            hfgan += f" ({rest[1]}, target marked)"
        lines.append(
            f"| {voxel} mm, {unet} at {rate}, {hfgan} | {dice} | {present} | {false} "
            f"| {gen[0]} | {gen[1]} | {costs} / {per_case:.0f} | {estimate:.1f} |"
        )
    lines += [
        "",
        "| stage (every one measured, including designs not finished) | result | CPU s "
        "| wall s | load average before / after |",
        "|---|---|---|---|---|",
    ]
    for key, stage in sorted(document["stages"].items(), key=lambda kv: kv[1]["measured"]):
        cost = stage["cost"]
        load = f"{cost['load_average_before'][0]:.1f} / {cost['load_average_after'][0]:.1f}"
        lines.append(
            f"| {key} | {summary(stage)} | {cost['cpu_seconds']:.0f} "
            f"| {cost['wall_seconds']:.0f} | {load} |"
        )
    return "\n".join(lines) + "\n"


def summary(stage: dict[str, Any]) -> str:
    """One stage's result in a few words."""
    if "dice" in stage:
        return "Dice " + ", ".join(f"{r} {v:.3f}" for r, v in stage["dice"].items())
    if "scores" in stage:
        return "; ".join(
            f"{t} SSIM {row['ssim_gen']:.3f} vs {row['ssim_copy']:.3f}, "
            f"MAE {row['mae_gen']:.4f} vs {row['mae_copy']:.4f}"
            for t, row in stage["scores"].items()
        )
    if "tasks" in stage:
        return f"{stage['tasks']} tasks, report {stage['report_cpu_seconds']:.0f} CPU s"
    return f"{stage['steps']} steps" if "steps" in stage else "cases written"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder for cohorts, runs and benchmarks")
    parser.add_argument(
        "--design",
        action="append",
        default=[],
        help="voxel_mm:unet_steps:hfgan_steps[:unet_lr[:hfgan_recipe]]",
    )
    parser.add_argument("--bench-cases", type=int, default=2)
    parser.add_argument("--train-cases", type=int, default=DemoSettings.n_train)
    parser.add_argument("--test-cases", type=int, default=DemoSettings.n_test)
    parser.add_argument("--json", type=Path, default=RESULTS, help="the document to write")
    parser.add_argument("--render", action="store_true", help="only print the table")
    args = parser.parse_args()
    recorder = Recorder(args.json)
    if not args.render:
        if args.work is None:
            parser.error("--work is needed to measure")
        # Every invocation that measured stages of this document, oldest first.
        invocations = recorder.document.setdefault("invocations", [])
        if "command" in recorder.document:  # the document's first layout: one invocation
            first = {k: recorder.document.pop(k) for k in ("command", "machine", "date")}
            invocations.append(first)
        invocations.append(
            {
                "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
                "machine": f"{machine()} shared with other jobs, one design at a time, "
                "one torch thread",
                "date": today(),
            }
        )
        defaults = DemoSettings(n_train=args.train_cases, n_test=args.test_cases)
        with one_thread():
            for design in args.design:
                measure_design(recorder, args.work, design, defaults, args.bench_cases)
    estimates = {d: idle_estimate(recorder.document, d) for d in recorder.document["designs"]}
    recorder.document["idle_estimate_seconds"] = estimates
    recorder.save()
    print(render(recorder.document))


if __name__ == "__main__":
    main()

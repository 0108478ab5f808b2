"""Measure the KLE U-Net and the missing-sequence-robust U-Net against the plain 3D U-Net.

Two parts, both on the synthetic cohort of ``mri-bench demo`` (4 mm grid, MNI anatomy, tumour
types mixed, healthy brains included) but from one centre (``research-3t``; UMMGAT needs
every (centre, sequence) domain in its training data, which 16 patients do not cover for three
centres):

1. **segmentation grid**: the ``tiny`` 3D U-Net trained plain, with the KLE channel (``kle``)
   and with sequence dropout 0.5 (``robust``), each on the first 4, 8 and 16 training cases,
   with seeds 0, 1 and 2, for the same fixed budget (``--steps`` steps of batch 2 on 48x48x40
   crops, Adam 3e-3, cosine); Dice per region of the last model on the 8 held-out cases with
   every sequence, and for ``robust`` also the WT Dice for each of the 14 incomplete subsets.
2. **benchmark**: one ``mri-bench`` run of the 15 subset scenarios on the first 6 held-out
   cases with ``copy``, ``copy-matched``, HF-GAN and UMMGAT (short CPU trainings,
   ``--gen-steps``) in front of the plain U-Net (16 cases, seed 0) as the fixed segmenter, the
   robust U-Net on the incomplete cases directly, and the KLE U-Net behind ``copy-matched``
   filling.

    python packages/mri-seg/benchmarks/kle_robust.py --work /tmp/kle-work --jobs 2

Every training job runs in its own process on one torch thread and records its wall and CPU
seconds and the load average around it. The results go to docs/mri-seg/kle.json, the
benchmark's report and figure to docs/mri-seg/kle-benchmark/. ``--out`` writes another JSON,
e.g. for the grid alone at a longer budget:

    python packages/mri-seg/benchmarks/kle_robust.py --work /tmp/kle-800 --steps 800 \
        --skip-benchmark --out docs/mri-seg/kle-800.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import replace
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from mri_io import process_pool
from mri_io.case import load_case
from mri_io.layouts import link_cases, scan_cases
from mri_io.provenance import command_line, load_average, machine
from mri_io.sequences import SEQUENCES
from mri_io.synthetic import FULL_GRID, write_cohort

DOCS = Path(__file__).resolve().parents[3] / "docs" / "mri-seg"
RESULTS = DOCS / "kle.json"
#: Where the benchmark's report is kept; its ``summary.json`` gives the page's median table.
BENCHMARK_DOCS = DOCS / "kle-benchmark"
APPROACHES = ("plain", "kle", "robust")
CASE_COUNTS = (4, 8, 16)
SEEDS = (0, 1, 2)
CENTRE = "research-3t"
WINDOW = [64, 64, 40]
#: What of the benchmark's run folder the docs keep (not the store or the panels' arrays).
REPORT_FILES = ("report.md", "paired.png", "ranks.png", "slices.png", "summary.json")


def cohorts(work: Path) -> tuple[Path, Path]:
    """The demo cohort's recipe (one centre): 16 training and 8 held-out cases."""
    folders = []
    for name, count, seed in (("train", 16, 0), ("test", 8, 1)):
        folder = work / "cohort" / name
        if not (folder / "cohort.json").is_file():
            write_cohort(
                folder,
                count,
                seed=seed,
                centres=[CENTRE],
                tumour="mix",
                grid=FULL_GRID.coarsened(4),
                anatomy="mni",
                progress=False,
                overwrite=True,
            )
        folders.append(folder)
    return folders[0], folders[1]


def subset_folder(train: Path, count: int) -> Path:
    """The first ``count`` training cases, as links in a folder of their own."""
    folder = train.parent / f"train-{count}"
    if not folder.is_dir():
        link_cases(scan_cases(train)[:count], folder)
    return folder


def timed(function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """``function``'s result plus its wall and CPU seconds and the load average around it."""
    load = load_average()
    wall, cpu = time.perf_counter(), time.process_time()
    before = os.times()
    result = function(*args)
    after = os.times()
    children = after.children_user + after.children_system
    children -= before.children_user + before.children_system
    result["cost"] = {
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "cpu_seconds": round(time.process_time() - cpu + children, 1),
        "load_average_before": load,
        "load_average_after": load_average(),
    }
    return result


def run_name(approach: str, count: int, seed: int) -> str:
    return f"{approach}-{count}-{seed}"


def train_one(work: Path, approach: str, count: int, seed: int, steps: int) -> dict[str, Any]:
    """Train one grid point and score it on the held-out cases."""
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    import torch

    from mri_io.training import RunFolder
    from mri_seg import InferenceSettings, TrainConfig, load_segmenter, score_cases, train_unet

    torch.set_num_threads(1)
    train, test = cohorts(work)
    run = work / "seg" / run_name(approach, count, seed)
    config = TrainConfig(
        preset="tiny",
        epochs=1,
        steps_per_epoch=steps,
        batch_size=2,
        crop=(48, 48, 40),
        learning_rate=3e-3,
        val_fraction=0.0,
        seed=seed,
        device="cpu",
        workers=0,
        kle=approach == "kle",
        sequence_dropout=0.5 if approach == "robust" else 0.0,
    )
    if not (RunFolder(run).last / "model.safetensors").is_file():
        shutil.rmtree(run, ignore_errors=True)
        train_unet(subset_folder(train, count), run, config, progress=False)
    model = load_segmenter(RunFolder(run).last)
    settings = InferenceSettings(roi_size=tuple(WINDOW), overlap=0.25)
    scores = score_cases(model, scan_cases(test), settings)
    result: dict[str, Any] = {
        "dice": {
            r: round(float(np.mean([s[r] for s in scores.values()])), 4) for r in ("WT", "TC", "ET")
        },
        "per_case_wt": {case: round(s["WT"], 4) for case, s in scores.items()},
    }
    if approach == "robust":
        result["wt_by_subset"] = subset_scores(model, test, settings)
    return result


def subset_scores(model: Any, test: Path, settings: Any) -> dict[str, float]:
    """Mean WT Dice of ``model`` on the held-out cases given only each proper subset."""
    from mri_io.labels import get_label_convention
    from mri_seg.evaluation import region_dice

    convention = get_label_convention(model.label_convention)
    cases = [load_case(files, label_convention=convention.name) for files in scan_cases(test)]
    out = {}
    for size in range(1, len(SEQUENCES)):
        for kept in combinations(SEQUENCES, size):
            values = []
            for case in cases:
                assert case.seg is not None
                view = replace(
                    case,
                    images={k: v for k, v in case.images.items() if k in kept},
                    missing=tuple(s for s in SEQUENCES if s not in kept),
                )
                labels = model.segment(view, settings=settings)
                values.append(region_dice(labels.data, case.seg.data, convention, ("WT",))["WT"])
            out["+".join(kept)] = round(float(np.mean(values)), 4)
    return out


def grid_job(work: str, approach: str, count: int, seed: int, steps: int) -> dict[str, Any]:
    result = timed(train_one, Path(work), approach, count, seed, steps)
    path = Path(work) / "results" / f"{run_name(approach, count, seed)}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    return result


def cli(*arguments: str) -> None:
    """Run a suite command on one thread, failing loudly."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", *arguments], check=True, env=env)


def generators(work: Path, steps: int) -> dict[str, Any]:
    """Short CPU trainings of the tiny HF-GAN and UMMGAT on the training cases."""
    train, _ = cohorts(work)
    hfgan, ummgat = work / "gen" / "hfgan", work / "gen" / "ummgat"
    if not (hfgan / "last" / "model.safetensors").is_file():
        shutil.rmtree(hfgan, ignore_errors=True)
        cli(
            "mri_gen", "train", "hfgan", "--data", str(train), "--out", str(hfgan),
            "--preset", "tiny", "--image-size", "64", "--steps", str(steps),
            "--batch-size", "4", "--lr", repr(1e-3 * 64 / 4), "--warmup", str(max(1, steps // 20)),
            "--inputs", "subsets", "--seed", "0", "--device", "cpu", "--threads", "1",
            "--workers", "0", "--checkpoint-every", str(steps),
        )  # fmt: skip
    if not (ummgat / "last" / "model.safetensors").is_file():
        shutil.rmtree(ummgat, ignore_errors=True)
        cli(
            "mri_gen", "train", "ummgat", "--data", str(train), "--out", str(ummgat),
            "--preset", "tiny", "--recipe", "short", "--steps", str(steps), "--seed", "0",
            "--device", "cpu", "--threads", "1", "--checkpoint-every", str(steps),
        )  # fmt: skip
    return {"steps": steps}


def benchmark(work: Path) -> dict[str, Any]:
    """The 15 subset scenarios with every approach; the report's folder."""
    from mri_bench.config import parse_config
    from mri_bench.pipeline import run_benchmark
    from mri_bench.report import write_report

    train, test = cohorts(work)
    seg = work / "seg"
    document = {
        "name": "kle-robust",
        "data": str(test),
        "reference": str(train),
        "segmenter": str(seg / run_name("plain", 16, 0) / "last"),
        "segmenter_window": WINDOW,
        "scenarios": ["subsets"],
        "strategies": [
            "copy",
            "copy-matched",
            {
                "name": "hfgan",
                "kind": "generator",
                "generator": "hfgan",
                "checkpoint": str(work / "gen" / "hfgan"),
            },
            {
                "name": "ummgat",
                "kind": "generator",
                "generator": "ummgat",
                "checkpoint": str(work / "gen" / "ummgat"),
            },
            {
                "name": "robust",
                "kind": "segmenter",
                "checkpoint": str(seg / run_name("robust", 16, 0) / "last"),
            },
            {
                "name": "kle-unet",
                "kind": "segmenter",
                "fill": "copy-matched",
                "checkpoint": str(seg / run_name("kle", 16, 0) / "last"),
            },
        ],
        "device": "cpu",
        "workers": 2,
        # Six held-out cases: the fewest for which a two-sided Wilcoxon test can reach p < 0.05.
        "cases": [files.case_id for files in scan_cases(test)][:6],
    }
    out = work / "bench"
    path = work / "bench-config.json"
    path.write_text(json.dumps(document, indent=2))
    run_benchmark(parse_config(document, path), out, resume=(out / "results.sqlite").exists())
    report = Path(write_report(out))
    return {"config": document, "report": str(report)}


def summary(work: Path, steps: int) -> dict[str, Any]:
    """Per approach and case count: mean and sample SD over seeds of each region's Dice."""
    grid: dict[str, Any] = {}
    for approach in APPROACHES:
        for count in CASE_COUNTS:
            runs = {}
            for seed in SEEDS:
                path = work / "results" / f"{run_name(approach, count, seed)}.json"
                if path.is_file():
                    runs[str(seed)] = json.loads(path.read_text())
            if not runs:
                continue
            stats = {}
            for region in ("WT", "TC", "ET"):
                values = [run["dice"][region] for run in runs.values()]
                stats[region] = {
                    "mean": round(float(np.mean(values)), 4),
                    "sd": round(float(np.std(values, ddof=1)), 4) if len(values) > 1 else None,
                }
            grid.setdefault(approach, {})[str(count)] = {"seeds": runs, "dice": stats}
    return {"steps": steps, "grid": grid}


def render(document: dict[str, Any]) -> str:
    """The tables of docs/mri-seg/kle.md, from the results JSON."""
    lines = [
        "| approach | cases | WT Dice | TC Dice | ET Dice |",
        "|---|---|---|---|---|",
    ]
    for approach, by_count in document["grid"].items():
        for count, entry in by_count.items():
            cells = [
                f"{entry['dice'][r]['mean']:.3f} ± {entry['dice'][r]['sd'] or 0:.3f}"
                for r in ("WT", "TC", "ET")
            ]
            lines.append(f"| {approach} | {count} | {' | '.join(cells)} |")
    robust = document["grid"].get("robust", {})
    if robust:
        lines += ["", "| kept sequences | " + " | ".join(f"{n} cases" for n in robust) + " |"]
        lines.append("|---|" + "---|" * len(robust))
        first = next(iter(next(iter(robust.values()))["seeds"].values()))
        for subset in first["wt_by_subset"]:
            cells = []
            for entry in robust.values():
                values = [run["wt_by_subset"][subset] for run in entry["seeds"].values()]
                cells.append(f"{np.mean(values):.3f}")
            lines.append(f"| {subset} | {' | '.join(cells)} |")
    return "\n".join(lines)


def median_table(summary: dict[str, Any], region: str = "WT", baseline: str = "copy") -> list[str]:
    """The page's median-Dice table of the benchmark run, from its report's ``summary.json``.

    The report's main table is too wide for the page (three regions, IQRs), so the page shows
    one region's medians with the report's marks against ``baseline``; rendering it here keeps
    it equal to the JSON instead of typed by hand. Scenarios and strategies keep the report's
    order. A mark is the test's stars with ``+`` (better) or ``-`` (worse): ``summary.json``
    does not keep the rank balance the report takes the direction from, so it is the sign of
    the median paired difference, or of Cohen's d where that median is 0 (most cases tied)."""
    from mri_bench.statistics import significance_mark

    dice = summary["dice"]
    rows = [entry for entry in dice["summaries"] if entry["region"] == region]
    scenarios = list(dict.fromkeys(entry["scenario"] for entry in rows))
    strategies = list(dict.fromkeys(entry["strategy"] for entry in rows))
    medians = {(entry["scenario"], entry["strategy"]): entry["median"] for entry in rows}
    tests = {
        (test["scenario"], test["strategy"]): test
        for test in dice["wilcoxon"]
        if (test["region"], test["baseline"]) == (region, baseline)
    }
    lines = [
        "| scenario | " + " | ".join(strategies) + " |",
        "|---|" + "---|" * len(strategies),
    ]
    for scenario in scenarios:
        cells = []
        for strategy in strategies:
            cell = f"{medians[scenario, strategy]:.3f}"
            test = tests.get((scenario, strategy))
            p_value = None if test is None else test["p_value"]
            stars = "" if p_value is None else significance_mark(p_value)
            if test is not None and stars:
                direction = test["median_difference"] or test["cohens_d"]
                if dice["lower_is_better"]:
                    direction = -direction
                cell += f" {'+' if direction > 0 else '-'}{stars}"
            cells.append(cell)
        lines.append(f"| {scenario} | {' | '.join(cells)} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="folder for cohorts and runs (to measure)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=250, help="U-Net training steps")
    parser.add_argument("--gen-steps", type=int, default=60, help="generator training steps")
    parser.add_argument("--skip-benchmark", action="store_true")
    parser.add_argument("--render", action="store_true", help="print the tables of the JSON")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help=f"results JSON (default {RESULTS.name})"
    )
    args = parser.parse_args()
    if args.render:
        recorded = json.loads(args.out.read_text())
        print(render(recorded))
        summary_path = BENCHMARK_DOCS / "summary.json"
        if "benchmark" in recorded and summary_path.is_file():
            print("\n" + "\n".join(median_table(json.loads(summary_path.read_text()))))
        return
    if args.work is None:
        parser.error("--work is needed to measure")
    args.work.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    load_before = load_average()
    train, _ = cohorts(args.work)
    for count in CASE_COUNTS:
        subset_folder(train, count)
    jobs = [(a, n, s) for s in SEEDS for n in CASE_COUNTS for a in APPROACHES]
    with process_pool(args.jobs, start_method="spawn") as pool:
        futures = {
            pool.submit(grid_job, str(args.work), a, n, s, args.steps): (a, n, s)
            for a, n, s in jobs
            if not (args.work / "results" / f"{run_name(a, n, s)}.json").is_file()
        }
        if not args.skip_benchmark:
            futures[pool.submit(timed, generators, args.work, args.gen_steps)] = ("gen", 0, 0)
        for future in as_completed(futures):
            print(futures[future], json.dumps(future.result().get("dice", {})), flush=True)
    document: dict[str, Any] = {
        "command": command_line(__file__, sys.argv[1:]),
        "machine": f"{machine()} shared with other jobs, {args.jobs} jobs side by side, one "
        "torch thread each",
        "date": started.isoformat(timespec="seconds"),
        "load_average_before": load_before,
        **summary(args.work, args.steps),
    }
    if not args.skip_benchmark:
        document["benchmark"] = timed(benchmark, args.work)
        target = BENCHMARK_DOCS
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for source in Path(document["benchmark"]["report"]).parent.iterdir():
            if source.name in REPORT_FILES:
                shutil.copy2(source, target / source.name)
    document["load_average_after"] = load_average()
    document["wall_seconds"] = round((datetime.now(timezone.utc) - started).total_seconds(), 1)
    args.out.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Accuracy benchmark: train the ``tiny`` 3D U-Net on CPU, score held-out synthetic cases.

Writes a training cohort and a separately seeded test cohort (half grid, 2 mm; glioblastoma
phantoms from the centres that acquire all four sequences), trains with ``train_unet`` and
writes, as JSON (``--out``, default docs/mri-seg/train_tiny.json; ``-`` prints it), the Dice
per region of the best model on each test case and their mean, and what the run cost: steps,
wall seconds per training step and per validation, CPU seconds (all threads) and the load
average before and after, with the command, the machine and the date. On a shared machine wall
time depends on the other jobs; steps and CPU seconds do not, so compare recipes by those.

    nox -s bench -- train-tiny --work /tmp/mri-seg-tiny

The figure recorded in docs/mri-seg/index.md and docs/benchmarks.md comes from this command.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mri_io.atomic import atomic_write_text
from mri_io.layouts import scan_cases
from mri_io.provenance import command_line, load_average, machine, today
from mri_io.synthetic.cohort import write_cohort
from mri_io.training import RunFolder
from mri_seg import InferenceSettings, TrainConfig, UNet3D, score_cases, train_unet

#: Where the recorded figure's JSON lives.
OUT = Path(__file__).resolve().parents[3] / "docs" / "mri-seg" / "train_tiny.json"

#: Synthetic centres that acquire all four sequences.
CENTRES = ("research-3t", "clinical-1.5t", "legacy-2d")


def _cohort(folder: Path, cases: int, seed: int, tumour: str) -> Path:
    if not folder.is_dir():
        write_cohort(folder, cases, seed=seed, centres=CENTRES, tumour=tumour, grid="half")  # type: ignore[arg-type]
    return folder


def recipe(seed: int = 0, steps: int = 400) -> TrainConfig:
    """The recipe of the recorded figure (the quality set's U-Net, tests-quality/recipes.py,
    trains the same way at lr 1e-2, which reached WT Dice 0.8 on all three of its seeds).

    48^3 crops, batch 4 and Adam at 3e-3 with a cosine schedule over 400 steps, against the
    earlier 64^3 crops, batch 2 and 1e-3 over 1,000 steps: a step costs about the same (442k
    against 524k voxels), twice as many crops are seen per step and the larger rate converges
    in 2.5 times fewer steps. Validation (3 whole cases by sliding window) runs once, after the
    last epoch: with the schedule decayed to zero the last model is the one to keep, and each
    validation costs as much as tens of steps.
    """
    epochs = steps // 25
    return TrainConfig(
        preset="tiny",
        epochs=epochs,
        steps_per_epoch=25,
        batch_size=4,
        crop=(48, 48, 48),
        learning_rate=3e-3,
        val_fraction=0.2,
        val_every=epochs,
        overlap=0.25,
        seed=seed,
        device="cpu",
    )


def _costs(run: Path, config: TrainConfig) -> dict[str, float]:
    """Wall seconds per training step (median and fastest epoch) and per validation."""
    with open(RunFolder(run).log_file, newline="") as handle:
        rows = list(csv.DictReader(handle))
    validations = [float(r["val_seconds"]) for r in rows if r.get("val_seconds")]
    steps = [
        (float(r["seconds"]) - float(r.get("val_seconds") or 0)) / config.steps_per_epoch
        for r in rows
    ]
    return {
        "seconds_per_step_median": round(float(np.median(steps)), 3),
        "seconds_per_step_fastest_epoch": round(min(steps), 3),
        "seconds_per_validation": round(float(np.median(validations)), 1)
        if validations
        else float("nan"),
    }


def table(report: dict[str, Any]) -> list[str]:
    """The docs' tables of a recorded run (docs/mri-seg/index.md holds them; a test checks that
    they are this render of the JSON)."""
    before, after = report["load_average_before"][0], report["load_average_after"][0]
    test, validation = report["test_dice"], report["validation_dice"]
    lines = [
        f"`{report['command']}`, {report['date']}, {report['machine']}, load average "
        f"{before:.1f} before and {after:.1f} after, {report['config']['workers']} loader "
        "workers (the CPU minutes are the main process's):",
        "",
        "| steps | wall min (training) | CPU min | test WT | test TC | test ET "
        "| validation WT / TC / ET |",
        "|---|---|---|---|---|---|---|",
        f"| {report['steps']} | {report['train_minutes']:.2f} | {report['train_cpu_minutes']:.2f} "
        f"| **{test['WT']:.3f}** | {test['TC']:.3f} | {test['ET']:.3f} "
        f"| {validation['WT']:.3f} / {validation['TC']:.3f} / {validation['ET']:.3f} |",
        "",
        "| test case | WT | TC | ET |",
        "|---|---|---|---|",
    ]
    for case, dice in report["test_cases"].items():
        lines.append(f"| {case} | {dice['WT']:.3f} | {dice['TC']:.3f} | {dice['ET']:.3f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for cohorts and run")
    parser.add_argument("--train-cases", type=int, default=16)
    parser.add_argument("--test-cases", type=int, default=6)
    parser.add_argument("--tumour", default="gbm", choices=("gbm", "met", "men", "mix"))
    parser.add_argument("--steps", type=int, default=400, help="training steps (25 per epoch)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(OUT), help="the JSON to write ('-': print it)")
    args = parser.parse_args()

    train = _cohort(args.work / "train", args.train_cases, 1000 + args.seed, args.tumour)
    test = _cohort(args.work / "test", args.test_cases, 2000 + args.seed, args.tumour)
    config = recipe(args.seed, args.steps)
    load_before = load_average()
    cpu_before = time.process_time()
    result = train_unet(train, args.work / "run", config)
    cpu_seconds = time.process_time() - cpu_before
    load_after = load_average()
    model = UNet3D.from_pretrained(RunFolder(args.work / "run").best)
    scores = score_cases(model, scan_cases(test), InferenceSettings(overlap=0.5))
    regions = ("WT", "TC", "ET")
    report: dict[str, Any] = {
        "command": command_line(__file__, sys.argv[1:]),
        "machine": machine(),
        "date": today(),
        "torch_threads": torch.get_num_threads(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "steps": result.epochs_done * config.steps_per_epoch,
        "train_minutes": round(result.seconds / 60, 2),
        "train_cpu_minutes": round(cpu_seconds / 60, 2),
        **_costs(args.work / "run", config),
        "best_epoch": result.best_epoch,
        "validation_dice": result.best_dice,
        "test_dice": {
            r: round(float(np.mean([s[r] for s in scores.values()])), 4) for r in regions
        },
        "test_cases": {case: {r: round(v, 4) for r, v in s.items()} for case, s in scores.items()},
        "config": config.to_json(),
    }
    text = json.dumps(report, indent=2) + "\n"
    if args.out == "-":
        print(text, end="")
    else:
        atomic_write_text(args.out, text)


if __name__ == "__main__":
    main()

"""SynthTumour measurement: junior and senior Dice against the supervised U-Net upper bound.

For each seed, on the 4 mm synthetic grid (60 x 60 x 39 voxels; the 2 shared CPU cores allow
no more), one research-3t centre:

* healthy brains (``--tumour none``) for stage 1 and the mixes of stage 2;
* glioblastoma cases whose labels are withheld from SynthTumour (its ``unlabelled`` folder,
  segmentation files removed); the supervised 3D U-Net trains on the same cases *with* their
  labels, for the same number of steps of the same batch size and crop as each SynthTumour
  stage (its upper bound);
* held-out glioblastoma test cases, with the procedural anatomy and with the MNI152 anatomy.

Every tumour the models are scored on is drawn by mri-io's generator, which SynthTumour's
stage-1 model does not use. Writes JSON (command, machine, date, load average, settings,
Dice per model, region, seed and test cohort) to ``--out``:

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python packages/mri-seg/benchmarks/synthtumour.py \
        --work /tmp/synthtumour-measure --out docs/mri-seg/synthtumour.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mri_io.labels import get_label_convention
from mri_io.layouts import link_cases, scan_cases
from mri_io.nifti import load_labels
from mri_io.provenance import load_average
from mri_io.synthetic import FULL_GRID
from mri_io.synthetic.cohort import write_cohort
from mri_seg import (
    InferenceSettings,
    TrainConfig,
    load_segmenter,
    region_dice,
    score_cases,
    train_unet,
)
from mri_seg.errors import TrainingDataError
from mri_seg.synthtumour import preset_config, train_synthtumour
from mri_seg.synthtumour.config import SENIOR_INITS

GRID = FULL_GRID.coarsened(4)
REGIONS = ("WT", "TC", "ET")


def cohort(folder: Path, cases: int, seed: int, tumour: str, anatomy: str = "procedural") -> Path:
    """A cohort written once (a rerun reuses it)."""
    if not folder.is_dir():
        staging = folder.with_name(folder.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        write_cohort(staging, cases, seed=seed, centres=["research-3t"], tumour=tumour,  # type: ignore[arg-type]
                     grid=GRID, anatomy=anatomy, progress=False)  # type: ignore[arg-type]  # fmt: skip
        staging.rename(folder)
    return folder


def split(everything: Path, work: Path, train_count: int) -> tuple[Path, Path, Path]:
    """Links to the first ``train_count`` cases with labels, the same without labels, and the
    rest (the test cases)."""
    labelled, unlabelled, test = work / "labelled", work / "unlabelled", work / "test"
    if not test.is_dir():
        cases = sorted(scan_cases(everything), key=lambda c: c.case_id)
        link_cases(cases[:train_count], labelled)
        link_cases(cases[:train_count], unlabelled, labels=False)
        link_cases(cases[train_count:], test)
    return labelled, unlabelled, test


def mean_dice(model_folder: Path, test: Path) -> dict[str, Any]:
    """Mean and per-case Dice of a model on a test cohort."""
    scores = score_cases(load_segmenter(model_folder), scan_cases(test), InferenceSettings())
    return {
        "mean": {r: round(float(np.mean([s[r] for s in scores.values()])), 4) for r in REGIONS},
        "cases": {c: {r: round(v, 4) for r, v in s.items()} for c, s in scores.items()},
    }


def pseudo_label_dice(folder: Path, labelled: Path) -> dict[str, Any]:
    """Dice of the junior's pseudo labels against the withheld labels of the same cases (read
    only here, after training)."""
    convention = get_label_convention("brats2023")
    scores = {}
    for files in scan_cases(labelled):
        assert files.seg is not None
        pseudo = load_labels(folder / f"{files.case_id}-seg.nii.gz").data
        scores[files.case_id] = region_dice(
            pseudo, load_labels(files.seg).data, convention, REGIONS
        )
    return {
        "mean": {r: round(float(np.mean([s[r] for s in scores.values()])), 4) for r in REGIONS},
        "empty_cases": int(sum(not load_labels(p).data.any() for p in folder.glob("*-seg.nii.gz"))),
    }


def measure(seed: int, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Train the three models of one seed and score them on both test cohorts."""
    work.mkdir(parents=True, exist_ok=True)
    healthy = cohort(work / "healthy", args.healthy, 500 + seed, "none")
    everything = cohort(work / "tumours", args.train + args.test, 600 + seed, "gbm")
    mni = cohort(work / "tumours-mni", args.test, 700 + seed, "gbm", "mni")
    labelled, unlabelled, test = split(everything, work, args.train)
    epochs = args.steps // args.steps_per_epoch
    senior_epochs = (args.senior_steps or args.steps) // args.steps_per_epoch
    config = preset_config(
        "tiny", junior_epochs=epochs, senior_epochs=senior_epochs,
        steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch, learning_rate=args.lr, val_cases=4, seed=seed, device="cpu",
        senior_init=args.senior_init,
    )  # fmt: skip
    # Seconds of this invocation: a resumed or finished run costs less than a fresh one.
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    failure = None
    try:  # an interrupted measurement resumes its runs; a finished run is only read back
        train_synthtumour(
            healthy, unlabelled, work / "synthtumour", config, progress=False,
            resume=(work / "synthtumour" / "run.json").is_file(),
        )  # fmt: skip
    except TrainingDataError as exc:  # the junior found no tumour: reported, not hidden
        failure = str(exc)
    seconds["synthtumour"] = round(time.perf_counter() - start, 1)
    supervised = TrainConfig(
        preset="tiny", epochs=epochs, steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch, crop=config.crop, learning_rate=args.lr, seed=seed,
        device="cpu", workers=0, cache="memory",
    )  # fmt: skip
    start = time.perf_counter()
    train_unet(
        labelled, work / "unet", supervised, progress=False,
        resume=(work / "unet" / "run.json").is_file(),
    )  # fmt: skip
    seconds["unet"] = round(time.perf_counter() - start, 1)
    # Each run's best model (selected on its validation cases) and, to see what that selection
    # costs, SynthTumour's last models.
    models = {
        "junior": work / "synthtumour" / "junior",
        "senior": work / "synthtumour" / "senior",
        "unet (supervised)": work / "unet",
        "junior (last)": work / "synthtumour" / "junior" / "last",
        "senior (last)": work / "synthtumour" / "senior" / "last",
    }
    if failure is not None:
        del models["senior"], models["senior (last)"]
    return {
        "seconds": seconds,
        "senior_failure": failure,
        "pseudo_label_dice": pseudo_label_dice(work / "synthtumour" / "pseudo", labelled),
        "procedural": {name: mean_dice(folder, test) for name, folder in models.items()},
        "mni": {name: mean_dice(folder, mni) for name, folder in models.items()},
        "synthtumour_config": replace(config).to_json(),
        "unet_config": supervised.to_json(),
    }


def summary(per_seed: dict[str, Any]) -> dict[str, Any]:
    """Mean and sd over seeds of each model's mean Dice, and whether senior >= junior on WT
    (a senior that could not be trained counts as Dice 0, and its failure is in the seed's
    ``senior_failure``)."""
    out: dict[str, Any] = {}
    for anatomy in ("procedural", "mni"):
        models = ("junior", "senior", "unet (supervised)", "junior (last)", "senior (last)")
        table: dict[str, Any] = {}
        for model in models:
            table[model] = {}
            for region in REGIONS:
                values = [
                    seed[anatomy][model]["mean"][region] if model in seed[anatomy] else 0.0
                    for seed in per_seed.values()
                ]
                table[model][region] = {
                    "mean": round(float(np.mean(values)), 4),
                    "sd": round(float(np.std(values)), 4),
                    "seeds": values,
                }
        senior = table["senior"]["WT"]["seeds"]
        junior = table["junior"]["WT"]["seeds"]
        table["senior_ge_junior_WT"] = {
            "mean": table["senior"]["WT"]["mean"] >= table["junior"]["WT"]["mean"],
            "seeds": [s >= j for s, j in zip(senior, junior, strict=True)],
        }
        out[anatomy] = table
    return out


#: How the docs' tables name each scored model of the JSON.
TABLE_NAMES = {
    "junior": "junior",
    "senior": "senior",
    "unet (supervised)": "supervised U-Net",
    "junior (last)": "junior (last)",
    "senior (last)": "senior (last)",
}
ANATOMY_TITLES = {
    "procedural": "**Test cases, procedural anatomy** (the anatomy of the healthy brains):",
    "mni": "**Test cases, MNI152 anatomy** (an anatomy none of the models saw):",
}


def render(document: dict[str, Any]) -> str:
    """The docs' tables of one results JSON: Dice mean ± sd over seeds (each seed's value)."""
    lines: list[str] = []
    for anatomy, title in ANATOMY_TITLES.items():
        table = document["summary"][anatomy]
        lines += [title, "", "| model | WT | TC | ET |", "|---|---|---|---|"]
        for key, name in TABLE_NAMES.items():
            if key not in table:
                continue
            cells = []
            for region in REGIONS:
                entry = table[key][region]
                seeds = ", ".join(f"{v:.2f}" for v in entry["seeds"])
                cells.append(f"{entry['mean']:.3f} ± {entry['sd']:.3f} ({seeds})")
            lines.append(f"| {name} | {' | '.join(cells)} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder for cohorts and runs")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write (or render)")
    parser.add_argument("--render", action="store_true", help="print the docs' tables of --out")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--healthy", type=int, default=6, help="healthy brains per seed")
    parser.add_argument("--train", type=int, default=8, help="unlabelled / labelled cases")
    parser.add_argument("--test", type=int, default=4, help="test cases per anatomy")
    parser.add_argument("--steps", type=int, default=100, help="steps per model (per stage)")
    parser.add_argument("--senior-steps", type=int, help="steps of the senior (default: --steps)")
    parser.add_argument("--steps-per-epoch", type=int, default=25)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument(
        "--senior-init", choices=SENIOR_INITS, default="scratch", help="where the senior starts"
    )
    args = parser.parse_args()
    if args.render:
        print(render(json.loads(args.out.read_text())))
        return
    if args.work is None:
        parser.error("--work is needed to measure")
    torch.set_num_threads(1)
    load_before = load_average()
    started = time.perf_counter()
    per_seed = {str(s): measure(s, args.work / f"seed-{s}", args) for s in args.seeds}
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "wall_minutes": round((time.perf_counter() - started) / 60, 1),
        "grid": {"shape": list(GRID.shape), "spacing_mm": GRID.spacing.tolist()},
        "cases_per_seed": {"healthy": args.healthy, "train": args.train, "test": args.test},
        "summary": summary(per_seed),
        "per_seed": per_seed,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report["summary"], indent=2))


if __name__ == "__main__":
    main()

"""Accuracy benchmark: train the ``tiny`` 3D U-Net on CPU, score held-out synthetic cases.

Writes a training cohort and a separately seeded test cohort (half grid, 2 mm; glioblastoma
phantoms from the centres that acquire all four sequences), trains with ``train_unet`` and
prints the Dice per region of the best model on the test cases, plus the mean, as JSON.

    python packages/mri-seg/benchmarks/train_tiny.py --work /tmp/mri-seg-tiny

The figure recorded in docs/mri-seg/index.md comes from this command.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from mri_io.layouts import scan_cases
from mri_io.synthetic.cohort import write_cohort
from mri_seg.evaluation import score_cases
from mri_seg.inference import InferenceSettings
from mri_seg.networks import UNet3D
from mri_seg.training import BEST_DIR, TrainConfig, train_unet

#: Synthetic centres that acquire all four sequences.
CENTRES = ("research-3t", "clinical-1.5t", "legacy-2d")


def _cohort(folder: Path, cases: int, seed: int, tumour: str) -> Path:
    if not folder.is_dir():
        write_cohort(folder, cases, seed=seed, centres=CENTRES, tumour=tumour, grid="half")  # type: ignore[arg-type]
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for cohorts and run")
    parser.add_argument("--train-cases", type=int, default=16)
    parser.add_argument("--test-cases", type=int, default=6)
    parser.add_argument("--tumour", default="gbm", choices=("gbm", "met", "men", "mix"))
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--steps-per-epoch", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    train = _cohort(args.work / "train", args.train_cases, 1000 + args.seed, args.tumour)
    test = _cohort(args.work / "test", args.test_cases, 2000 + args.seed, args.tumour)
    config = TrainConfig(
        preset="tiny",
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        batch_size=2,
        crop=(64, 64, 64),
        val_fraction=0.2,
        val_every=10,
        overlap=0.25,
        seed=args.seed,
        device="cpu",
    )
    started = time.monotonic()
    result = train_unet(train, args.work / "run", config)
    model = UNet3D.from_pretrained(args.work / "run" / BEST_DIR)
    scores = score_cases(model, scan_cases(test), InferenceSettings(overlap=0.5))
    regions = ("WT", "TC", "ET")
    report = {
        "torch_threads": torch.get_num_threads(),
        "train_minutes": round(result.seconds / 60, 2),
        "total_minutes": round((time.monotonic() - started) / 60, 2),
        "best_epoch": result.best_epoch,
        "validation_dice": result.best_dice,
        "test_dice": {
            r: round(float(np.mean([s[r] for s in scores.values()])), 4) for r in regions
        },
        "test_cases": {case: {r: round(v, 4) for r, v in s.items()} for case, s in scores.items()},
        "config": config.to_json(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

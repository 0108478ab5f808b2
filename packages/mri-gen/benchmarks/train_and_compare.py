"""Train a ``tiny`` HF-GAN on a synthetic cohort for a fixed time, then compare it on held-out
cases against copying the most correlated available sequence.

Each held-out case loses one sequence at a time (BraSyn's scenario: three inputs); the
synthesis and the copy are scored against the real volume in the training statistics' z-space
(so both share one intensity scale) with foreground SSIM (mri-metrics: the local SSIM map
averaged over the brain) and foreground MAE. The copy source for each target is the sequence
whose foreground intensities correlate best with it over the training cases.

    python packages/mri-gen/benchmarks/train_and_compare.py --minutes 6 --out /tmp/hfgan-bench

Writes ``results.json`` into ``--out`` and prints a Markdown table. The docs keep no run of it:
HF-GAN's recorded quality figures are the quality set's (docs/quality/index.md), against the
stronger ``copy-matched`` baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mri_gen.hfgan.config import PRESETS
from mri_gen.hfgan.data import BatchStream, SliceDataset, SliceSource, normalised_stack
from mri_gen.hfgan.inference import Synthesiser
from mri_gen.hfgan.losses import LossWeights
from mri_gen.hfgan.run import cohort_stats, training_cases
from mri_gen.hfgan.training import HFGANTrainer, TrainConfig
from mri_io.case import load_case
from mri_io.intensity import IntensityStats
from mri_io.layouts import CaseFiles
from mri_io.synthetic.cohort import write_cohort
from mri_io.training import init_distributed
from mri_metrics import mae, ssim


def correlations(cases: list[CaseFiles], sequences: tuple[str, ...]) -> np.ndarray[Any, Any]:
    """Pearson correlation of every pair of sequences over the brain voxels of all cases."""
    pooled: list[list[np.ndarray[Any, Any]]] = [[] for _ in sequences]
    for files in cases:
        case = load_case(files)
        brain = np.all([case.images[s].data > 0 for s in sequences], axis=0)
        for i, name in enumerate(sequences):
            pooled[i].append(case.images[name].data[brain])
    return np.corrcoef(np.stack([np.concatenate(p) for p in pooled]))


def train(
    cases: list[CaseFiles],
    stats: dict[str, IntensityStats],
    minutes: float,
    args: argparse.Namespace,
) -> tuple[HFGANTrainer, int, float]:
    """Train for ``args.steps`` steps, or else for ``minutes`` of wall time (the schedule's
    length then comes from a timing probe, so it depends on the machine's load)."""
    env = init_distributed(args.device)
    model = PRESETS["tiny"]
    sequences = model.generator.sequences
    source = SliceSource(tuple(cases), stats, sequences, tuple(args.views), 128)
    weights = LossWeights.parse(args.losses)
    if args.steps:
        steps, minutes = args.steps, float("inf")
    else:
        probe_config = TrainConfig(steps=10, batch_size=args.batch_size, weights=weights)
        probe = HFGANTrainer(model, probe_config, env)
        batches = iter(BatchStream(SliceDataset(source, seed=args.seed), args.batch_size))
        probe.step(next(batches))  # the first step pays one-off allocation costs: not timed
        start = time.perf_counter()
        for _ in range(3):
            probe.step(next(batches))
        per_step = (time.perf_counter() - start) / 3
        steps = max(10, int(minutes * 60 / per_step))
    config = TrainConfig(
        steps=steps,
        batch_size=args.batch_size,
        base_lr=args.lr,
        base_batch=args.batch_size,
        warmup_steps=max(1, steps // 20),
        weights=weights,
        inputs=args.inputs,
        seed=args.seed,
        ema_decay=args.ema,
    )
    trainer = HFGANTrainer(model, config, env)
    batches = iter(BatchStream(SliceDataset(source, seed=args.seed), args.batch_size))
    start = time.perf_counter()
    deadline = start + minutes * 60
    while trainer.step_count < steps and time.perf_counter() < deadline:
        losses = trainer.step(next(batches))
        if trainer.step_count % 20 == 0:
            elapsed = (time.perf_counter() - start) / 60
            print(
                f"step {trainer.step_count}/{steps}: l1 {losses['l1']:.3f} ({elapsed:.1f} min)",
                flush=True,
            )
    return trainer, trainer.step_count, time.perf_counter() - start


def evaluate(
    synthesiser: Synthesiser,
    cases: list[CaseFiles],
    stats: dict[str, IntensityStats],
    corr: np.ndarray[Any, Any],
    views: tuple[str, ...],
) -> dict[str, dict[str, list[float]]]:
    """Per target: foreground SSIM and MAE of the synthesis and of the copy, per case."""
    sequences = synthesiser.sequences
    scores: dict[str, dict[str, list[float]]] = {}
    for files in cases:
        case = load_case(files)
        full, _ = normalised_stack({k: v.data for k, v in case.images.items()}, sequences, stats)
        for t, name in enumerate(sequences):
            source = max((s for s in range(len(sequences)) if s != t), key=lambda s: corr[t, s])
            inputs = replace(case, images={k: v for k, v in case.images.items() if k != name})
            generated = synthesiser.synthesise(inputs, views)[name]  # type: ignore[arg-type]
            synth, _ = normalised_stack({name: generated}, (name,), stats)
            brain = case.images[name].data > 0
            row = scores.setdefault(name, {})
            for label, candidate in (("gen", synth[0]), ("copy", full[source])):
                row.setdefault(f"ssim_{label}", []).append(ssim(candidate, full[t], mask=brain))
                row.setdefault(f"mae_{label}", []).append(mae(candidate, full[t], mask=brain))
            row.setdefault("copied_from", []).append(float(source))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train-cases", type=int, default=12)
    parser.add_argument("--test-cases", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument(
        "--steps", type=int, default=0, help="fixed step count (overrides --minutes)"
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--ema", type=float, default=None)
    parser.add_argument("--losses", default="", help="loss weights, e.g. adv=0")
    parser.add_argument(
        "--inputs", choices=("others", "subsets"), default="others", help="training inputs"
    )
    parser.add_argument("--views", default="axial")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.views = tuple(args.views.split(","))
    if args.threads:
        torch.set_num_threads(args.threads)
    train_dir, test_dir = args.out / "train", args.out / "test"
    if not train_dir.exists():
        write_cohort(train_dir, args.train_cases, seed=args.seed + 1)
    if not test_dir.exists():
        write_cohort(test_dir, args.test_cases, seed=args.seed + 1000)
    train_cases, test_cases = training_cases(train_dir), training_cases(test_dir)
    sequences = PRESETS["tiny"].generator.sequences
    stats = cohort_stats(train_cases, sequences)
    corr = correlations(train_cases, sequences)
    load_before = os.getloadavg()
    trainer, steps, seconds = train(train_cases, stats, args.minutes, args)
    # Kept for inspection: `Synthesiser.from_pretrained(out / "model")` or `mri-gen complete`.
    trainer.shared_generator.save_pretrained(
        args.out / "model",
        {
            "stats": {k: asdict(v) for k, v in stats.items()},
            "step": steps,
            "trained_inputs": args.inputs,
        },
    )
    synthesiser = Synthesiser(trainer.shared_generator.eval(), stats, trainer.env.device)
    started = time.perf_counter()
    scores = evaluate(synthesiser, test_cases, stats, corr, args.views)
    per_volume = (time.perf_counter() - started) / (len(test_cases) * len(sequences))
    summary = {
        name: {key: float(np.mean(values)) for key, values in row.items()}
        for name, row in scores.items()
    }
    result = {
        "command": vars(args) | {"out": str(args.out), "views": list(args.views)},
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "device": str(trainer.env.device),
        "date": time.strftime("%Y-%m-%d"),
        "steps": steps,
        "train_seconds": seconds,
        "load_average_1_5_15_min": {"start": load_before, "end": os.getloadavg()},
        "slices_per_second": steps * args.batch_size / seconds,
        "seconds_per_volume": per_volume,
        "summary": summary,
        "scores": scores,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{steps} steps in {seconds / 60:.1f} min; synthesis {per_volume:.2f} s per volume")
    print("| target | SSIM gen | SSIM copy | MAE gen | MAE copy | copied from |")
    print("|---|---|---|---|---|---|")
    for name in sequences:
        row = summary[name]
        source = sequences[int(row["copied_from"])]
        print(
            f"| {name} | {row['ssim_gen']:.3f} | {row['ssim_copy']:.3f} | {row['mae_gen']:.3f} "
            f"| {row['mae_copy']:.3f} | {source} |"
        )


if __name__ == "__main__":
    main()

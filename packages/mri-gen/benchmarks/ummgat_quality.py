"""UMMGAT on an unpaired two-centre synthetic cohort: t2w -> t2f against copying, and the
lesion-aware module (LAM) ablation with an FID-style comparison.

A cohort is drawn from the ``research-3t`` (all four sequences) and ``local-t1-t2`` (T1 and T2
only) synthetic centres. Held-out ``research-3t`` cases are kept paired for scoring; every
training patient contributes one volume of one sequence (the paper's unpaired setting). Two
models are trained with the same seed and budget, with and without the LAM. On each held-out
case the real t2w is translated into ``research-3t:t2f`` (latent-guided: the mean style of 64
seeded draws) and scored against the real t2f on the paper's [0, 255] scale with foreground
SSIM and MAE (mri-metrics; brain = t2f > 0), whole brain and tumour only. The baseline copies
the t2w. The FID-style score is the Fréchet distance between features of generated and real
t2f axial slices (whole slices, and lesion crops), from mri-metrics' seeded
``RandomConvEncoder`` (2D, 256 features, seed 0) in place of Inception, which is not available
offline: the numbers rank the two models, they are not comparable with published FIDs.

Training uses a named recipe of :data:`~mri_gen.ummgat.training.TRAIN_RECIPES`: ``short`` (the
default here: a few hundred steps on a CPU, lazy R1, EMA warm-up, higher learning rate) or
``paper``. Each model stops at ``--steps`` (default: the recipe's) or after ``--minutes``,
whichever comes first; compare recipes by steps, not minutes, on a shared machine. The default
image size, 96, holds the whole brain of the half-grid synthetic cases (120 x 120 planes, brain
at most 93 pixels across), centre-cropped as at inference.

    python packages/mri-gen/benchmarks/ummgat_quality.py --out /tmp/ummgat-bench --threads 1

Writes ``results.json`` (with the load average at the start and end of each run) and prints a
Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mri_gen.ummgat.config import PRESETS, UMMGATConfig
from mri_gen.ummgat.data import UnpairedSampler, load_unpaired, normalised_uint8
from mri_gen.ummgat.inference import Translator
from mri_gen.ummgat.networks import UMMGATModel
from mri_gen.ummgat.training import TRAIN_RECIPES, TrainConfig, UMMGATTrainer
from mri_io import process_pool
from mri_io.case import load_case
from mri_io.layouts import link_cases, scan_cases
from mri_io.synthetic.cohort import MANIFEST, write_cohort
from mri_io.training import init_distributed
from mri_metrics import frechet_distance, mae, ssim
from mri_metrics.torch import RandomConvEncoder

TARGET = "research-3t:t2f"


def split_cohort(folder: Path, train: Path, held_out: int) -> list[Path]:
    """Link all but the last ``held_out`` complete cases into ``train``; return those."""
    manifest = json.loads((folder / MANIFEST).read_text())
    complete = [c["case_id"] for c in manifest["cases"] if len(c["sequences"]) == 4]
    test_ids = set(complete[-held_out:])
    kept = [c for c in manifest["cases"] if c["case_id"] not in test_ids]
    link_cases([c for c in scan_cases(folder) if c.case_id not in test_ids], train)
    (train / MANIFEST).write_text(json.dumps({**manifest, "cases": kept}))
    return [folder / case_id for case_id in sorted(test_ids)]


def train_model(
    data: Path,
    config: UMMGATConfig,
    train: TrainConfig,
    seconds: float,
    threads: int | None = None,
) -> tuple[UMMGATConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """Train on the CPU until ``train.steps`` or ``seconds``: the EMA model's configuration and
    weights (plain data, so a worker process can return them) and what the run did."""
    if threads:
        torch.set_num_threads(threads)
    env = init_distributed("cpu")
    slices, assignment = load_unpaired(data, config.image_size, seed=train.seed, progress=False)
    trainer = UMMGATTrainer(config.with_domains(slices.domains), train, env)
    sampler = UnpairedSampler(slices, train.batch_size, seed=train.seed, latent_dim=16)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    while trainer.step_count < train.steps and time.perf_counter() - start < seconds:
        trainer.step(sampler.next())
    elapsed = time.perf_counter() - start
    record = {
        "steps": trainer.step_count,
        "seconds": round(elapsed, 1),
        "steps_per_second": round(trainer.step_count / elapsed, 3),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "patients": len(assignment),
        "slices": len(slices.images),
        "domains": list(slices.domains),
    }
    model = trainer.shared_model
    return model.config, model.state_dict(), record


def features(encoder: RandomConvEncoder, slices: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    with torch.no_grad():
        batch = torch.from_numpy(np.ascontiguousarray(slices, dtype=np.float32))[:, None] / 255.0
        values: np.ndarray[Any, Any] = encoder(batch).numpy()
        return values


def evaluate(translators: dict[str, Translator], cases: list[Path]) -> dict[str, Any]:
    """Per-model scores against the real t2f, and the copy baseline."""
    scores: dict[str, dict[str, list[float]]] = {
        name: {"ssim": [], "mae": [], "mae_tumour": []} for name in [*translators, "copy"]
    }
    real_slices: list[np.ndarray[Any, Any]] = []
    real_lesions: list[np.ndarray[Any, Any]] = []
    generated: dict[str, list[np.ndarray[Any, Any]]] = {name: [] for name in translators}
    gen_lesions: dict[str, list[Any]] = {name: [] for name in translators}
    for folder in cases:
        case = load_case(folder)
        t2w, t2f = case.images["t2w"].data, case.images["t2f"].data
        reference = normalised_uint8(t2f).astype(np.float32)
        brain = t2f > 0
        tumour = (case.seg.data > 0) & brain if case.seg is not None else np.zeros_like(brain)
        keep = brain.sum(axis=(0, 1)) > 0.1 * brain.shape[0] * brain.shape[1]
        real_slices.append(np.moveaxis(reference[:, :, keep], 2, 0))
        lesion_mask = np.moveaxis(tumour[:, :, keep], 2, 0)
        real_lesions.append(np.where(lesion_mask, real_slices[-1], 0.0)[lesion_mask.any((1, 2))])
        outputs = {"copy": normalised_uint8(t2w).astype(np.float32)}
        for name, translator in translators.items():
            outputs[name] = translator.translate_volume(t2w, translator.latent_style(TARGET))
            moved = np.moveaxis(outputs[name][:, :, keep], 2, 0)
            generated[name].append(moved)
            gen_lesions[name].append(np.where(lesion_mask, moved, 0.0)[lesion_mask.any((1, 2))])
        for name, volume in outputs.items():
            scores[name]["ssim"].append(ssim(volume, reference, mask=brain, data_range=255.0))
            scores[name]["mae"].append(mae(volume, reference, mask=brain))
            if tumour.any():
                scores[name]["mae_tumour"].append(mae(volume, reference, mask=tumour))
    encoder = RandomConvEncoder(1, spatial_dims=2, num_features=256, seed=0)
    real = features(encoder, np.concatenate(real_slices))
    real_les = features(encoder, np.concatenate(real_lesions))
    summary: dict[str, Any] = {
        name: {metric: float(np.mean(values)) for metric, values in table.items()}
        for name, table in scores.items()
    }
    for name in translators:
        fake = features(encoder, np.concatenate(generated[name]))
        fake_les = features(encoder, np.concatenate(gen_lesions[name]))
        summary[name]["fid_slices"] = frechet_distance(fake, real)
        summary[name]["fid_lesions"] = frechet_distance(fake_les, real_les)
    summary["feature_extractor"] = encoder._name
    return {"summary": summary, "per_case": scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cases", type=int, default=48)
    parser.add_argument("--held-out", type=int, default=6)
    parser.add_argument("--minutes", type=float, default=15.0, help="budget per model")
    parser.add_argument("--recipe", choices=sorted(TRAIN_RECIPES), default="short")
    parser.add_argument("--steps", type=int, help="steps per model (default: the recipe's)")
    parser.add_argument("--lr", type=float, help="learning rate (default: the recipe's)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=1, help="models trained at once (1 or 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=max(1, min(8, (os.cpu_count() or 2) // 2)))
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cohort = args.out / "cohort"
    if not cohort.is_dir():
        write_cohort(
            cohort,
            args.cases,
            seed=args.seed,
            centres=("research-3t", "local-t1-t2"),
            workers=args.workers,
        )
    train_folder = args.out / "train"
    if not train_folder.is_dir():
        held_out = split_cohort(cohort, train_folder, args.held_out)
    else:
        train_ids = {case.case_id for case in scan_cases(train_folder)}
        held_out = [c.folder for c in scan_cases(cohort) if c.case_id not in train_ids]
        held_out = [f for f in held_out if len(load_case(f).images) == 4]
    config = PRESETS[args.preset].with_image_size(args.image_size)
    recipe = TRAIN_RECIPES[args.recipe]
    train = replace(
        recipe,
        steps=args.steps or recipe.steps,
        lr=args.lr or recipe.lr,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    # Same seed and budget for both models; with --jobs 2 they train side by side in two
    # processes (on a shared machine each process gets its own share of the cores).
    variants = {"ummgat_lam": True, "ummgat_no_lam": False}
    with process_pool(args.jobs, start_method="spawn") as pool:
        futures = {
            name: pool.submit(
                train_model,
                train_folder,
                replace(config, lesion_aware=lesion_aware),
                train,
                60 * args.minutes,
                args.threads,
            )
            for name, lesion_aware in variants.items()
        }
        trained = {name: future.result() for name, future in futures.items()}
    translators, runs = {}, {}
    for name, (model_config, weights, record) in trained.items():
        model = UMMGATModel(model_config)
        model.load_state_dict(weights)
        translators[name] = Translator(model.eval(), torch.device("cpu"), batch_size=32)
        runs[name] = record
    results = evaluate(translators, held_out)
    results.update(
        runs=runs,
        command=" ".join(["python packages/mri-gen/benchmarks/ummgat_quality.py", *sys.argv[1:]]),
        machine=f"{platform.platform()}; {os.cpu_count()} CPUs; " + "CPU only",
        date=date.today().isoformat(),
        held_out=[p.name for p in held_out],
        preset=args.preset,
        image_size=args.image_size,
        train=train.to_json(),
    )
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print("| t2w -> t2f | SSIM | MAE | MAE tumour | FID slices | FID lesions |")
    print("|---|---|---|---|---|---|")
    for name in ("copy", *translators):
        row = results["summary"][name]
        fids = f"{row['fid_slices']:.3g} | {row['fid_lesions']:.3g}" if name != "copy" else "- | -"
        print(
            f"| {name} | {row['ssim']:.3f} | {row['mae']:.2f} | {row['mae_tumour']:.2f} | {fids} |"
        )
    for name, run in runs.items():
        print(f"{name}: {run['steps']} steps in {run['seconds']} s")


if __name__ == "__main__":
    main()

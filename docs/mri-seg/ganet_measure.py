"""Measure GANet-Seg on the synthetic cohort and write docs/mri-seg/ganet_results.json.

    OMP_NUM_THREADS=1 python docs/mri-seg/ganet_measure.py --work /tmp/ganet-measure
    python docs/mri-seg/ganet_measure.py --render        # the page's tables, from the JSON
    python docs/mri-seg/ganet_measure.py --rescore --work /tmp/ganet-measure  # lesion-wise
                                                         # scores of runs recorded before them

For each seed: a healthy cohort (--tumour none) pre-trains one tiny inpainting GAN; a labelled
glioblastoma pool gives the first 2, 4 or 16 cases as training labels; six further cases are
held out. With each label count, three models get the same number of optimiser steps:
GANet-Seg (tiny preset, gradient-norm weights), GANet-Seg without its adversarial term (the
ablation), and mri-seg's tiny 3D U-Net (``train_unet``); with 4 labelled cases also GANet-Seg
with loss-value weights and the sub-region GANet-Seg. The held-out cases are segmented
whole and scored per region with mri-metrics (Dice; HD95 in mm, over the cases where both
masks are non-empty; BraTS 2023 lesion-wise Dice and HD95). The pre-trained discriminators
also get the threshold table of the paper's Table 1 on the held-out slices. Everything is on
the 4 mm grid (60 x 60 x 39 voxels) and one torch thread, so that the whole grid fits in about
twenty CPU minutes: these are
small-budget numbers, not the paper's setting.

Each run is recorded in the JSON as it finishes (with its wall and CPU seconds and the load
average around it); runs already recorded are skipped, so an interrupted measurement resumes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mri_io.atomic import atomic_write_text
from mri_io.case import load_case
from mri_io.labels import get_label_convention, region_mask
from mri_io.layouts import scan_cases
from mri_io.provenance import command_line, load_average, machine, today
from mri_io.synthetic import FULL_GRID, write_cohort
from mri_io.training import RunFolder
from mri_metrics import brats2023_lesion_scores, dice, hd95
from mri_seg import GANetConfig, Segmenter, TrainConfig, UNet3D, load_segmenter, train_unet
from mri_seg.ganet import (
    GANET_PRESETS,
    GANetSeg,
    InpaintingGAN,
    load_gan,
    pretrain_gan,
    slice_scores,
    threshold_table,
    train_ganet,
)

RESULTS = Path(__file__).with_name("ganet_results.json")
GRID = FULL_GRID.coarsened(4)
REGIONS = ("WT", "TC", "ET")
LABELLED = (2, 4, 16)
SEEDS = (0, 1, 2)
TEST_CASES = 6
HEALTHY_CASES = 8
#: Stage 2 budget, the same for every model: 8 epochs x 20 steps.
EPOCHS, STEPS = 8, 20
GAN = {"gan_epochs": 8, "gan_steps_per_epoch": 25, "gan_batch_size": 8}
MODELS = ("ganet", "ganet_no_adversarial", "unet3d", "ganet_loss_weights", "ganet_subregions")
#: GANet-Seg's settings per model name (the U-Net is not GANet-Seg).
VARIANTS: dict[str, dict[str, Any]] = {
    "ganet": {},
    "ganet_no_adversarial": {"adversarial": False},
    "ganet_loss_weights": {"weighting": "loss"},
    "ganet_subregions": {"classes": "subregions"},
}
#: The variants measured with 4 labelled cases only (the others with every count).
FOUR_ONLY = ("ganet_loss_weights", "ganet_subregions")


def cohorts(work: Path, seed: int) -> tuple[Path, list[Path], Path]:
    """The healthy cohort, the labelled training pool (cases in id order) and the test set."""
    healthy = work / f"healthy-{seed}"
    pool = work / f"gbm-{seed}"
    for folder, count, tumour, offset in (
        (healthy, HEALTHY_CASES, "none", 500),
        (pool, max(LABELLED) + TEST_CASES, "gbm", 1000),
    ):
        if not folder.is_dir():
            write_cohort(
                folder, count, seed=offset + seed, centres=["research-3t"], tumour=tumour,
                grid=GRID, progress=False,
            )  # fmt: skip
    cases = sorted(scan_cases(pool), key=lambda c: c.case_id)
    test = work / f"test-{seed}"
    if not test.is_dir():
        test.mkdir()
        for case in cases[-TEST_CASES:]:
            link_case(case.folder, test)
    return healthy, [case.folder for case in cases[:-TEST_CASES]], test


def link_case(case: Path, into: Path) -> None:
    """A folder in ``into`` whose files link to those of the case folder ``case``."""
    (into / case.name).mkdir()
    for path in case.iterdir():
        (into / case.name / path.name).symlink_to(path.resolve())


def subset(work: Path, seed: int, pool: list[Path], count: int) -> Path:
    """A folder linking the first ``count`` labelled cases."""
    folder = work / f"labelled-{seed}-{count}"
    if not folder.is_dir():
        folder.mkdir()
        for case in pool[:count]:
            link_case(case, folder)
    return folder


def score(model: Segmenter, test: Path) -> dict[str, Any]:
    """Mean Dice and HD95 (mm; cases with both masks non-empty) per region on ``test``, and
    the BraTS 2023 lesion-wise Dice and HD95 (GLI settings: misses and false positives count,
    HD95 penalty 374 mm), per region."""
    return {**_overlap_scores(model, test), **lesion_scores(model, test)}


def lesion_scores(model: Segmenter, test: Path) -> dict[str, Any]:
    """Mean BraTS 2023 lesion-wise Dice and HD95 (mm) per region over the cases of ``test``."""
    convention = get_label_convention(model.label_convention)
    dices: dict[str, list[float]] = {r: [] for r in REGIONS}
    distances: dict[str, list[float]] = {r: [] for r in REGIONS}
    for files in scan_cases(test):
        case = load_case(files, label_convention=convention.name)
        assert case.seg is not None
        predicted = model.segment(case).data
        for region in REGIONS:
            result = brats2023_lesion_scores(
                region_mask(predicted, convention, region),
                region_mask(case.seg.data, convention, region),
                spacing=case.seg.spacing,
            )
            dices[region].append(result.dice)
            distances[region].append(result.hd95)
    return {
        "lesion_dice": {r: float(np.mean(v)) for r, v in dices.items()},
        "lesion_hd95_mm": {r: float(np.mean(v)) for r, v in distances.items()},
    }


def _overlap_scores(model: Segmenter, test: Path) -> dict[str, Any]:
    convention = get_label_convention(model.label_convention)
    dices: dict[str, list[float]] = {r: [] for r in REGIONS}
    distances: dict[str, list[float]] = {r: [] for r in REGIONS}
    for files in scan_cases(test):
        case = load_case(files, label_convention=convention.name)
        assert case.seg is not None
        predicted = model.segment(case).data
        spacing = case.seg.spacing
        for region in REGIONS:
            pred = region_mask(predicted, convention, region)
            ref = region_mask(case.seg.data, convention, region)
            dices[region].append(dice(pred, ref, empty=1.0))
            if pred.any() and ref.any():
                distances[region].append(hd95(pred, ref, spacing=spacing))
    return {
        "dice": {r: float(np.mean(v)) for r, v in dices.items()},
        "hd95_mm": {r: float(np.mean(v)) if v else None for r, v in distances.items()},
        "hd95_cases": {r: len(v) for r, v in distances.items()},
    }


def timed(function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """``function(*args)``'s result plus wall and CPU seconds and the load average around it."""
    load = load_average()
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    result["cost"] = {
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "load_average_before": load,
        "load_average_after": load_average(),
    }
    return result


def ganet_config(seed: int, **variant: Any) -> GANetConfig:
    return GANetConfig(
        **GAN, epochs=EPOCHS, phase1_epochs=EPOCHS // 2, steps_per_epoch=STEPS, batch_size=8,
        val_fraction=0.0, seed=seed, device="cpu", **variant,
    )  # fmt: skip


def run_model(model: str, work: Path, seed: int, count: int, gan: Path, data: Path) -> Any:
    """Train one model on ``data`` and return its trained segmenter."""
    run = work / f"{model}-{seed}-{count}"
    if model == "unet3d":
        config = TrainConfig(
            preset="tiny", epochs=EPOCHS, steps_per_epoch=STEPS, batch_size=2, crop=(48, 48, 32),
            learning_rate=3e-3, val_fraction=0.0, seed=seed, device="cpu", workers=0,
        )  # fmt: skip
        train_unet(data, run, config, progress=False)
        return UNet3D.from_pretrained(RunFolder(run).last)
    train_ganet(data, run, ganet_config(seed, **VARIANTS[model]), gan=gan, progress=False)
    return load_segmenter(RunFolder(run).last)


def train_and_score(
    model: str, work: Path, seed: int, count: int, gan: Path, data: Path, test: Path
) -> dict[str, Any]:
    """One model trained on ``data`` and scored on ``test``."""
    return score(run_model(model, work, seed, count, gan, data), test)


def pretrain(seed: int, healthy: Path, run: Path, test: Path) -> dict[str, Any]:
    """Pre-train one seed's GAN; its discriminator's threshold table on the test slices."""
    folder = pretrain_gan(healthy, run, ganet_config(seed), progress=False)
    scores, truth = slice_scores(load_gan(folder), scan_cases(test))
    rows = threshold_table(scores, truth, (0.1, 0.2, 0.3, 0.4, 0.5))
    return {"rows": rows, "slices": len(truth), "tumour_slices": int(truth.sum())}


def load() -> dict[str, Any]:
    if RESULTS.is_file():
        return dict(json.loads(RESULTS.read_text()))
    return {"runs": {}, "thresholds": {}}


def save(document: dict[str, Any]) -> None:
    atomic_write_text(RESULTS, json.dumps(document, indent=2) + "\n")


def parameters() -> dict[str, dict[str, int]]:
    """Parameter counts of each preset's networks (four sequences in)."""
    counts = {}
    for preset in GANET_PRESETS:
        gan = InpaintingGAN(preset=preset)
        networks = {
            "segmenter_whole": GANetSeg(preset=preset),
            "segmenter_subregions": GANetSeg(preset=preset, classes="subregions"),
            "generator": gan.generator,
            "discriminator": gan.discriminator,
        }
        counts[preset] = {
            name: sum(p.numel() for p in net.parameters()) for name, net in networks.items()
        }
    return counts


def measure(work: Path, seeds: tuple[int, ...], labelled: tuple[int, ...]) -> None:
    torch.set_num_threads(1)
    document = load()
    document.update(
        command=command_line(__file__, sys.argv[1:]),
        machine=f"{machine()} shared with other jobs, one torch thread",
        date=today(),
        parameters=parameters(),
        settings={"grid_mm": 4, "epochs": EPOCHS, "steps_per_epoch": STEPS, "gan": GAN,
                  "healthy_cases": HEALTHY_CASES, "test_cases": TEST_CASES},
    )  # fmt: skip
    save(document)
    for seed in seeds:
        healthy, pool, test = cohorts(work, seed)
        gan_run = work / f"gan-{seed}"
        key = f"gan-{seed}"
        if key not in document["thresholds"]:
            document["thresholds"][key] = timed(pretrain, seed, healthy, gan_run, test)
            save(document)
        for count in labelled:
            data = subset(work, seed, pool, count)
            for model in MODELS:
                if model in FOUR_ONLY and count != 4:
                    continue
                name = f"{model}-{seed}-{count}"
                if name in document["runs"]:
                    continue
                trained = (model, work, seed, count, gan_run / "last", data, test)
                document["runs"][name] = {"model": model, "seed": seed, "labelled": count,
                                          **timed(train_and_score, *trained)}  # fmt: skip
                save(document)
                print(name, document["runs"][name]["dice"], flush=True)


def rescore(work: Path) -> None:
    """Add the lesion-wise scores to recorded runs whose trained models are still in
    ``work`` (the runs' other figures and costs stay as measured)."""
    document = load()
    for name, run in document["runs"].items():
        if "lesion_dice" in run:
            continue
        folder = RunFolder(work / name).last
        _, _, test = cohorts(work, run["seed"])
        model = load_segmenter(folder)
        run.update(lesion_scores(model, test))
        save(document)
        print(name, run["lesion_dice"], flush=True)


def render(document: dict[str, Any]) -> str:
    """Markdown tables of the mean (and seed spread) of each model and label count."""
    lines = ["| model | labelled cases | seeds | " + " | ".join(
        f"Dice {r}" for r in REGIONS) + " | HD95 WT (mm) | " + " | ".join(
        f"lesion Dice {r}" for r in REGIONS) + " | lesion HD95 WT (mm) | CPU s |",
        "|---|---|---|" + "---|" * (2 * len(REGIONS) + 3)]  # fmt: skip
    for model in MODELS:
        for count in LABELLED:
            runs = [
                r
                for r in document["runs"].values()
                if (r["model"], r["labelled"]) == (model, count)
            ]
            if not runs:
                continue
            cells = []
            for region in REGIONS:
                values = [r["dice"][region] for r in runs]
                cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}")
            distances = [r["hd95_mm"]["WT"] for r in runs if r["hd95_mm"]["WT"] is not None]
            cells.append(f"{np.mean(distances):.1f}" if distances else "–")
            lesion = [r for r in runs if "lesion_dice" in r]
            for region in REGIONS:
                values = [r["lesion_dice"][region] for r in lesion]
                cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}" if values else "–")
            values = [r["lesion_hd95_mm"]["WT"] for r in lesion]
            cells.append(f"{np.mean(values):.1f}" if values else "–")
            cells.append(f"{np.mean([r['cost']['cpu_seconds'] for r in runs]):.0f}")
            lines.append(f"| {model} | {count} | {len(runs)} | " + " | ".join(cells) + " |")
    lines += ["", "| GAN (seed) | threshold | accuracy | sensitivity | TP | FN | FP | TN |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for key, entry in document["thresholds"].items():
        for row in entry["rows"]:
            lines.append(
                f"| {key} | {row['threshold']:.1f} | {row['accuracy']:.3f} | "
                f"{row['sensitivity']:.3f} | {row['tp']} | {row['fn']} | {row['fp']} | {row['tn']} |"  # noqa: E501
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/ganet-measure"))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--labelled", type=int, nargs="+", default=list(LABELLED))
    parser.add_argument("--render", action="store_true", help="print the tables and stop")
    parser.add_argument(
        "--rescore", action="store_true", help="add lesion-wise scores to recorded runs in --work"
    )
    args = parser.parse_args()
    if args.rescore:
        torch.set_num_threads(1)
        rescore(args.work)
    elif not args.render:
        args.work.mkdir(parents=True, exist_ok=True)
        measure(args.work, tuple(args.seeds), tuple(args.labelled))
    print(render(load()))


if __name__ == "__main__":
    main()

"""Cross-recipe transfer of the tiny 3D U-Net: train on one anatomy, test on the other and on an
unseen centre.

The synthetic cohort draws its anatomy from one of two recipes (``procedural``: generated
tissue maps; ``mni``: the MNI152-derived atlas) and its acquisition from centre profiles. A
model that only learned one recipe's look fails on the other; this benchmark measures how much.
For each seed and each training anatomy, the U-Net trains with :func:`train_tiny.recipe` (the
recipe of the accuracy figure: 2 mm, 48^3 crops, MONAI intensity and bias-field augmentation)
on 16 glioblastoma cases from two centres (``research-3t``, ``clinical-1.5t``), and is scored
(Dice WT, TC, ET, mean over cases) on held-out cases of

- the same anatomy and centres (the same-recipe figure),
- the other anatomy, same centres (cross-recipe),
- the same anatomy from ``legacy-2d``, a centre not seen in training (4 mm coronal slices,
  strong bias, a different contrast gamma and scanner units).

The target: cross-recipe WT Dice within 0.1 of the same-recipe WT Dice. The two trainings of a
seed run side by side in two one-thread processes, loading batches in-process. ``--lr`` replaces
the recipe's learning rate (3e-3), ``--steps`` its 400 optimiser steps (the cosine schedule
stretched over them), ``--cases`` its 16 training cases (a larger cohort of the same seed, for
more variety of anatomy and tumours), ``--grey-variety`` draws the procedural training cohort
with the ``procedural-varied`` anatomy (deep grey nuclei and islands of grey matter that differ
from brain to brain; the test sets stay as they are) and ``--affine-prob`` adds the random
rotation and scaling of the crops (``TrainConfig.affine_prob``, off in the recipe); runs of each
setting are recorded and tabled separately.

    python packages/mri-seg/benchmarks/cross_recipe.py --work /tmp/cross-recipe --seeds 0
    python packages/mri-seg/benchmarks/cross_recipe.py --work /tmp/cross-recipe --lr 1e-2
    python packages/mri-seg/benchmarks/cross_recipe.py --work /tmp/cross-recipe --affine-prob 0.3
    python packages/mri-seg/benchmarks/cross_recipe.py --work /tmp/cross-recipe --steps 800
    python packages/mri-seg/benchmarks/cross_recipe.py --work /tmp/cross-recipe --cases 32
    python packages/mri-seg/benchmarks/cross_recipe.py --work /tmp/cross-recipe --grey-variety
    python packages/mri-seg/benchmarks/cross_recipe.py --render   # the page from the JSON

Writes ``docs/mri-seg/cross-recipe.json`` (per model and test set the mean and per-case Dice,
training steps and CPU seconds, command, machine, date, load) and renders
``docs/mri-seg/cross-recipe.md`` from it. Runs already in the JSON are kept and not repeated.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from mri_io import process_pool
from mri_io.provenance import command_line, load_average, machine, today

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_tiny import recipe

ROOT = Path(__file__).resolve().parents[3]
JSON_PATH = ROOT / "docs" / "mri-seg" / "cross-recipe.json"
ANATOMIES = ("procedural", "mni")
TRAIN_CENTRES = ("research-3t", "clinical-1.5t")
UNSEEN_CENTRE = "legacy-2d"
REGIONS = ("WT", "TC", "ET")
#: Largest accepted drop of WT Dice from the same-recipe to the cross-recipe test set.
TARGET_GAP = 0.1
#: The learning rate and step count of :func:`train_tiny.recipe` and the number of training
#: cases, the defaults here.
RECIPE_LR = 3e-3
RECIPE_STEPS = 400
RECIPE_CASES = 16


def cohort(folder: Path, cases: int, seed: int, anatomy: str, centres: tuple[str, ...]) -> Path:
    """A glioblastoma cohort on the half grid (2 mm), written once."""
    from mri_io.synthetic.cohort import write_cohort

    if not folder.is_dir():
        write_cohort(
            folder, cases, seed=seed, centres=centres, tumour="gbm", grid="half",
            anatomy=anatomy, progress=False,  # type: ignore[arg-type]
        )  # fmt: skip
    return folder


def train_and_score(
    work: str,
    anatomy: str,
    seed: int,
    test_sets: dict[str, str],
    lr: float = RECIPE_LR,
    affine: float = 0.0,
    steps: int = RECIPE_STEPS,
    cases: int = RECIPE_CASES,
    grey_variety: bool = False,
) -> dict[str, Any]:
    """Train on ``anatomy`` (one torch thread, batches loaded in this process) and score every
    test set; returns the result record. ``grey_variety`` draws a procedural training cohort
    with the ``procedural-varied`` anatomy (an MNI152 one is unchanged, trained afresh)."""
    import torch

    from mri_io.layouts import scan_cases
    from mri_io.training import RunFolder
    from mri_seg import InferenceSettings, UNet3D, score_cases, train_unet

    torch.set_num_threads(1)
    folder = Path(work)
    more = "" if cases == RECIPE_CASES else f"-cases{cases}"
    # Only the procedural cohort changes with grey variety: the MNI152 one is the same cohort,
    # and its model trains afresh on it (the same numbers) so that each setting has both runs.
    drawn = "procedural-varied" if grey_variety and anatomy == "procedural" else anatomy
    train = cohort(folder / f"train-{drawn}-{seed}{more}", cases, 1000 + seed, drawn, TRAIN_CENTRES)
    config = replace(recipe(seed, steps), workers=0, learning_rate=lr, affine_prob=affine)
    run = folder / (
        f"run-{anatomy}-{seed}"
        + ("" if lr == RECIPE_LR else f"-lr{lr:g}")
        + ("" if affine == 0.0 else f"-affine{affine:g}")
        + ("" if steps == RECIPE_STEPS else f"-steps{steps}")
        + more
        + ("-varied" if grey_variety else "")
    )
    cpu = time.process_time()
    if not (RunFolder(run).best / "model.safetensors").is_file():
        train_unet(train, run, config, progress=False)
    cpu_seconds = time.process_time() - cpu
    model = UNet3D.from_pretrained(RunFolder(run).best)
    scores = {}
    for name, test in test_sets.items():
        per_case = score_cases(model, scan_cases(Path(test)), InferenceSettings(overlap=0.5))
        scores[name] = {
            "mean": {
                r: round(float(np.mean([s[r] for s in per_case.values()])), 4) for r in REGIONS
            },
            "cases": {c: {r: round(v, 4) for r, v in s.items()} for c, s in per_case.items()},
        }
    return {
        "trained_on": anatomy,
        "seed": seed,
        "learning_rate": lr,
        **({} if affine == 0.0 else {"affine_prob": affine}),
        "steps": config.epochs * config.steps_per_epoch,
        **({} if cases == RECIPE_CASES else {"training_cases": cases}),
        **({"grey_variety": True} if grey_variety else {}),
        "train_cpu_seconds": round(cpu_seconds, 1),
        "scores": scores,
    }


def test_sets(work: Path, seed: int) -> dict[str, dict[str, str]]:
    """Per training anatomy: its test sets by name (same recipe, cross recipe, unseen centre)."""
    held_out = {
        anatomy: cohort(work / f"test-{anatomy}-{seed}", 8, 2000 + seed, anatomy, TRAIN_CENTRES)
        for anatomy in ANATOMIES
    }
    unseen = {
        anatomy: cohort(
            work / f"test-{anatomy}-{UNSEEN_CENTRE}-{seed}",
            8,
            3000 + seed,
            anatomy,
            (UNSEEN_CENTRE,),
        )
        for anatomy in ANATOMIES
    }
    sets = {}
    for anatomy in ANATOMIES:
        other = next(a for a in ANATOMIES if a != anatomy)
        sets[anatomy] = {
            "same recipe": str(held_out[anatomy]),
            "other anatomy": str(held_out[other]),
            "unseen centre": str(unseen[anatomy]),
        }
    return sets


#: What a run trained with: learning rate, affine probability, steps, training cases, and
#: whether the procedural training cohort had grey variety.
Setting = tuple[float, float, int, int, bool]


def setting(run: dict[str, Any]) -> Setting:
    """The learning rate, affine probability, step count, number of training cases and grey
    variety a run trained with (runs recorded before ``--lr``, ``--affine-prob``, ``--cases``
    or ``--grey-variety`` used the recipe's)."""
    return (
        float(run.get("learning_rate", RECIPE_LR)),
        float(run.get("affine_prob", 0.0)),
        int(run["steps"]),
        int(run.get("training_cases", RECIPE_CASES)),
        bool(run.get("grey_variety", False)),
    )


def measure(
    work: Path,
    seeds: list[int],
    document: dict[str, Any],
    chosen: Setting,
) -> None:
    done = {(r["trained_on"], r["seed"], setting(r)) for r in document["runs"]}
    for seed in seeds:
        pending = [a for a in ANATOMIES if (a, seed, chosen) not in done]
        if not pending:
            continue
        sets = test_sets(work, seed)
        load = load_average()
        started = time.monotonic()
        with process_pool(len(pending), start_method="spawn") as pool:
            futures = [
                pool.submit(train_and_score, str(work), a, seed, sets[a], *chosen) for a in pending
            ]
            results = [f.result() for f in futures]
        for result in results:
            result["wall_seconds_both"] = round(time.monotonic() - started, 1)
            result["load_average_before"] = load
            result["load_average_after"] = load_average()
            result["date"] = today()
            document["runs"].append(result)
        save(document)


def gap(run: dict[str, Any]) -> float:
    """Cross-recipe WT Dice minus same-recipe WT Dice of one model: its Dice on the other
    anatomy's cases minus its Dice on its own anatomy's (two different sets of cases)."""
    scores = run["scores"]
    return float(scores["other anatomy"]["mean"]["WT"] - scores["same recipe"]["mean"]["WT"])


def matched_gap(run: dict[str, Any], runs: list[dict[str, Any]]) -> float | None:
    """Cross-recipe WT Dice minus same-recipe WT Dice on the same cases: this model's Dice on
    the other anatomy's held-out cases minus that of the model of the same seed and setting
    trained on that anatomy (None when that model was not run). Holding the cases fixed
    leaves out how hard a seed's test cases are, which :func:`gap` includes."""
    partner = next(
        (
            r
            for r in runs
            if r["trained_on"] != run["trained_on"]
            and r["seed"] == run["seed"]
            and setting(r) == setting(run)
        ),
        None,
    )
    if partner is None:
        return None
    own = partner["scores"]["same recipe"]["mean"]["WT"]
    return float(run["scores"]["other anatomy"]["mean"]["WT"] - own)


def render(document: dict[str, Any]) -> str:
    names = {"procedural": "procedural", "mni": "MNI152"}
    lines = [
        "# Cross-recipe transfer of the 3D U-Net",
        "",
        "<!-- Generated by packages/mri-seg/benchmarks/cross_recipe.py from cross-recipe.json: "
        "do not edit. -->",
        "",
        "The tiny 3D U-Net trained on one anatomy recipe of the synthetic cohort and tested on "
        "the other, and on a centre it never saw. Training: glioblastoma cases from "
        f"{' and '.join(TRAIN_CENTRES)} on the 2 mm grid ({RECIPE_CASES} unless the *cases* "
        "column says otherwise; *varied grey*: the procedural training cohort drawn with the "
        "`procedural-varied` anatomy, deep grey nuclei and islands of grey matter that differ "
        "from brain to brain, test sets unchanged), the accuracy recipe of "
        "`benchmarks/train_tiny.py` (48^3 crops, batch 4, Adam on a cosine schedule, MONAI "
        "intensity and bias-field augmentation, flips; *affine* is the probability of the "
        "random rotation (up to 15 degrees about each axis) and scaling (up to 10 %) of a crop, "
        "off in the recipe). Tests: 8 held-out cases each; "
        f"*unseen centre* is `{UNSEEN_CENTRE}` (4 mm coronal slices, strong bias, another "
        "contrast gamma and scanner units) with the training anatomy. Dice is the mean over "
        f"cases. Target: cross-recipe WT Dice within {TARGET_GAP} of the same-recipe WT Dice, "
        "read two ways: *own cases* compares one model on the other anatomy's cases with the "
        "same model on its own anatomy's cases; *same cases* compares it, on the other "
        "anatomy's cases, with the model of the same seed trained on that anatomy, so the "
        "difficulty of the cases cancels. "
        "Each seed draws its own training and test cases (cohort seeds 1000, 2000 and 3000 "
        "plus the seed), so the spread between seeds includes how hard its test cases are.",
        "",
        "Commands: "
        + "; ".join(f"`{c}`" for c in document["commands"])
        + f"; machine: {document['machine']}.",
        "",
        "| trained on | lr | affine | seed | steps | cases | varied grey | tested on | WT | TC "
        "| ET | WT minus same recipe (own cases) | WT minus same recipe (same cases) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    runs = document["runs"]
    for run in sorted(document["runs"], key=lambda r: (setting(r), r["trained_on"], r["seed"])):
        lr, affine, _, cases, varied = setting(run)
        same = run["scores"]["same recipe"]["mean"]["WT"]
        other = next(a for a in ANATOMIES if a != run["trained_on"])
        for name, label in (
            ("same recipe", f"{names[run['trained_on']]} (same recipe)"),
            ("other anatomy", f"{names[other]} (other anatomy)"),
            ("unseen centre", f"{names[run['trained_on']]}, {UNSEEN_CENTRE} (unseen centre)"),
        ):
            mean = run["scores"][name]["mean"]
            delta = "" if name == "same recipe" else f"{mean['WT'] - same:+.3f}"
            matched = matched_gap(run, runs) if name == "other anatomy" else None
            paired = "" if matched is None else f"{matched:+.3f}"
            lines.append(
                f"| {names[run['trained_on']]} | {lr:g} | {affine:g} | {run['seed']} "
                f"| {run['steps']} | {cases} | {'yes' if varied else 'no'} "
                f"| {label} | "
                f"{mean['WT']:.3f} | {mean['TC']:.3f} | {mean['ET']:.3f} | {delta} | {paired} |"
            )
    lines.append("")
    for lr, affine, steps, cases, varied in sorted({setting(r) for r in runs}):
        at = [r for r in runs if setting(r) == (lr, affine, steps, cases, varied)]
        met = [r for r in at if gap(r) >= -TARGET_GAP]
        paired = [g for g in (matched_gap(r, runs) for r in at) if g is not None]
        paired_met = [g for g in paired if g >= -TARGET_GAP]
        lines.append(
            f"- lr {lr:g}, affine {affine:g}, {steps} steps, {cases} training cases"
            f"{', varied grey' if varied else ''}: target met "
            "(cross-recipe WT "
            f"within {TARGET_GAP}) "
            f"in {len(met)} of {len(at)} runs on own cases (mean WT gap "
            f"{np.mean([gap(r) for r in at]):+.3f}, worst {min(gap(r) for r in at):+.3f}) "
            + (
                f"and in {len(paired_met)} of {len(paired)} on the same cases (mean "
                f"{np.mean(paired):+.3f}, worst {min(paired):+.3f}); "
                if paired
                else ""
            )
            + "same-recipe WT "
            f"{np.mean([r['scores']['same recipe']['mean']['WT'] for r in at]):.3f} on average."
        )
    lines += [
        "",
        "Runs (lr, affine, steps, training cases, varied grey, seed, date, load average before "
        "and after, "
        "wall seconds of "
        "the two trainings side by side, CPU seconds of each training): "
        + "; ".join(
            f"{names[r['trained_on']]} lr {setting(r)[0]:g} affine {setting(r)[1]:g} "
            f"{r['steps']} steps {setting(r)[3]} cases"
            f"{' varied grey' if setting(r)[4] else ''} seed "
            f"{r['seed']}: {r['date']}, load "
            f"{r['load_average_before'][0]:.1f} / {r['load_average_after'][0]:.1f}, "
            f"{r['wall_seconds_both']:.0f} s wall, {r['train_cpu_seconds']:.0f} CPU s"
            for r in sorted(runs, key=lambda r: (setting(r), r["seed"], r["trained_on"]))
        )
        + ".",
    ]
    return "\n".join(lines) + "\n"


def load() -> dict[str, Any]:
    if JSON_PATH.is_file():
        loaded: dict[str, Any] = json.loads(JSON_PATH.read_text())
        if "command" in loaded:  # recorded before --lr: one command for all runs
            loaded["commands"] = [loaded.pop("command")]
        return loaded
    return {"runs": [], "commands": []}


def save(document: dict[str, Any]) -> None:
    JSON_PATH.write_text(json.dumps(document, indent=2) + "\n")
    JSON_PATH.with_suffix(".md").write_text(render(document))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder for cohorts and runs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--lr", type=float, default=RECIPE_LR, help="learning rate")
    parser.add_argument(
        "--affine-prob", type=float, default=0.0, help="probability of rotating/scaling a crop"
    )
    parser.add_argument(
        "--steps", type=int, default=RECIPE_STEPS, help="optimiser steps (a multiple of 25)"
    )
    parser.add_argument(
        "--cases", type=int, default=RECIPE_CASES, help="training cases per anatomy"
    )
    parser.add_argument(
        "--grey-variety",
        action="store_true",
        help="draw the procedural training cohort with the procedural-varied anatomy",
    )
    parser.add_argument("--render", action="store_true", help="only rewrite the page")
    args = parser.parse_args()
    if args.steps < 25 or args.steps % 25:
        parser.error(f"--steps must be a positive multiple of 25 (epochs of 25), got {args.steps}")
    if args.cases < 5:
        parser.error(
            f"--cases must be at least 5 (a fifth is held out to validate), got {args.cases}"
        )
    document = load()
    if not args.render:
        if args.work is None:
            parser.error("--work is needed to measure")
        options = ["--work", "DIR", "--seeds", *map(str, args.seeds)]
        options += [] if args.lr == RECIPE_LR else ["--lr", f"{args.lr:g}"]
        options += [] if args.affine_prob == 0.0 else ["--affine-prob", f"{args.affine_prob:g}"]
        options += [] if args.steps == RECIPE_STEPS else ["--steps", str(args.steps)]
        options += [] if args.cases == RECIPE_CASES else ["--cases", str(args.cases)]
        options += ["--grey-variety"] if args.grey_variety else []
        command = command_line(__file__, options)
        if command not in document["commands"]:
            document["commands"].append(command)
        document["machine"] = machine()
        chosen = (args.lr, args.affine_prob, args.steps, args.cases, args.grey_variety)
        measure(args.work, args.seeds, document, chosen)
    save(document)


if __name__ == "__main__":
    main()

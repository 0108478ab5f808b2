"""Measure the quality recipes over three seeds, derive the tests' floors, show that a zeroed
learning rate fails them, and write docs/quality/results.json and docs/quality/index.md.

    python tests-quality/measure.py --work /tmp/quality --jobs 2            # everything
    python tests-quality/measure.py --work /tmp/quality --only hfgan --seeds 1 2
    python tests-quality/measure.py --render                                # page from JSON

Every run is a (family, seed, learning-rate scale) job; ``--jobs`` of them run side by side in
separate processes, each on one torch thread. Each run is recorded in its own file under
docs/quality/runs/ as it finishes, and results.json and the page are rebuilt from all of them,
so families and seeds can be measured in separate invocations. Each run records its
wall and CPU seconds and the load average before and after (the machine is shared: compare
recipes by CPU seconds, which do not depend on the other jobs).

The floor of each checked quantity (a Dice, or an advantage over mri-bench's ``copy-matched``
baseline) is the three-seed mean minus three sample standard deviations (at least a tenth of
the mean each, as three seeds can agree by chance), rounded down to two
decimals, and never below the family's claim (WT Dice 0.8; an advantage above 0). A model that
loses more than three seed-to-seed standard deviations fails; seed noise does not. Until three
seeds are measured a floor is the claim alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any

import numpy as np

from mri_io import process_pool, provenance

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recipes

FAMILIES = ("unet3d", "segmenter2d", "hfgan", "ummgat", "ummgat_nolam", "unet3d_1mm")
PAGE = recipes.RESULTS.with_name("index.md")


def run_one(family: str, seed: int, lr_scale: float, work: str) -> dict[str, Any]:
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    folder = Path(work) / f"seed-{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    if family == "ummgat_nolam":
        return recipes.timed(recipes.ummgat, folder, seed, lr_scale, lesion=False)
    if family == "unet3d_1mm":
        return recipes.timed(recipes.unet3d_full_resolution, folder, seed)
    function = getattr(recipes, family)
    return recipes.timed(function, folder, seed, lr_scale)  # type: ignore[no-any-return]


RUNS = recipes.RESULTS.with_name("runs")


def load() -> dict[str, Any]:
    """Every recorded run (one JSON file per family, seed and learning-rate scale, so that
    several invocations can measure side by side), gathered into one document."""
    document: dict[str, Any] = {"runs": {}, "broken": {}}
    for path in sorted(RUNS.glob("*.json")):
        record = json.loads(path.read_text())
        if record["lr_scale"] == 0.0:
            document["broken"][record["family"]] = record["result"]
        else:
            runs = document["runs"].setdefault(record["family"], {})
            runs[str(record["seed"])] = record["result"]
        dates = sorted({*document.get("dates", []), record["date"]})
        document["dates"] = dates
        document["date"] = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
        machines = document.setdefault("machines", [])
        if record["machine"] not in machines:
            machines.append(record["machine"])
        document["machine"] = "; ".join(machines)
    return document


def record(family: str, seed: int, scale: float, result: dict[str, Any], machine: str) -> None:
    RUNS.mkdir(parents=True, exist_ok=True)
    fields = {"family": family, "seed": seed, "lr_scale": scale, "result": result}
    fields |= {"date": provenance.today(), "machine": machine}
    path = RUNS / f"{family}-seed{seed}-lr{scale:g}.json"
    path.write_text(json.dumps(fields, indent=1, sort_keys=True) + "\n")


def floor_of(values: list[float], claim: float | None) -> float:
    """Mean minus three sample standard deviations, rounded down, never below the claim.
    With fewer than three seeds there is no spread to trust: the floor is the claim alone
    (0 for a family without one, which the page flags)."""
    if len(values) < 3:
        return claim if claim is not None else 0.0
    mean = float(np.mean(values))
    # Three seeds can agree by chance: the spread counted is at least a tenth of the mean.
    spread = max(float(np.std(values, ddof=1)), 0.1 * abs(mean))
    floor = math.floor((mean - 3 * spread) * 100) / 100
    return max(floor, claim) if claim is not None else floor


def derive(document: dict[str, Any]) -> None:
    """Summaries, floors and the outcome of the zeroed-learning-rate runs."""
    summary: dict[str, Any] = {}
    floors: dict[str, dict[str, float]] = {}
    for family in ("unet3d", "segmenter2d", "hfgan", "ummgat"):
        runs = document["runs"].get(family, {})
        if not runs:
            continue
        quantities: dict[str, list[float]] = {}
        for seed in sorted(runs):
            for name, value in recipes.measured(runs[seed], family).items():
                quantities.setdefault(name, []).append(value)
        summary[family] = {
            name: {
                "seeds": sorted(runs),
                "values": values,
                "mean": round(float(np.mean(values)), 4),
                "sd": round(float(np.std(values, ddof=1)), 4) if len(values) > 1 else None,
                "min": min(values),
            }
            for name, values in quantities.items()
        }
        known = recipes.SHORTFALLS.get(family, frozenset())
        floors[family] = {
            name: floor_of(values, None if name in known else recipes.CLAIMS[family])
            for name, values in quantities.items()
            if name not in known or len(values) >= 3  # a shortfall's floor is a measured one
        }
    document["summary"], document["thresholds"] = summary, floors
    for family, result in document["broken"].items():
        if family in floors:
            result["failures"] = recipes.failures(result, family, floors[family])


def render(document: dict[str, Any]) -> str:
    """The Markdown page, from the JSON document only."""
    lines = [
        "# Quality tests: measured figures",
        "",
        "<!-- Generated by tests-quality/measure.py from results.json: do not edit. -->",
        "",
        "`nox -s quality` (run by `.ci/run` after the test command) trains each model family a",
        "fixed number of steps with seed 0 on a synthetic cohort (one torch thread, no",
        "wall-clock budget) and checks it on held-out synthetic cases. The floors below are the",
        "mean over seeds 0, 1 and 2 minus three sample standard deviations (each at least a",
        "tenth of the mean, as three seeds can agree by chance), rounded down, and",
        "never below the claim (WT Dice 0.8; 2D segmenter SNFH Dice 0.3; a positive advantage",
        "over mri-bench's",
        "`copy-matched` baseline: the most |correlated| available sequence, inverted where the",
        "correlation is negative, histogram-matched to the target's typical histogram). SSIM and",
        "MAE are foreground scores on BraSyn's [0, 1] evaluation scale, as mri-bench scores",
        "completions. Recipes: `tests-quality/recipes.py`; figures: `results.json` beside this",
        "page, written by `python tests-quality/measure.py`. Until three seeds of a family are",
        "measured its floors are the claims alone (marked *claim only* below). A claim a",
        "recipe does not meet yet is a strict expected failure, and its quantity's floor is",
        "the measured one alone (it may be negative): the test asserts it, so a model that",
        "stops learning fails even before it beats the baseline.",
        "",
        f"Measured {document.get('date', '?')} on {document.get('machine', '?')}.",
        "",
        "| family | checked quantity | seeds | values | mean | sd | floor in the test |",
        "|---|---|---|---|---|---|---|",
    ]
    for family, quantities in document.get("summary", {}).items():
        for name, row in quantities.items():
            values = ", ".join(f"{v:.3f}" for v in row["values"])
            sd = f"{row['sd']:.3f}" if row["sd"] is not None else "-"
            floor = document["thresholds"][family].get(name)
            note = "" if len(row["seeds"]) >= 3 else " (claim only)"
            shown = "-" if floor is None else f"{floor:.2f}"
            if name in recipes.SHORTFALLS.get(family, ()):
                shown += f"; claim > {recipes.CLAIMS[family] or 0:g} **not met**: strict xfail"
            lines.append(
                f"| {family} | {name} | {len(row['seeds'])} | {values} | {row['mean']:.3f} "
                f"| {sd} | {shown}{note} |"
            )
    fragile = []
    for family, quantities in document.get("summary", {}).items():
        for name, row in quantities.items():
            floor = document["thresholds"][family].get(name)
            if floor is None:
                continue
            low = [s for s, v in zip(row["seeds"], row["values"], strict=True) if v < floor]
            if low:
                fragile.append(f"{family} {name} (seeds {', '.join(low)})")
    if fragile:
        lines += [
            "",
            "**Seed-fragile checks**: some measured seeds fall below the floor the test "
            "asserts for seed 0: " + "; ".join(fragile) + ". The test passes on seed 0, but "
            "the claim does not hold for every seed at this step count; a longer recipe is "
            "needed before the floor can carry a margin.",
        ]
    lines += ["", "## Reported figures per seed", ""]
    lines += ["| run | seed | figures | steps | wall min | CPU min | load before / after |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for family, runs in document["runs"].items():
        for seed, result in sorted(runs.items()):
            lines.append(
                f"| {family} | {seed} | {reported(family, result)} | {result['steps']} "
                f"| {cost(result)} |"
            )
    lines += [
        "",
        "## Claims not met at this budget",
        "",
        "Rows marked **not met** are strict expected failures in the tests: they run and are",
        "reported every time, and a model that starts meeting them fails the set until the",
        "claim is asserted again (`recipes.SHORTFALLS`). On the synthetic cohort every",
        "sequence is close to a monotone transform of another one, so the sign-aware,",
        "histogram-matched copy is a strong baseline (see the per-seed figures: T1 from T1ce",
        "and back are nearly exact). The `tiny` HF-GAN at 64 px beats it on t2f from 150",
        "steps but on t2w and the mean of four only from 800 (the step sweep below), the",
        "budget of its recipe. UMMGAT closes most of its gap between 300 and 450 steps and",
        "then levels off (the UMMGAT sweep below): its recipe trains 600 steps, where it is",
        "far from its untrained self but still behind copy-matched, and two and four times",
        "as many steps leave it behind as well. Other cycle and style weights and learning",
        "rates at the recipe's budget do not close it either (the variants below).",
        *ceiling_sentence(document),
        "Closing it needs a change to the model or its losses, or training far beyond a CI",
        "run (the paper's recipe is 20,000 steps on 176 px slices).",
    ]
    lines += steps_section()
    lines += ummgat_steps_section(document)
    lines += ummgat_variants_section()
    lines += ummgat_paired_section(document)
    lines += ["", "## 2D segmenter floor", ""]
    seg = document["summary"].get("segmenter2d", {}).get("SNFH slice Dice")
    if seg:
        seg_floor = document["thresholds"]["segmenter2d"]["SNFH slice Dice"]
        lines.append(
            "The 2D segmenter has no Dice claim of its own at this budget (the thesis reports "
            "0.74 / 0.80 / 0.82 on NETC / ED / ET after full training on BraTS); its claim here "
            "is only that it learns the largest class (SNFH Dice 0.3). Its recipe is a short "
            f"one ({document['runs']['segmenter2d']['0']['steps']} steps), and the floor is the "
            "measured one, on the class it learns on every seed at that budget (SNFH, edema; "
            "NETC and ET vary from seed to seed and are reported above): slice Dice "
            f"{seg['mean']:.3f} over seeds "
            f"{', '.join(seg['seeds'])}, floor {seg_floor:.2f}. It proves the segmenter "
            "learns (an untrained one scores as in the zeroed-learning-rate row below), not "
            "that it is a good segmenter."
        )
    lines += ["", "## Lesion-aware module", ""]
    lam, nolam = document["runs"].get("ummgat", {}), document["runs"].get("ummgat_nolam", {})
    both = sorted(set(lam) & set(nolam))
    if both:
        gains = {
            metric: [
                lam[s]["scores"]["gen"][metric] - nolam[s]["scores"]["gen"][metric] for s in both
            ]
            for metric in ("ssim", "mae")
        }
        helps = bool(np.mean(gains["ssim"]) > 0 and np.mean(gains["mae"]) < 0)
        better = {
            "SSIM": sum(g > 0 for g in gains["ssim"]),
            "brain MAE": sum(g < 0 for g in gains["mae"]),
        }
        lines += [
            f"With against without the LAM, same seeds ({', '.join(both)}) and steps: SSIM "
            f"difference {', '.join(f'{g:+.4f}' for g in gains['ssim'])}, MAE difference "
            f"{', '.join(f'{g:+.4f}' for g in gains['mae'])} (the LAM is the better on "
            + " and on ".join(f"{m} in {n} of {len(both)} seeds" for m, n in better.items())
            + "). At this budget the lesion module "
            + ("helps on both scores." if helps else "does **not** help on both scores."),
        ]
    else:
        lines.append(
            "Not measured yet: the run without the LAM (`measure.py --only ummgat_nolam`) has "
            "not been recorded, so the docs do not claim that the lesion module helps."
        )
    lines += ["", "## The same cases at 1 mm", ""]
    full = document["runs"].get("unet3d_1mm", {})
    if full:
        gaps = {s: r["dice"]["full"]["WT"] - r["dice"]["half"]["WT"] for s, r in full.items()}
        lines += [
            "The 3D U-Net recipe's model (trained on the 2 mm half grid) segments its 6 held-out "
            "cases written once at 2 mm and once at 1 mm (the same phantoms; 240 x 240 x 155), "
            "both through `mri-seg predict` alone, which resamples each case to the model's "
            "recorded voxel size and the labels back. WT Dice at 1 mm minus WT Dice at 2 mm, "
            f"by seed: {', '.join(f'{s}: {g:+.3f}' for s, g in sorted(gaps.items()))}; the "
            "test asserts at most 0.05 apart (seed 0). Before models recorded their voxel "
            "size, a tiny U-Net trained at 2 mm scored WT 0.63 at 2 mm and 0.36 at 1 mm."
            + (
                " Seed(s) "
                + ", ".join(s for s, g in sorted(gaps.items()) if abs(g) > 0.05)
                + " further apart, with the 1 mm score the higher (not investigated; "
                "plausibly the linearly upsampled probabilities follow the finer 1 mm reference "
                "boundary more closely than 2 mm voxels can)."
                if any(abs(g) > 0.05 and g > 0 for g in gaps.values())
                else ""
            ),
            "",
            f"The same 1 mm cases with their affine tilted by {recipes.OBLIQUE_DEGREES:g} "
            "degrees about the superior axis (same voxels: the scan of a tilted head), taken "
            "through `mri-io conform` (onto the axis-aligned BraTS grid), `mri-seg predict` and "
            "`mri-io conform --inverse` (back onto the tilted grid), scored there; WT Dice by "
            "seed: "
            + ", ".join(
                f"{s}: {r['dice']['oblique']['WT']:.3f} "
                f"(axis-aligned {r['dice']['full']['WT']:.3f})"
                for s, r in sorted(full.items())
            )
            + ". Two linear resamplings of the images, two nearest-neighbour ones of the labels "
            "and a model that never saw a tilted head are what the difference measures.",
        ]
    else:
        lines.append("Not measured yet (`measure.py --only unet3d_1mm`).")
    lines += ["", "## A broken model fails", ""]
    lines += [
        "The same recipes with the learning rate multiplied by 0 (seed 0), checked against the "
        "same floors (for UMMGAT its measured floors, as its claim is a known shortfall):",
        "",
        "| family | failed checks | figures of the untrained model |",
        "|---|---|---|",
    ]
    for family, result in document["broken"].items():
        problems = result.get("failures")
        text = "; ".join(problems) if problems else "none (the check did not catch it)"
        lines.append(f"| {family} | {text} | {reported(family, result)} |")
    uncaught = [f for f, r in document["broken"].items() if not r.get("failures")]
    for family in uncaught:
        trained = document["runs"].get(family, {}).get("0")
        if family == "ummgat" and trained:
            untrained = document["broken"][family]["scores"]["gen"]
            lines += [
                "",
                f"UMMGAT at this budget is not distinguishable from its untrained self on SSIM "
                f"(seed 0: {trained['scores']['gen']['ssim']:.3f} trained, "
                f"{untrained['ssim']:.3f} untrained; brain MAE "
                f"{trained['scores']['gen']['mae']:.4f} against {untrained['mae']:.4f}), so no "
                "floor set from its seeds would catch a broken model: its claim stays a "
                "reported shortfall, and the set proves UMMGAT learns only once a recipe "
                "within the CI budget beats copy-matched.",
            ]
    missing = [
        f for f in ("unet3d", "segmenter2d", "hfgan", "ummgat") if f not in document["broken"]
    ]
    if missing:
        lines += ["", f"Not yet run with a zeroed learning rate: {', '.join(missing)}."]
    lines += ["", "## Cost", ""]
    seed0 = [
        runs["0"]["cost"]
        for family, runs in document["runs"].items()
        if "0" in runs and family not in ("ummgat_nolam", "unet3d_1mm")
    ]
    if seed0:
        cpu = sum(c["cpu_seconds_this_process"] + c["cpu_seconds_children_total"] for c in seed0)
        wall = sum(c["wall_seconds"] for c in seed0)
        lines.append(
            f"The four seed-0 runs (what `nox -s quality` runs) took {cpu / 60:.1f} CPU minutes "
            f"on one thread ({wall / 60:.1f} wall minutes on the shared machine at the loads "
            "listed above). On an otherwise idle machine the session's wall time is about its "
            "CPU time (one thread) plus installing the packages, which keeps the whole CI run "
            "(test command, integration tests, quality tests) within an hour on two cores."
        )
    return "\n".join(lines) + "\n"


#: The columns every sweep table ends with (:func:`cost`).
COST_COLUMNS = ("wall min", "CPU min", "load before / after")

#: The columns of a UMMGAT translation score (:func:`translation_cells`).
TRANSLATION_COLUMNS = ("SSIM model / copy-matched", "brain MAE model / copy-matched")


def sweep_opening(
    title: str, what: str, path: Path, scored: str, columns: tuple[str, ...]
) -> tuple[dict[str, Any], list[str]]:
    """A sweep's JSON at ``path`` and the lines that open its section: the heading, one sentence
    of ``what`` ran, its commands, JSON, date and machine and what is ``scored``, and the header
    of its table (``columns``, then the cost columns)."""
    sweep: dict[str, Any] = json.loads(path.read_text())
    names = (*columns, *COST_COLUMNS)
    return sweep, [
        "",
        f"### {title}",
        "",
        f"{what}; "
        + ", ".join(f"`{c}`" for c in sweep["commands"])
        + f" (their JSON is `docs/quality/{path.name}`), {sweep['date']}, {sweep['machine']}. "
        + scored,
        "",
        "| " + " | ".join(names) + " |",
        "|" + "---|" * len(names),
    ]


def translation_cells(result: dict[str, Any]) -> str:
    """A UMMGAT-like result's SSIM and brain MAE beside copy-matched's, as table cells."""
    gen, copy = result["scores"]["gen"], result["scores"]["copy"]
    return f"{gen['ssim']:.3f} / {copy['ssim']:.3f} | {gen['mae']:.4f} / {copy['mae']:.4f}"


#: The HF-GAN step sweep of sweep.py.
SWEEP = recipes.RESULTS.with_name("hfgan-steps.json")


def steps_section() -> list[str]:
    """How HF-GAN's advantage over copy-matched moves with its step budget (sweep.py)."""
    if not SWEEP.is_file():
        return []
    sweep, lines = sweep_opening(
        "HF-GAN by step budget",
        "The HF-GAN recipe with only its step count changed (learning-rate warm-up a 20th of "
        "the steps, cosine to the end), seed and cohorts as above",
        SWEEP,
        "SSIM gain and MAE reduction over copy-matched (positive = the model is better):",
        ("steps", "seed", "t2w SSIM / MAE", "t2f SSIM / MAE", "mean of 4 SSIM / MAE"),
    )
    first: dict[str, int] = {}
    for run in sweep["runs"]:
        gains = recipes.measured(run["result"], "hfgan")
        cells = " | ".join(
            f"{gains[f'{t} SSIM gain']:+.3f} / {gains[f'{t} MAE reduction']:+.4f}"
            for t in ("t2w", "t2f", "mean4")
        )
        lines.append(f"| {run['steps']} | {run['seed']} | {cells} | {cost(run['result'])} |")
        for name, value in gains.items():
            if value > 0 and run["seed"] == 0:
                first.setdefault(name, run["steps"])
    longest = max(run["steps"] for run in sweep["runs"])
    claims = [f"{t} {m}" for t in ("t2w", "t2f", "mean4") for m in ("SSIM gain", "MAE reduction")]
    met = [f"{name.replace(' gain', '').replace(' reduction', '')} from {first[name]} steps"
           for name in claims if name in first]  # fmt: skip
    unmet = [name.split(" ")[0] + " " + name.split(" ")[1] for name in claims if name not in first]
    lines += [
        "",
        "Seed 0 beats copy-matched on "
        + ", ".join(met)
        + (f"; not within {longest} steps on " + ", ".join(unmet) if unmet else "")
        + ". (A gain counts from the first step count where it is positive; the runs are "
        "separate trainings, each with its own schedule.) The "
        f"{recipes.HFGAN_STEPS}-step row is the quality recipe itself: the seed-0 record above "
        "is that run.",
    ]
    return lines


#: The UMMGAT step sweep of sweep.py.
UMMGAT_SWEEP = recipes.RESULTS.with_name("ummgat-steps.json")


def ummgat_steps_section(document: dict[str, Any]) -> list[str]:
    """How UMMGAT's translation moves with its step budget (sweep.py), beside its untrained
    self (the zeroed-learning-rate run) and copy-matched."""
    if not UMMGAT_SWEEP.is_file():
        return []
    sweep, lines = sweep_opening(
        "UMMGAT by step budget",
        "The UMMGAT recipe with only its step count changed (constant learning rate), seed and "
        "cohorts as above",
        UMMGAT_SWEEP,
        "t2w translated into t2f, scored against the real t2f:",
        ("steps", "seed", *TRANSLATION_COLUMNS),
    )
    untrained = document["broken"].get("ummgat")
    if untrained:
        lines.append(f"| untrained (lr x 0) | 0 | {translation_cells(untrained)} | - | - | - |")
    for run in sweep["runs"]:
        result = run["result"]
        lines.append(
            f"| {run['steps']} | {run['seed']} | {translation_cells(result)} | {cost(result)} |"
        )
    lines += [
        "",
        f"The {recipes.UMMGAT_STEPS}-step row is the quality recipe itself: the seed-0 record "
        "above is that run.",
    ]
    return lines


#: UMMGAT recipe variants of sweep.py (other loss weights and learning rates).
UMMGAT_VARIANTS = recipes.RESULTS.with_name("ummgat-variants.json")


def ummgat_variants_section() -> list[str]:
    """How UMMGAT's translation moves with other loss weights and learning rates (sweep.py
    ``--losses`` / ``--lr-scales``), beside the recipe's own run of the step sweep."""
    if not UMMGAT_VARIANTS.is_file():
        return []
    sweep, lines = sweep_opening(
        "UMMGAT recipe variants",
        "The UMMGAT recipe with one loss weight or its learning rate changed, everything else "
        "as above",
        UMMGAT_VARIANTS,
        "t2w translated into t2f, scored against the real t2f:",
        ("variant", "steps", "seed", *TRANSLATION_COLUMNS),
    )
    recipe_runs = []
    if UMMGAT_SWEEP.is_file():
        steps = json.loads(UMMGAT_SWEEP.read_text())["runs"]
        recipe_runs = [
            {**r, "variant": "the recipe (step sweep)"}
            for r in steps
            if r["steps"] == recipes.UMMGAT_STEPS
        ]
    variants = [
        {
            **r,
            "variant": ", ".join(
                ([f"loss weights {r['losses']}"] if r.get("losses") else [])
                + ([f"lr x {r['lr_scale']:g}"] if r.get("lr_scale", 1.0) != 1.0 else [])
            )
            or "the recipe",
        }
        for r in sweep["runs"]
    ]
    for run in recipe_runs + variants:
        lines.append(
            f"| {run['variant']} | {run['steps']} | {run['seed']} "
            f"| {translation_cells(run['result'])} | {cost(run['result'])} |"
        )
    return lines


#: UMMGAT's generator trained on pairs (sweep.py --family ummgat_paired): the ceiling.
UMMGAT_PAIRED = recipes.RESULTS.with_name("ummgat-paired.json")


def wins(results: list[dict[str, Any]]) -> str:
    """In how many of ``results`` the model beats copy-matched on SSIM and on brain MAE."""
    ssim = sum(r["scores"]["gen"]["ssim"] > r["scores"]["copy"]["ssim"] for r in results)
    mae = sum(r["scores"]["gen"]["mae"] < r["scores"]["copy"]["mae"] for r in results)
    seeds = "seed" if len(results) == 1 else "seeds"
    return f"on SSIM in {ssim} of {len(results)} {seeds}, on brain MAE in {mae} of {len(results)}"


def beats_on_both(result: dict[str, Any]) -> bool:
    """Whether a model beats copy-matched on SSIM and on brain MAE at once (UMMGAT's claim)."""
    gen, copy = result["scores"]["gen"], result["scores"]["copy"]
    return bool(gen["ssim"] > copy["ssim"] and gen["mae"] < copy["mae"])


def ceiling_sentence(document: dict[str, Any]) -> list[str]:
    """What the paired ceiling at the recipe's step count says about UMMGAT's claim, from
    ummgat-paired.json and the quality runs (nothing when the ceiling was not measured)."""
    if not UMMGAT_PAIRED.is_file():
        return []
    runs = json.loads(UMMGAT_PAIRED.read_text())["runs"]
    paired = [r["result"] for r in runs if r["steps"] == recipes.UMMGAT_STEPS]
    unpaired = list(document["runs"].get("ummgat", {}).values())
    if not paired or not unpaired:
        return []
    return [
        f"The same generator trained on pairs for the same {recipes.UMMGAT_STEPS} steps (the "
        f"ceiling below) beats copy-matched on SSIM and brain MAE together in "
        f"{sum(map(beats_on_both, paired))} of {len(paired)} seeds, the unpaired recipe in "
        f"{sum(map(beats_on_both, unpaired))} of {len(unpaired)}: with every answer given, this "
        "network at this budget mostly gets there; the unpaired objective does not."
    ]


def ummgat_paired_section(document: dict[str, Any]) -> list[str]:
    """What UMMGAT's generator reaches when trained on pairs for the same steps (a ceiling for
    the unpaired recipe), and in how many seeds it beats copy-matched at each step count,
    beside the unpaired recipe's own seeds at its step count."""
    if not UMMGAT_PAIRED.is_file():
        return []
    sweep, lines = sweep_opening(
        "A ceiling: UMMGAT's generator trained on pairs",
        "Not UMMGAT: the generator of its recipe (`tiny`, 64 px) trained supervised, the L1 "
        "distance between its output for a t2w slice and that slice's real t2f, on the "
        "complete research-3t cases of the same training cohort (pairs the unpaired recipe "
        "never sees), with the recipe's optimiser and batch and the style fixed at zero "
        "(`recipes.ummgat_paired`)",
        UMMGAT_PAIRED,
        "t2w translated into t2f, scored as above:",
        ("steps", "seed", "slice pairs", *TRANSLATION_COLUMNS),
    )
    by_steps: dict[int, list[dict[str, Any]]] = {}
    for run in sweep["runs"]:
        result = run["result"]
        lines.append(
            f"| {run['steps']} | {run['seed']} | {result['pairs']} "
            f"| {translation_cells(result)} | {cost(result)} |"
        )
        by_steps.setdefault(run["steps"], []).append(result)
    lines.append("")
    unpaired = list(document["runs"].get("ummgat", {}).values())
    for steps, results in sorted(by_steps.items()):
        line = f"- {steps} steps: with pairs the generator beats copy-matched {wins(results)}"
        if steps == recipes.UMMGAT_STEPS and unpaired:
            line += f"; the unpaired recipe (the quality runs above) beats it {wins(unpaired)}"
        lines.append(line + ".")
    return lines


def reported(family: str, result: dict[str, Any]) -> str:
    if family == "unet3d_1mm":
        return "; ".join(
            f"{grid}: " + ", ".join(f"{r} {v:.3f}" for r, v in result["dice"][grid].items())
            for grid in ("half", "full")
        )
    if family == "unet3d":
        return ", ".join(f"{r} {v:.3f}" for r, v in result["dice"].items())
    if family == "segmenter2d":
        return ", ".join(f"{r} {v:.3f}" for r, v in result["slice_dice"].items())
    if family == "hfgan":
        parts = []
        for target, row in result["scores"].items():
            parts.append(
                f"{target}: SSIM {row['ssim_gen']:.3f} vs {row['ssim_copy']:.3f}, "
                f"MAE {row['mae_gen']:.4f} vs {row['mae_copy']:.4f}"
            )
        return "; ".join(parts)
    gen, copy = result["scores"]["gen"], result["scores"]["copy"]
    return (
        f"SSIM {gen['ssim']:.3f} vs {copy['ssim']:.3f}, "
        f"MAE {gen['mae']:.4f} vs {copy['mae']:.4f} (model vs copy-matched)"
    )


def cost(result: dict[str, Any]) -> str:
    c = result["cost"]
    cpu = (c["cpu_seconds_this_process"] + c["cpu_seconds_children_total"]) / 60
    before, after = c["load_average_before"][0], c["load_average_after"][0]
    return f"{c['wall_seconds'] / 60:.1f} | {cpu:.1f} | {before:.1f} / {after:.1f}"


def save(document: dict[str, Any]) -> None:
    derive(document)
    recipes.RESULTS.parent.mkdir(parents=True, exist_ok=True)
    recipes.RESULTS.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    PAGE.write_text(render(document))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder for cohorts and runs")
    parser.add_argument("--only", nargs="*", choices=FAMILIES, default=list(FAMILIES))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--broken", action="store_true", help="also lr x 0 with seed 0")
    parser.add_argument("--no-seeds", action="store_true", help="only the broken runs")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--render", action="store_true", help="only rewrite the page")
    args = parser.parse_args()
    if args.render:
        save(load())
        return
    if args.work is None:
        parser.error("--work is needed to measure")
    jobs = [] if args.no_seeds else [(f, s, 1.0) for f in args.only for s in args.seeds]
    if args.broken:
        jobs += [(f, 0, 0.0) for f in args.only if f != "ummgat_nolam"]
    # Runs already recorded are not repeated (delete their files under runs/ to redo them).
    jobs = [(f, s, k) for f, s, k in jobs if not (RUNS / f"{f}-seed{s}-lr{k:g}.json").is_file()]
    machine = (
        f"{provenance.machine()} shared with other jobs, {args.jobs} runs side by side, one "
        "torch thread each"
    )
    with process_pool(args.jobs, start_method="spawn") as pool:
        futures = {pool.submit(run_one, f, s, k, str(args.work)): (f, s, k) for f, s, k in jobs}
        for future in as_completed(futures):
            family, seed, scale = futures[future]
            result = future.result()
            record(family, seed, scale, result, machine)
            save(load())
            print(f"{family} seed {seed} lr x{scale:g}: {json.dumps(result)}", flush=True)


if __name__ == "__main__":
    main()

"""Render docs/benchmarks.md, the headline figures, from the benchmarks' own JSON files.

Every row of the page is read from the JSON its benchmark wrote (``nox -s bench -- NAME``, see
noxfile.py), with that run's command, date and load; nothing on the page is typed by hand, so a
re-measured benchmark changes its row at the next render. Topic pages hold the full tables;
this page picks one line from each.

    python docs/figures/benchmarks_page.py          # rewrite docs/benchmarks.md
    python docs/figures/benchmarks_page.py --check  # exit 1 if the page is not the render
"""

from __future__ import annotations

import argparse
import json
import runpy
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mri_io.atomic import atomic_write_text

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
PAGE = DOCS / "benchmarks.md"

Row = tuple[str, str, str, str, str]


def read(relative: str) -> dict[str, Any]:
    """A JSON file under docs/."""
    loaded: dict[str, Any] = json.loads((DOCS / relative).read_text())
    return loaded


def load_text(document: dict[str, Any]) -> str:
    """``load a / b``: the 1-minute load average before and after a run."""
    before, after = document["load_average_before"][0], document["load_average_after"][0]
    return f"load {before:.1f} / {after:.1f}"


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def read_normalise_slice() -> Row:
    data = read("mri-io/read-normalise-slice.json")
    ours, peer = data["seconds"]["mri-io"], data["seconds"]["nibabel+numpy"]
    return (
        "read + z-score + axial slicing, one 4-sequence 240x240x155 case",
        f"{min(ours):.2f} s fastest, {median(ours):.2f} s median ({len(ours)} repeats)",
        f"nibabel + numpy {min(peer):.2f} s fastest, {median(peer):.2f} s median",
        f"`nox -s bench -- read-normalise-slice` → "
        f"[read-normalise-slice.json](mri-io/read-normalise-slice.json) ({data['date']}, "
        f"{load_text(data)})",
        "[normalisation and slicing](mri-io/normalisation-and-slicing.md)",
    )


def synthetic_case() -> Row:
    data = read("mri-io/synthetic-speed.json")
    cases = {row["anatomy"]: row for row in data["full_case"]}
    names = {"procedural": "procedural", "mni": "MNI152"}
    return (
        "synthetic full-size 4-sequence case, one core, after the first case",
        ", ".join(
            f"{row['steady_cpu_s_per_case']:.1f} CPU s ({names[anatomy]}, peak "
            f"{row['peak_rss_mib']:.0f} MiB)"
            for anatomy, row in cases.items()
        ),
        "goal < 5 s",
        f"`nox -s bench -- synthetic` → [synthetic-speed.json](mri-io/synthetic-speed.json) "
        f"({data['date']}, {load_text(data)})",
        "[synthetic cohort](mri-io/synthetic.md)",
    )


def metrics_speed() -> Row:
    data = read("mri-metrics/speed.json")
    # As the speed page counts: the peer's fastest round over ours, real peers only (not the
    # transcribed reimplementation of a script).
    factors = [
        min(row["peer_seconds"]) / min(row["ours_seconds"])
        for row in data["rows"]
        if row["kind"] == "peer"
    ]
    below = sum(factor < 10 for factor in factors)
    return (
        "mri-metrics against every peer at equal numbers (surface distances, SSIM, BraTS "
        "lesion-wise scoring), one thread each, alternating rounds",
        f"{min(factors):.1f}x to {max(factors):.0f}x faster than the peer (fastest rounds) in "
        f"{len(factors)} comparisons; {below} below the 10x goal",
        "MONAI, surface-distance, MedPy, scikit-image, torchmetrics, brats-evaluation "
        "(panoptica), the BraTS 2023 challenge's lesion-wise script",
        f"`nox -s bench -- metrics` → [speed.json](mri-metrics/speed.json) ({data['date']}, "
        f"{load_text(data)})",
        "[speed against peers](mri-metrics/speed.md)",
    )


def train_tiny() -> Row:
    data = read("mri-seg/train_tiny.json")
    dice = data["test_dice"]
    return (
        f"tiny 3D U-Net, synthetic cohort: test Dice after {data['steps']} steps (MONAI data "
        "pipeline with intensity and bias-field augmentation)",
        f"WT **{dice['WT']:.3f}** (TC {dice['TC']:.3f}, ET {dice['ET']:.3f}); training "
        f"{data['train_minutes']:.1f} wall min, {data['train_cpu_minutes']:.2f} CPU min in the "
        "main process",
        "goal WT ≥ 0.8 in minutes",
        f"`nox -s bench -- train-tiny --work DIR` → [train_tiny.json](mri-seg/train_tiny.json) "
        f"({data['date']}, {load_text(data)})",
        "[mri-seg](mri-seg/index.md)",
    )


def cross_recipe() -> Row:
    data = read("mri-seg/cross-recipe.json")
    bench = runpy.run_path(str(ROOT / "packages" / "mri-seg" / "benchmarks" / "cross_recipe.py"))
    setting: Callable[[dict[str, Any]], tuple[float, float, int, int, bool]] = bench["setting"]
    gap: Callable[[dict[str, Any]], float] = bench["gap"]
    matched_gap: Callable[..., float | None] = bench["matched_gap"]
    target: float = bench["TARGET_GAP"]
    runs = data["runs"]
    parts = []
    for chosen in sorted({setting(r) for r in runs}):
        lr, affine, steps, cases, varied = chosen
        at = [r for r in runs if setting(r) == chosen]
        own = [gap(r) for r in at]
        same = [g for g in (matched_gap(r, runs) for r in at) if g is not None]
        paired = (
            f"{sum(g >= -target for g in same)} of {len(same)} (worst {min(same):+.3f})"
            if same
            else "no pairs"
        )
        parts.append(
            f"lr {lr:g}, affine {affine:g}, {steps} steps, {cases} cases"
            f"{', varied grey' if varied else ''}: "
            f"{sum(g >= -target for g in own)} of {len(own)} (worst {min(own):+.3f}) / {paired}"
        )
    dates = sorted({r["date"] for r in runs})
    seeds = " ".join(str(s) for s in sorted({r["seed"] for r in runs}))
    return (
        "tiny 3D U-Net trained on one anatomy of the synthetic cohort, scored on the other: "
        "runs whose cross-recipe WT Dice is within 0.1 of the same-recipe one, against the "
        "model's own cases / on the same cases",
        "; ".join(parts),
        f"goal: within {target}",
        f"`nox -s bench -- cross-recipe --work DIR --seeds {seeds}` (seeds and options per "
        f"setting on the page) → [cross-recipe.json](mri-seg/cross-recipe.json) ({dates[0]} to "
        f"{dates[-1]})",
        "[cross-recipe transfer](mri-seg/cross-recipe.md)",
    )


def inference() -> Row:
    data = read("mri-seg/inference-speed.json")
    return (
        "U-Net sliding-window inference, 240x240x155, overlap 0.5 (untrained weights)",
        ", ".join(
            f"{r['preset']} {r['seconds_per_case']:.1f} s ({r['device']}, "
            f"{r['torch_threads']} thread{'s' if r['torch_threads'] > 1 else ''})"
            for r in data["results"]
        ),
        "",
        f"`nox -s bench -- inference` → [inference-speed.json](mri-seg/inference-speed.json) "
        f"({data['date']}, {load_text(data)})",
        "[mri-seg](mri-seg/index.md)",
    )


def quality_rows() -> list[Row]:
    data = read("quality/results.json")
    hfgan = data["runs"]["hfgan"]
    cells = []
    for target in ("t2w", "t2f", "mean4"):
        ssim = ", ".join(f"{hfgan[s]['scores'][target]['ssim_gen']:.3f}" for s in sorted(hfgan))
        copy = ", ".join(f"{hfgan[s]['scores'][target]['ssim_copy']:.3f}" for s in sorted(hfgan))
        cells.append(f"{target}: {ssim} (copy-matched {copy})")
    steps = hfgan[sorted(hfgan)[0]]["steps"]
    hfgan_row: Row = (
        f"HF-GAN tiny, {steps} steps on one thread, 4 mm synthetic cases, seeds "
        f"{', '.join(sorted(hfgan))}: foreground SSIM on the [0, 1] scale",
        "; ".join(cells),
        "`copy-matched` (the sign-aware, histogram-matched copy)",
        "`nox -s bench -- quality` → [results.json](quality/results.json) (load on the page)",
        "[quality tests](quality/index.md), [HF-GAN](mri-gen/hfgan.md)",
    )
    um, nolam = data["runs"]["ummgat"], data["runs"].get("ummgat_nolam", {})

    def pairs(runs: dict[str, Any], who: str) -> str:
        return ", ".join(
            f"{runs[s]['scores'][who]['ssim']:.3f} / {runs[s]['scores'][who]['mae']:.3f}"
            for s in sorted(runs)
        )

    beaten = all(
        um[s]["scores"]["gen"]["ssim"] > um[s]["scores"]["copy"]["ssim"]
        and um[s]["scores"]["gen"]["mae"] < um[s]["scores"]["copy"]["mae"]
        for s in um
    )
    ummgat_row: Row = (
        f"UMMGAT tiny, short recipe, {um[sorted(um)[0]]['steps']} unpaired steps on one "
        f"thread, t2w → t2f, 4 mm synthetic cases, seeds {', '.join(sorted(um))}: foreground "
        "SSIM / brain MAE on the [0, 1] scale",
        pairs(um, "gen") + (f" (without the LAM {pairs(nolam, 'gen')})" if nolam else ""),
        f"`copy-matched` {pairs(um, 'copy')}: " + ("beaten" if beaten else "**not beaten**"),
        "`nox -s bench -- quality` → [results.json](quality/results.json) (load on the page)",
        "[quality tests](quality/index.md), [UMMGAT](mri-gen/ummgat.md)",
    )
    return [hfgan_row, ummgat_row]


def gpu() -> Row:
    data = read("gpu.json")
    parts = data["parts"]
    bf16 = [r for r in parts["hfgan_synthesis"] if r.get("bf16")]
    step = [r for r in parts["hfgan_training"] if r["mode"] == "bf16"]
    unet = parts["unet_inference"]
    cells = []
    if bf16:
        cells.append(
            f"HF-GAN paper preset synthesis {bf16[0]['seconds_per_volume_median']:.2f} s per "
            "240x240x155 volume in bf16"
        )
    if step:
        cells.append(
            f"training step {step[0]['seconds_median']:.2f} s (batch {step[0]['batch_size']}, bf16)"
        )
    if unet:
        cells.append(f"U-Net `brats` inference {unet[0]['seconds_per_case']:.2f} s per case")
    met = bool(bf16) and bf16[0]["seconds_per_volume_median"] < 0.5
    return (
        f"GPU ({data['machine']['device']}): HF-GAN paper preset, U-Net `brats`, torch "
        "metrics on batches",
        "; ".join(cells),
        "goal: synthesis < 0.5 s in bf16 " + ("(met)" if met else "(**not met**)"),
        f"`nox -s bench -- gpu --out docs/gpu.json` → [gpu.json](gpu.json) ({data['date'][:10]})",
        "[GPU figures](gpu.md)",
    )


def fresh_clone() -> Row:
    data = read("mri-bench/fresh-clone-demo.json")
    minutes = ", ".join(f"{r['wall_seconds'] / 60:.1f}" for r in data["runs"])
    loads = ", ".join(
        f"{r['load_average_before'][0]:.1f} / {r['load_average_after'][0]:.1f}"
        for r in data["runs"]
    )
    same = "identical" if data["same_numbers"] else "**different**"
    return (
        f"main job, README line 1 (`{data['readme_line_1']}`) on a fresh clone, installs included",
        f"{minutes} min; {same} numbers and weights in every run",
        "goal < 20 min",
        f"`nox -s bench -- fresh-clone-demo --work DIR --runs {len(data['runs'])}` → "
        f"[fresh-clone-demo.json](mri-bench/fresh-clone-demo.json) ({data['date']}, load "
        f"{loads})",
        "[demo design](mri-bench/demo-design.md)",
    )


def machines() -> list[str]:
    """The machines the CPU rows' JSON files record (the GPU row names its own device)."""
    found = []
    for relative in (
        "mri-io/read-normalise-slice.json",
        "mri-io/synthetic-speed.json",
        "mri-metrics/speed.json",
        "mri-seg/train_tiny.json",
        "mri-seg/inference-speed.json",
        "mri-seg/cross-recipe.json",
        "mri-bench/fresh-clone-demo.json",
    ):
        machine = str(read(relative)["machine"])
        if machine not in found:
            found.append(machine)
    return found


def render() -> str:
    rows = [
        read_normalise_slice(),
        synthetic_case(),
        metrics_speed(),
        train_tiny(),
        cross_recipe(),
        inference(),
        *quality_rows(),
        gpu(),
        fresh_clone(),
    ]
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by docs/figures/benchmarks_page.py from the benchmarks' JSON files: "
        "do not edit. -->",
        "",
        "Headline figures, each read from the JSON its benchmark wrote, with the command, the "
        "date and the load average (other work on the same cores) before / after the run. "
        "Numbers are reported as measured, also when they disappoint; the topic pages hold "
        "the full tables. `nox -s bench -- NAME` installs what a benchmark needs and runs it "
        "on one torch thread.",
        "",
        "The CPU rows' JSON files record these machines: "
        + "; ".join(f"`{m}`" for m in machines())
        + ". The GPU figures are on their own page: [GPU figures](gpu.md).",
        "",
        "| what | ours | peer(s) / goal | command, JSON, date, load | details |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if PAGE.read_text() != text:
            sys.exit(f"{PAGE} is not the render of its JSON files: run {__file__}")
        return
    atomic_write_text(PAGE, text)


if __name__ == "__main__":
    main()

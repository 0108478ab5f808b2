"""The main job end to end: synthetic cohort -> scenarios -> completion (copy and a trained
HF-GAN) -> fixed segmenter -> metrics -> statistics -> report.

The CPU test uses tiny networks trained for a few steps on a coarse grid, so it proves the glue,
not the science; the GPU test runs the papers' network sizes on a finer grid (``nox -s gpu``).
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest

from mri_bench.cli import main
from mri_bench.scenarios import subset_scenarios

STRATEGIES = {"copy", "copy-matched", "hfgan"}


def check_demo(out: Path, n_test: int) -> dict[str, float]:
    bench = out
    report = (bench / "report.md").read_text()
    table = report.split("## Main table: dice")[1].split("## Findings")[0]
    for scenario in subset_scenarios():
        assert f"| {scenario.name} |" in table
    header = table.strip().splitlines()[0]
    for strategy in STRATEGIES:
        assert f"WT {strategy} |" in header
    findings = report.split("## Findings")[1].split("\n## ")[0]
    assert "Wilcoxon tests on dice" in findings
    with (bench / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["strategy"] for r in rows} == STRATEGIES
    assert len({r["case_id"] for r in rows}) == n_test
    dice = [float(r["value"]) for r in rows if r["metric"] == "dice"]
    assert dice
    assert all(0.0 <= d <= 1.0 for d in dice)
    synthesised = {r["target"] for r in rows if r["strategy"] == "hfgan" and r["metric"] == "ssim"}
    assert synthesised == {"t1n", "t1c", "t2w", "t2f"}
    for figure in ("paired.png", "ranks.png", "slices.png"):
        assert (bench / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (bench / "report.html").is_file()
    timings: dict[str, float] = json.loads((out / "timings.json").read_text())["seconds"]
    return timings


def test_demo_on_cpu_with_tiny_networks(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    argv = [
        "demo", "--out", str(out), "--train-cases", "4", "--test-cases", "2",
        "--voxel-mm", "8", "--anatomy", "procedural", "--segmenter-epochs", "2",
        "--segmenter-steps", "2", "--generator-steps", "2",
    ]  # fmt: skip
    assert main(argv) == 0
    timings = check_demo(out, n_test=2)
    # The demo's generator recipe: every input subset, the target's channel marked, L1 and
    # SSIM over the whole brain only (no discriminator, no second pass).
    run = json.loads((out / "generator" / "run.json").read_text())
    assert run["train"]["inputs"] == "subsets"
    weights = run["train"]["weights"]
    assert weights["l1"] > 0
    assert weights["ssim"] > 0
    assert weights["ssim_regions"] == "whole"
    assert weights["adv"] == weights["cls"] == weights["cycle"] == weights["feat"] == 0
    assert run["model"]["generator"]["target_fill"] == -3
    assert set(timings) == {
        "synthetic cohort", "train segmenter", "train generator", "benchmark baselines",
        "benchmark generator", "report",
    }  # fmt: skip
    # A second call finds every stage done and only rewrites the report.
    started = time.monotonic()
    assert main(argv) == 0
    assert time.monotonic() - started < sum(timings.values())


@pytest.mark.gpu
def test_demo_on_gpu_with_paper_networks(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    out = tmp_path / "demo"
    argv = [
        "demo", "--out", str(out), "--device", "cuda", "--presets", "paper",
        "--voxel-mm", "2", "--train-cases", "12", "--test-cases", "8",
        "--segmenter-epochs", "40", "--generator-steps", "2000",
    ]  # fmt: skip
    assert main(argv) == 0
    timings = check_demo(out, n_test=8)
    print(json.dumps(timings))


def test_demo_in_one_process_gives_the_results_of_two(tmp_path: Path) -> None:
    """``--workers 1`` runs the demo's trainings one after the other in this process, with no
    worker pool anywhere; every number of its results equals the default two-process run's
    (the same seeds, one torch thread in each process)."""
    base = [
        "demo", "--train-cases", "3", "--test-cases", "2", "--voxel-mm", "12",
        "--anatomy", "procedural", "--segmenter-epochs", "1", "--segmenter-steps", "2",
        "--generator-steps", "2", "--device", "cpu",
    ]  # fmt: skip
    results = {}
    for workers in (1, 2):
        out = tmp_path / f"workers-{workers}"
        assert main([*base, "--out", str(out), "--workers", str(workers)]) == 0
        with (out / "results.csv").open() as handle:
            results[workers] = sorted(tuple(row.items()) for row in csv.DictReader(handle))
        recorded = json.loads((out / "timings.json").read_text())
        assert recorded["settings"]["workers"] == workers
    assert results[1]
    assert results[1] == results[2]

"""Reports: the paper-style table, findings with p-values, exports, figures."""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from mri_bench.report import write_report
from mri_bench.scenarios import subset_scenarios
from mri_bench.store import STORE_NAME, ResultStore, Row, StoreError, TaskResult
from mri_metrics import get_profile

CASES = [f"case-{i}" for i in range(8)]
STRATEGIES = ("copy", "copy-matched", "gen")
FEW = ("missing t1n", "missing t2f", "complete")


def fill_run(
    folder: Path,
    *,
    empty_copies: int = 0,
    healthy: int = 0,
    profile: str = "mri-suite",
    only: tuple[str, ...] = (),
    voxels: bool = True,
) -> None:
    """A run whose generator beats copying on WT Dice only when t2f is missing, scored under
    ``profile`` with the voxel counts of every mask. With ``empty_copies``, that many cases of
    ``copy`` under "missing t1n" are empty segmentations: Dice 0 and the profile's HD95 of one
    empty mask (every other result has an HD95 of 2 mm). ``healthy`` adds cases without a
    tumour, which ``copy`` gives a false positive on the first two of them. ``only``: these
    scenarios, not all 15 (fewer figures to draw). Without ``voxels``: a store written before
    the voxel counts were."""
    scenarios = [s for s in subset_scenarios() if not only or s.name in only]
    policy = get_profile(profile).empty
    rng = np.random.default_rng(0)
    folder.mkdir()
    config = {
        "name": "unit",
        "profile": profile,
        "scenarios": [s.to_json() for s in scenarios],
        "strategies": [{"name": s, "kind": "copy"} for s in STRATEGIES],
        "comparisons": [["gen", "copy"], ["gen", "copy-matched"]],
        "panel_case": "",
    }
    (folder / "config.json").write_text(json.dumps(config))

    def add(store: ResultStore, case: str, scenario: str, strategy: str, **values: float) -> None:
        if not voxels:
            values = {k: v for k, v in values.items() if not k.endswith("_voxels")}
        rows = tuple(
            Row(case, "c", scenario, strategy, "", region, metric, value, 0, "p")
            for region in ("WT", "TC", "ET")
            for metric, value in values.items()
        )
        store.add(TaskResult(case, scenario, strategy, (), 0.0, rows))

    with ResultStore(folder / STORE_NAME) as store:
        for scenario in scenarios:
            for case in CASES:
                base = rng.uniform(0.6, 0.8)
                for strategy in STRATEGIES:
                    gain = 0.05 + 0.01 * CASES.index(case)
                    better = strategy == "gen" and scenario.name == "missing t2f"
                    empty = (
                        strategy == "copy"
                        and scenario.name == "missing t1n"
                        and CASES.index(case) < empty_copies
                    )
                    dice = 0.0 if empty else base + (gain if better else 0.0)
                    distance = {"hd95": policy.hd95_one if empty else 2.0} if empty_copies else {}
                    predicted = 0.0 if empty else 900.0
                    add(
                        store,
                        case,
                        scenario.name,
                        strategy,
                        dice=dice,
                        **distance,
                        predicted_voxels=predicted,
                        reference_voxels=1000.0,
                    )
            for index in range(healthy):
                for strategy in STRATEGIES:
                    found = strategy == "copy" and index < 2
                    distance = {"hd95": policy.hd95_one if found else 0.0} if empty_copies else {}
                    add(
                        store,
                        f"healthy-{index}",
                        scenario.name,
                        strategy,
                        dice=0.0 if found else 1.0,
                        **distance,
                        predicted_voxels=40.0 if found else 0.0,
                        reference_voxels=0.0,
                    )


def test_report_table_findings_and_exports(tmp_path: Path) -> None:
    run = tmp_path / "run"
    fill_run(run)
    report = write_report(run).read_text()
    table = report.split("## Main table: dice")[1].split("## Findings")[0]
    for scenario in subset_scenarios():
        assert f"| {scenario.name} |" in table
    header = table.strip().splitlines()[0]
    assert header.count("| WT gen") == 1
    assert header.count("copy-matched") == 3
    # 8 of 8 cases better: exact two-sided Wilcoxon p = 2 / 2**8 = 0.0078125 -> "+**"
    assert "+**" in table.split("| missing t2f |")[1].splitlines()[0]
    assert "+*" not in table.split("| missing t1n |")[1].splitlines()[0]
    findings = report.split("## Findings")[1].split("##")[0]
    assert "missing t2f, WT: `gen` beats `copy` on dice" in findings
    assert "Wilcoxon p = 0.00781" in findings
    assert "6 of 90 Wilcoxon tests" in findings  # 15 scenarios x 3 regions x 2 baselines
    assert "Friedman across strategies" in report
    html = (run / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "missing t2f" in html
    with (run / "results.csv").open() as handle:
        assert (
            len(list(csv.DictReader(handle))) == 15 * 8 * 3 * 3 * 3
        )  # (dice, two voxel counts) x 3 regions
    summary = json.loads((run / "summary.json").read_text())
    tests = [t for t in summary["dice"]["wilcoxon"] if t["p_value"] < 0.05]
    assert {(t["scenario"], t["baseline"]) for t in tests} == {
        ("missing t2f", "copy"),
        ("missing t2f", "copy-matched"),
    }
    for figure in ("paired.png", "ranks.png"):
        assert (run / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_of_a_folder_without_results_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no config\.json"):
        write_report(tmp_path)


def _row(table: str, scenario: str) -> str:
    return table.split(f"| {scenario} |")[1].splitlines()[0]


def test_empty_segmentations_score_the_profile_penalty_not_a_perfect_hd95(tmp_path: Path) -> None:
    run = tmp_path / "run"
    fill_run(run, empty_copies=6, only=FEW)
    report = write_report(run).read_text()
    table = report.split("## hd95 (lower is better)")[1].split("##")[0]
    # copy: 2 values of 2 mm and 6 empty segmentations, in each of the three regions; the
    # mri-suite profile leaves their HD95 undefined and names BraTS 2023's 374 mm penalty.
    assert _row(table, "missing t1n").count("374.0 (281.0–374.0) [6 empty → 374]") == 3
    assert "2.000 (2.000–2.000)" in _row(table, "missing t1n")  # the other strategies
    assert "empty" not in _row(table, "missing t2f")
    assert "leaves an HD95 with one empty mask (prediction or reference) undefined" in report
    summary = json.loads((run / "summary.json").read_text())
    assert summary["hd95"]["penalty"] == 374.0

    def cells(kind: str) -> list[tuple[int, int, int, float]]:
        return [
            (c["n"], c["undefined"], c["penalised"], c["median"])
            for c in summary["hd95"][kind]
            if c["scenario"] == "missing t1n" and c["strategy"] == "copy"
        ]

    assert cells("summaries") == [(8, 0, 6, 374.0)] * 3
    assert cells("summaries_undefined_dropped") == [(2, 6, 0, 2.0)] * 3
    # The penalty enters the paired tests too: copy is worse than gen on every empty case.
    test = next(
        t
        for t in summary["hd95"]["wilcoxon"]
        if (t["scenario"], t["region"], t["baseline"]) == ("missing t1n", "WT", "copy")
    )
    assert (test["n"], test["median_difference"]) == (8, -372.0)


def test_a_total_failure_never_reads_as_a_perfect_hd95(tmp_path: Path) -> None:
    run = tmp_path / "run"
    fill_run(run, empty_copies=8, healthy=3, only=FEW)
    report = write_report(run).read_text()
    row = _row(report.split("## hd95 (lower is better)")[1].split("##")[0], "missing t1n")
    assert row.count("374.0 (374.0–374.0) [8 empty → 374]") == 3


@pytest.mark.parametrize(("profile", "penalty"), [("brats2023-gli", 374), ("monai", None)])
def test_a_profile_with_its_own_penalty_or_none(
    tmp_path: Path, profile: str, penalty: int | None
) -> None:
    run = tmp_path / "run"
    fill_run(run, empty_copies=6, profile=profile, only=FEW)
    report = write_report(run).read_text()
    row = _row(report.split("## hd95 (lower is better)")[1].split("##")[0], "missing t1n")
    if penalty is None:
        # MONAI's HD95 of two empty masks is undefined too: nothing is substituted.
        assert row.count("2.000 (2.000–2.000) [6 undef.]") == 3
        assert "empty →" not in report
    else:
        assert row.count(f"{penalty}.0 (281.0–{penalty}.0) [6 empty → {penalty}]") == 3
        assert f"profile `{profile}` scores an HD95 with one empty mask" in report


def test_healthy_cases_are_counted_as_false_positives_not_in_the_medians(
    tmp_path: Path,
) -> None:
    fill_run(tmp_path / "tumours", only=FEW)
    fill_run(tmp_path / "mixed", healthy=3, only=FEW)
    alone = write_report(tmp_path / "tumours").read_text()
    mixed = write_report(tmp_path / "mixed").read_text()

    def main(report: str) -> str:
        return re.split("## (?:Healthy cases|Figures)", report.split("## Main table")[1])[0]

    # Healthy cases score Dice 1 unless a false positive makes it 0: left in, they would move
    # every median; the tables and tests are the tumour cases' alone.
    assert main(mixed) == main(alone)
    assert "11 cases, 8 with a tumour and 3 healthy (centres: c)" in mixed
    assert "## Healthy cases" not in alone
    healthy = mixed.split("## Healthy cases: false positives")[1].split("##")[0]
    assert "| scenario | copy | copy-matched | gen |" in healthy
    assert _row(healthy, "missing t2f") == " 2/3 (67%) | 0/3 (0%) | 0/3 (0%) |"
    summary = json.loads((tmp_path / "mixed" / "summary.json").read_text())
    assert summary["healthy_cases"] == ["healthy-0", "healthy-1", "healthy-2"]
    assert {"scenario": "complete", "strategy": "copy", "with_prediction": 2, "cases": 3} in (
        summary["false_positives"]
    )
    assert {c["n"] for c in summary["dice"]["summaries"]} == {8}


def test_a_store_without_voxel_counts_says_it_cannot_tell_healthy_cases(tmp_path: Path) -> None:
    run = tmp_path / "run"
    fill_run(run, healthy=3, only=FEW, voxels=False)
    report = write_report(run).read_text()
    assert "The store holds no voxel counts" in report
    assert "## Healthy cases" not in report
    summary = json.loads((run / "summary.json").read_text())
    assert summary["healthy_cases"] is None
    assert {c["n"] for c in summary["dice"]["summaries"]} == {11}


def test_html_report_is_one_file_with_its_figures_inside(tmp_path: Path) -> None:
    run = tmp_path / "run"
    fill_run(run, only=FEW)
    write_report(run)
    page = (run / "report.html").read_text()
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    for figure in ("paired.png", "ranks.png"):
        embedded = base64.b64encode((run / figure).read_bytes()).decode("ascii")
        assert embedded in page
    assert "](paired.png)" in (run / "report.md").read_text()

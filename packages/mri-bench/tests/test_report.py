"""Reports: the paper-style table, findings with p-values, exports, figures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from mri_bench.report import write_report
from mri_bench.scenarios import subset_scenarios
from mri_bench.store import STORE_NAME, ResultStore, Row, StoreError, TaskResult

CASES = [f"case-{i}" for i in range(8)]
STRATEGIES = ("copy", "copy-matched", "gen")


def fill_run(folder: Path, *, empty_copies: int = 0) -> None:
    """A run whose generator beats copying on WT Dice only when t2f is missing. With
    ``empty_copies``, that many cases of ``copy`` under "missing t1n" are empty segmentations:
    Dice 0 and an undefined HD95 (every other result has an HD95 of 2 mm)."""
    scenarios = subset_scenarios()
    rng = np.random.default_rng(0)
    folder.mkdir()
    config = {
        "name": "unit",
        "profile": "mri-suite",
        "scenarios": [s.to_json() for s in scenarios],
        "strategies": [{"name": s, "kind": "copy"} for s in STRATEGIES],
        "comparisons": [["gen", "copy"], ["gen", "copy-matched"]],
        "panel_case": "",
    }
    (folder / "config.json").write_text(json.dumps(config))
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
                    values = {"dice": dice} | (
                        {"hd95": np.nan if empty else 2.0} if empty_copies else {}
                    )
                    rows = tuple(
                        Row(case, "c", scenario.name, strategy, "", region, metric, value, 0, "p")
                        for region in ("WT", "TC", "ET")
                        for metric, value in values.items()
                    )
                    store.add(TaskResult(case, scenario.name, strategy, (), 0.0, rows))


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
        assert len(list(csv.DictReader(handle))) == 15 * 8 * 3 * 3
    summary = json.loads((run / "summary.json").read_text())
    tests = [t for t in summary["dice"]["wilcoxon"] if t["p_value"] < 0.05]
    assert {(t["scenario"], t["baseline"]) for t in tests} == {
        ("missing t2f", "copy"),
        ("missing t2f", "copy-matched"),
    }
    assert (run / "boxplot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_of_a_folder_without_results_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no config\.json"):
        write_report(tmp_path)


def test_undefined_values_are_counted_in_their_cell_not_dropped_silently(tmp_path: Path) -> None:
    run = tmp_path / "run"
    fill_run(run, empty_copies=6)
    report = write_report(run).read_text()
    table = report.split("## hd95 (lower is better)")[1].split("##")[0]
    row = table.split("| missing t1n |")[1].splitlines()[0]
    # copy: 2 defined values of 2 mm and 6 empty segmentations, in each of the three regions.
    assert row.count("2.000 (2.000–2.000) [6 undef.]") == 3
    assert "undef." not in table.split("| missing t2f |")[1].splitlines()[0]
    assert "`[k undef.]` counts the cases left out" in report
    summary = json.loads((run / "summary.json").read_text())
    cells = [
        cell
        for cell in summary["hd95"]["summaries"]
        if cell["scenario"] == "missing t1n" and cell["strategy"] == "copy"
    ]
    assert [(c["n"], c["undefined"]) for c in cells] == [(2, 6)] * 3

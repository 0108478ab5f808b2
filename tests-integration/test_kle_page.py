"""The KLE page's tables are rendered from the JSON beside it, not typed by hand: the grid
tables from kle.json and kle-800.json, the median table from the benchmark's summary.json."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from page_checks import assert_holds_only_the_render, blocks

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "packages" / "mri-seg" / "benchmarks" / "kle_robust.py"
DOCS = ROOT / "docs" / "mri-seg"
PAGE = DOCS / "kle.md"
SUMMARY = DOCS / "kle-benchmark" / "summary.json"


@pytest.fixture(scope="module")
def bench() -> SimpleNamespace:
    """The benchmark script's names, without running its main."""
    return SimpleNamespace(**runpy.run_path(str(SCRIPT)))


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SUMMARY.read_text())
    return loaded


@pytest.mark.parametrize("results", ["kle.json", "kle-800.json"])
def test_the_page_holds_each_table_of_the_render(bench: SimpleNamespace, results: str) -> None:
    tables = blocks(bench.render(json.loads((DOCS / results).read_text())))
    # The Dice grid and the robust U-Net's per-subset table.
    assert [table.splitlines()[0].split(" | ")[0] for table in tables] == [
        "| approach",
        "| kept sequences",
    ]
    page = PAGE.read_text()
    for table in tables:
        assert_holds_only_the_render(page, table)


def test_the_page_holds_the_median_table(bench: SimpleNamespace, summary: dict[str, Any]) -> None:
    table = bench.median_table(summary)
    assert len(table) == 2 + 15  # header, rule, one row per subset scenario
    assert_holds_only_the_render(PAGE.read_text(), "\n".join(table))


def test_the_median_table_carries_the_reports_wt_cells(
    bench: SimpleNamespace, summary: dict[str, Any]
) -> None:
    """Each cell is the report's WT cell without its IQR: the same median and the same mark,
    although the mark's direction comes from the median difference, not the rank balance."""
    report = (DOCS / "kle-benchmark" / "report.md").read_text()
    main = report.split("## Main table: dice\n\n")[1].split("\n\n")[0].splitlines()
    header, rows = main[0].strip("| ").split(" | "), main[2:]
    table = bench.median_table(summary)
    strategies = table[0].strip("| ").split(" | ")[1:]
    columns = [header.index(f"WT {strategy}") for strategy in strategies]
    assert len(rows) == len(table) - 2
    for ours, theirs in zip(table[2:], rows, strict=True):
        scenario, *cells = ours.strip("| ").split(" | ")
        full = theirs.strip("| ").split(" | ")
        assert full[0] == scenario
        assert cells == [re.sub(r" \(.*?\)", "", full[c]) for c in columns]


def _summary(median_difference: float, cohens_d: float, p_value: float) -> dict[str, Any]:
    """One scenario, ``copy`` and ``gen``, with one Wilcoxon test of ``gen`` against ``copy``."""
    entries = [
        {"scenario": "missing t1n", "strategy": name, "region": "WT", "median": value}
        for name, value in (("copy", 0.5), ("gen", 0.25))
    ]
    test = {
        "scenario": "missing t1n",
        "region": "WT",
        "strategy": "gen",
        "baseline": "copy",
        "p_value": p_value,
        "median_difference": median_difference,
        "cohens_d": cohens_d,
    }
    return {"dice": {"lower_is_better": False, "summaries": entries, "wilcoxon": [test]}}


@pytest.mark.parametrize(
    ("median_difference", "cohens_d", "p_value", "cell"),
    [
        (-0.2, -1.0, 0.03, "0.250 -*"),
        (0.0, 0.8, 0.004, "0.250 +**"),  # most cases tied: the direction of Cohen's d
        (0.0, -0.8, 0.0005, "0.250 -***"),
        (-0.2, -1.0, 0.05, "0.250"),  # not below 0.05: no mark
    ],
)
def test_a_cell_is_marked_as_the_report_marks_it(
    bench: SimpleNamespace, median_difference: float, cohens_d: float, p_value: float, cell: str
) -> None:
    table = bench.median_table(_summary(median_difference, cohens_d, p_value))
    assert table == [
        "| scenario | copy | gen |",
        "|---|---|---|",
        f"| missing t1n | 0.500 | {cell} |",
    ]

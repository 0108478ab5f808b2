"""The main job end to end on a small synthetic cohort: cohort -> completion -> scores -> report."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mri_bench.cli import main
from mri_io.sequences import SEQUENCES


def test_demo_writes_report_table_and_figures(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--cases", "6", "--workers", "1"]) == 0

    report = (out / "report.md").read_text()
    for target in SEQUENCES:
        assert f"| missing {target} | brain |" in report
    for figure in ("boxplot.png", "slices.png"):
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    held_out = {row["case"] for row in rows}
    assert len(held_out) == 3
    brain_rows = [row for row in rows if row["region"] == "brain"]
    # every held-out case x 4 single-missing scenarios x 2 strategies, scored on the brain
    assert len(brain_rows) == 3 * 4 * 2
    assert {row["strategy"] for row in rows} == {"copy", "copy-matched"}
    for row in brain_rows:
        assert -1.0 <= float(row["ssim"]) <= 1.0
        assert 0.0 <= float(row["mae"]) <= 1.0


def test_demo_refuses_a_cohort_too_small_to_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--out", str(tmp_path), "--cases", "2"]) == 2
    assert capsys.readouterr().err.strip() == "mri-bench: error: --cases must be at least 4 (got 2)"

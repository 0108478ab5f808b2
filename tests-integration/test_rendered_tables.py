"""Tables that benchmark scripts render from their JSON appear in the docs exactly as rendered,
and the headline page is the render of the benchmarks' JSON it draws on: a re-measured
benchmark whose page was not re-rendered, or a number edited by hand, fails here."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
from page_checks import assert_holds_only_the_render

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: (benchmark script, its JSON under docs/, the page that holds its ``table``).
TABLES = [
    (
        "packages/mri-io/benchmarks/bench_read_normalise_slice.py",
        "mri-io/read-normalise-slice.json",
        "mri-io/normalisation-and-slicing.md",
    ),
    (
        "packages/mri-io/benchmarks/bench_synthetic.py",
        "mri-io/synthetic-speed.json",
        "mri-io/synthetic.md",
    ),
    (
        "packages/mri-seg/benchmarks/train_tiny.py",
        "mri-seg/train_tiny.json",
        "mri-seg/index.md",
    ),
    (
        "packages/mri-seg/benchmarks/bench_inference.py",
        "mri-seg/inference-speed.json",
        "mri-seg/index.md",
    ),
]


@pytest.mark.parametrize(("script", "record", "page"), TABLES)
def test_the_page_holds_the_render_of_the_recorded_run(script: str, record: str, page: str) -> None:
    table = runpy.run_path(str(ROOT / script))["table"]
    lines = table(json.loads((DOCS / record).read_text()))
    assert_holds_only_the_render((DOCS / page).read_text(), "\n".join(lines))


def test_the_headline_page_is_the_render_of_the_benchmarks_json() -> None:
    render = runpy.run_path(str(DOCS / "figures" / "benchmarks_page.py"))["render"]
    assert (DOCS / "benchmarks.md").read_text() == render()

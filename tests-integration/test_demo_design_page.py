"""The demo design page's tables are demo_design.py's render of demo-design.json, not typed by
hand: each of the render's tables appears whole in docs/mri-bench/demo-design.md."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from page_checks import assert_holds_only_the_render, blocks

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "packages" / "mri-bench" / "benchmarks" / "demo_design.py"
PAGE = ROOT / "docs" / "mri-bench" / "demo-design.md"


@pytest.fixture(scope="module")
def script() -> SimpleNamespace:
    """The measurement script's names, without running its main (whose ``--render`` also
    rewrites the JSON)."""
    return SimpleNamespace(**runpy.run_path(str(SCRIPT)))


@pytest.fixture(scope="module")
def tables(script: SimpleNamespace) -> list[str]:
    """The render's tables: the page puts prose between them, so each must appear whole."""
    document: dict[str, Any] = json.loads(script.RESULTS.read_text())
    return blocks(script.render(document))


def test_the_page_holds_each_table_of_the_render(
    script: SimpleNamespace, tables: list[str]
) -> None:
    assert script.RESULTS.with_suffix(".md") == PAGE
    # The designs, then every measured stage.
    assert [table.split(" (")[0] for table in tables] == ["| design", "| stage"]
    page = PAGE.read_text()
    for table in tables:
        assert_holds_only_the_render(page, table)

"""The GANet-Seg page's tables are ganet_measure.py's render of ganet_results.json, not typed
by hand: each of the render's tables appears whole in docs/mri-seg/ganet.md."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from page_checks import assert_holds_only_the_render, blocks

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "mri-seg" / "ganet_measure.py"
PAGE = ROOT / "docs" / "mri-seg" / "ganet.md"


@pytest.fixture(scope="module")
def measure() -> SimpleNamespace:
    """The measurement script's names, without running its main."""
    return SimpleNamespace(**runpy.run_path(str(SCRIPT)))


@pytest.fixture(scope="module")
def tables(measure: SimpleNamespace) -> list[str]:
    """The render's tables: the page puts prose between them, so each must appear whole."""
    assert measure.RESULTS.is_file()  # load() would render an empty document without it
    return blocks(measure.render(measure.load()))


def test_the_page_holds_each_table_of_the_render(tables: list[str]) -> None:
    # The scores per model and label count, and the discriminators' threshold table.
    assert [table.split(" | ")[0] for table in tables] == ["| model", "| GAN (seed)"]
    assert [len(table.splitlines()) for table in tables] == [2 + 11, 2 + 15]
    page = PAGE.read_text()
    for table in tables:
        assert_holds_only_the_render(page, table)

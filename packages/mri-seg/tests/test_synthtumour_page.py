"""The SynthTumour page's tables are the benchmark's render of the JSON files beside it."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "packages" / "mri-seg" / "benchmarks" / "synthtumour.py"
DOCS = ROOT / "docs" / "mri-seg"


@pytest.mark.parametrize(
    "results", ["synthtumour.json", "synthtumour-warm.json", "synthtumour-32.json"]
)
def test_the_page_holds_the_render_of_each_json(results: str) -> None:
    render = runpy.run_path(str(SCRIPT))["render"]
    document = json.loads((DOCS / results).read_text())
    tables = render(document).strip()
    assert tables.count("| junior |") == 2
    assert tables in (DOCS / "synthtumour.md").read_text()


def test_the_warm_run_differs_from_the_first_only_in_the_senior() -> None:
    first, warm = (
        json.loads((DOCS / name).read_text())["per_seed"]
        for name in ("synthtumour.json", "synthtumour-warm.json")
    )
    for seed in first:
        # The first measurement predates the setting: its seniors started from scratch.
        assert first[seed]["synthtumour_config"].get("senior_init", "scratch") == "scratch"
        assert warm[seed]["synthtumour_config"]["senior_init"] == "junior"
        for anatomy in ("procedural", "mni"):
            for model in ("junior", "unet (supervised)"):
                assert warm[seed][anatomy][model] == first[seed][anatomy][model]


def test_more_unlabelled_cases_leave_the_junior_and_the_mni_tests_unchanged() -> None:
    """Stage 1 reads no unlabelled case, so with 32 of them the junior is the same model and
    scores the same on the (unchanged) MNI152 test cases; only the senior and the supervised
    U-Net, which read them, differ."""
    first, more = (
        json.loads((DOCS / name).read_text())
        for name in ("synthtumour.json", "synthtumour-32.json")
    )
    assert (first["cases_per_seed"]["train"], more["cases_per_seed"]["train"]) == (8, 32)
    for seed in first["per_seed"]:
        before, after = first["per_seed"][seed]["mni"], more["per_seed"][seed]["mni"]
        assert after["junior"] == before["junior"]
        assert after["senior"] != before["senior"]

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
    "results",
    [
        "synthtumour.json",
        "synthtumour-warm.json",
        "synthtumour-32.json",
        "synthtumour-senior-800.json",
        "synthtumour-senior-1600.json",
        "synthtumour-senior-3200.json",
    ],
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


@pytest.mark.parametrize("steps", [800, 1600, 3200])
def test_a_longer_senior_changes_only_the_senior(steps: int) -> None:
    """The senior-steps runs repeat the 32-case run with only the senior's budget changed: the
    junior and the supervised U-Net are the same models, with the same scores."""
    base, longer = (
        json.loads((DOCS / name).read_text())["per_seed"]
        for name in ("synthtumour-32.json", f"synthtumour-senior-{steps}.json")
    )
    for seed, run in longer.items():
        config = run["synthtumour_config"]
        assert config["senior_epochs"] * config["steps_per_epoch"] == steps
        assert {k: v for k, v in config.items() if k != "senior_epochs"} == {
            k: v for k, v in base[seed]["synthtumour_config"].items() if k != "senior_epochs"
        }
        for anatomy in ("procedural", "mni"):
            for model in ("junior", "unet (supervised)"):
                assert run[anatomy][model] == base[seed][anatomy][model]


@pytest.mark.parametrize("steps", [1600, 3200])
def test_a_long_senior_reaches_its_junior_on_procedural_wt(steps: int) -> None:
    """What the page reports: with 1600 or 3200 senior steps the senior's mean WT Dice over
    three seeds is at least the junior's on the procedural test cases, and still below it on
    MNI152."""
    document = json.loads((DOCS / f"synthtumour-senior-{steps}.json").read_text())
    procedural, mni = document["summary"]["procedural"], document["summary"]["mni"]
    assert len(procedural["senior"]["WT"]["seeds"]) == 3
    assert procedural["senior"]["WT"]["mean"] >= procedural["junior"]["WT"]["mean"]
    assert mni["senior"]["WT"]["mean"] < mni["junior"]["WT"]["mean"]

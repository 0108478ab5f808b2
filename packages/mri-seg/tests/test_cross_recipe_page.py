"""The cross-recipe transfer page: rendered from its JSON, each run scored on the three test sets,
and the gap to the same recipe computed as the page states it."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "packages" / "mri-seg" / "benchmarks" / "cross_recipe.py"


@pytest.fixture(scope="module")
def bench() -> SimpleNamespace:
    """The benchmark script's names, without running its main."""
    return SimpleNamespace(**runpy.run_path(str(SCRIPT)))


@pytest.fixture(scope="module")
def document(bench: SimpleNamespace) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(bench.JSON_PATH.read_text())
    return loaded


def test_the_page_is_the_render_of_its_json(
    bench: SimpleNamespace, document: dict[str, Any]
) -> None:
    assert bench.JSON_PATH.with_suffix(".md").read_text() == bench.render(document)


def test_every_run_is_scored_on_the_three_test_sets(document: dict[str, Any]) -> None:
    runs = document["runs"]
    assert {r["trained_on"] for r in runs} == {"procedural", "mni"}
    for run in runs:
        assert set(run["scores"]) == {"same recipe", "other anatomy", "unseen centre"}
        for scores in run["scores"].values():
            assert len(scores["cases"]) == 8
            for region in ("WT", "TC", "ET"):
                per_case = [case[region] for case in scores["cases"].values()]
                assert scores["mean"][region] == pytest.approx(sum(per_case) / 8, abs=1e-4)


def _scored(wt: float) -> dict[str, Any]:
    return {"mean": {"WT": wt, "TC": 0.9, "ET": 0.8}, "cases": {}}


def _run(trained_on: str, same: float, other: float) -> dict[str, Any]:
    """A recorded run of seed 0 with the given WT Dice on its own and the other anatomy."""
    return {
        "trained_on": trained_on,
        "seed": 0,
        "steps": 400,
        "train_cpu_seconds": 1.0,
        "wall_seconds_both": 2.0,
        "date": "2026-01-01",
        "load_average_before": [0.1],
        "load_average_after": [0.2],
        "scores": {
            "same recipe": _scored(same),
            "other anatomy": _scored(other),
            "unseen centre": _scored(0.80),
        },
    }


def test_the_gap_is_cross_minus_same_recipe_wt(bench: SimpleNamespace) -> None:
    run = _run("mni", 0.85, 0.70)
    assert bench.gap(run) == pytest.approx(-0.15)
    faster = {
        **run,
        "learning_rate": 0.01,
        "scores": {**run["scores"], "other anatomy": _scored(0.8)},
    }
    rotated = {
        **faster,
        "affine_prob": 0.3,
        "scores": {**run["scores"], "other anatomy": _scored(0.76)},
    }
    longer = {
        **faster,
        "steps": 800,
        "scores": {**run["scores"], "other anatomy": _scored(0.72)},
    }
    wider = {
        **faster,
        "training_cases": 32,
        "scores": {**run["scores"], "other anatomy": _scored(0.78)},
    }
    varied = {
        **faster,
        "grey_variety": True,
        "scores": {**run["scores"], "other anatomy": _scored(0.79)},
    }
    runs = [run, faster, rotated, longer, wider, varied]
    page = bench.render({"commands": ["c"], "machine": "m", "runs": runs})
    # A run recorded without its rate, affine probability, number of training cases or grey
    # variety trained with the recipe's; each setting (rate, affine probability, steps, cases,
    # grey variety) is summed up alone.
    row = (
        "| MNI152 | {} | 0 | 400 | 16 | no | procedural (other anatomy) | {} | 0.900 | 0.800 | {} |"
    )
    assert row.format("0.003 | 0", "0.700", "-0.150") in page
    assert row.format("0.01 | 0", "0.800", "-0.050") in page
    assert row.format("0.01 | 0.3", "0.760", "-0.090") in page
    assert "| MNI152 | 0.01 | 0 | 0 | 800 | 16 | no | procedural (other anatomy) | 0.720 |" in page
    assert "| MNI152 | 0.01 | 0 | 0 | 400 | 32 | no | procedural (other anatomy) | 0.780 |" in page
    assert "| MNI152 | 0.01 | 0 | 0 | 400 | 16 | yes | procedural (other anatomy) | 0.790 |" in page
    summary = "- lr {}, {} steps, {} training cases: target met (cross-recipe WT within 0.1) in {}"
    assert summary.format("0.003, affine 0", 400, 16, "0 of 1 runs") in page
    assert summary.format("0.01, affine 0", 400, 16, "1 of 1 runs") in page
    assert summary.format("0.01, affine 0.3", 400, 16, "1 of 1 runs") in page
    assert summary.format("0.01, affine 0", 800, 16, "0 of 1 runs") in page
    assert summary.format("0.01, affine 0", 400, 32, "1 of 1 runs") in page
    varied_summary = "- lr 0.01, affine 0, 400 steps, 16 training cases, varied grey: target met"
    assert varied_summary in page
    assert "MNI152 lr 0.01 affine 0 800 steps 16 cases seed 0: 2026-01-01" in page
    assert "MNI152 lr 0.01 affine 0 400 steps 32 cases seed 0: 2026-01-01" in page
    assert "MNI152 lr 0.01 affine 0 400 steps 16 cases varied grey seed 0: 2026-01-01" in page


def test_the_same_cases_gap_compares_with_the_other_anatomys_model(
    bench: SimpleNamespace,
) -> None:
    """On the procedural cases the MNI152 model scores 0.70 and the procedural model 0.90:
    -0.20 on the same cases, although the MNI152 model lost only 0.15 against its own."""
    mni, procedural = _run("mni", 0.85, 0.70), _run("procedural", 0.90, 0.84)
    other_seed = {**procedural, "seed": 1}
    runs = [mni, procedural, other_seed]
    assert bench.gap(mni) == pytest.approx(-0.15)
    assert bench.matched_gap(mni, runs) == pytest.approx(-0.20)
    assert bench.matched_gap(procedural, runs) == pytest.approx(-0.01)
    assert bench.matched_gap(other_seed, runs) is None
    page = bench.render({"commands": ["c"], "machine": "m", "runs": runs})
    assert "| procedural (other anatomy) | 0.700 | 0.900 | 0.800 | -0.150 | -0.200 |" in page
    assert (
        "in 2 of 3 runs on own cases (mean WT gap -0.090, worst -0.150) and in 1 of 2 on the "
        "same cases (mean -0.105, worst -0.200)" in page
    )

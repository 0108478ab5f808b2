"""Quality: each model family, trained a fixed number of steps with seed 0 on a synthetic
cohort, meets its claim on held-out synthetic cases, with margins set from three seeds.

Run with ``nox -s quality`` (CI runs it after the test command). The recipes are in
``recipes.py``; the floors, the seed figures behind them and the check that a zeroed learning
rate fails these tests are in docs/quality/index.md, written by ``measure.py``. Claims a
recipe does not meet at its CPU budget (``recipes.SHORTFALLS``) are strict expected failures:
they are measured and reported on every run, and a model that starts meeting them fails the
set until they move back among the asserted claims.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import recipes

pytestmark = pytest.mark.quality


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("quality")


@pytest.fixture(scope="module")
def hfgan(work: Path) -> dict[str, Any]:
    return recipes.hfgan(work, seed=0)


@pytest.fixture(scope="module")
def ummgat(work: Path) -> dict[str, Any]:
    return recipes.ummgat(work, seed=0)


def check(family: str, result: dict[str, Any], *, shortfalls: bool = False) -> None:
    print(json.dumps({family: result}, indent=1))
    floors = recipes.thresholds(family)
    problems = recipes.failures(result, family, floors, shortfalls=shortfalls)
    assert not problems, "; ".join(problems)


@pytest.fixture(scope="module")
def unet3d(work: Path) -> dict[str, Any]:
    return recipes.unet3d(work, seed=0)


def test_unet3d_reaches_whole_tumour_dice_08(unet3d: dict[str, Any]) -> None:
    result = unet3d
    assert result["cases"] == 6
    assert set(result["dice"]) == {"WT", "TC", "ET"}  # TC and ET are reported, not asserted
    check("unet3d", result)


#: How far the model's WT Dice at 1 mm may lie from its Dice at its own 2 mm grid, on the same
#: phantoms through ``mri-seg predict`` alone: resampling the case down and the probabilities
#: back loses only detail finer than 2 mm, at the tumour's boundary.
FULL_RESOLUTION_MARGIN = 0.05


def test_unet3d_keeps_its_dice_on_the_same_cases_written_at_1mm(
    work: Path, unet3d: dict[str, Any]
) -> None:
    result = recipes.unet3d_full_resolution(work, seed=0)
    print(json.dumps({"unet3d at 1 mm": result}, indent=1))
    half, full = result["dice"]["half"]["WT"], result["dice"]["full"]["WT"]
    # The model learnt (so the comparison means something) and its Dice holds at 1 mm.
    assert half >= recipes.CLAIMS["unet3d"] - 0.1
    assert abs(full - half) <= FULL_RESOLUTION_MARGIN
    # A tilted 1 mm scan, conformed, segmented and mapped back: reported, and it must at least
    # find the tumour (a misplaced or mirrored mapping scores near 0).
    assert result["dice"]["oblique"]["WT"] > 0.5


def test_segmenter2d_meets_its_dice_floor(work: Path) -> None:
    check("segmenter2d", recipes.segmenter2d(work, seed=0))


def test_hfgan_beats_the_matched_copy_on_t2w_t2f_and_the_mean(hfgan: dict[str, Any]) -> None:
    assert hfgan["steps"] == recipes.HFGAN_STEPS
    check("hfgan", hfgan)


def test_ummgat_stays_within_its_measured_floors(ummgat: dict[str, Any]) -> None:
    """UMMGAT does not yet beat copy-matched at its recipe's budget, but it is far from its
    untrained self there: the floors measured from three seeds catch a model that stops
    learning (docs/quality/index.md, "A broken model fails")."""
    assert ummgat["steps"] == recipes.UMMGAT_STEPS
    assert set(recipes.thresholds("ummgat")) == recipes.SHORTFALLS["ummgat"]
    check("ummgat", ummgat)


@pytest.mark.xfail(strict=True, reason="not met at the recipe's budget: docs/quality/index.md")
def test_ummgat_beats_the_matched_copy_for_t2w_to_t2f(ummgat: dict[str, Any]) -> None:
    check("ummgat", ummgat, shortfalls=True)

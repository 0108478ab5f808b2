"""The quality page and results.json are what measure.py makes of the recorded runs: no figure on
the page is typed by hand, and the step-sweep summary says what its table shows."""

from __future__ import annotations

import copy
import json
from typing import Any

import measure
import pytest

pytestmark = pytest.mark.quality


def test_page_and_results_are_the_render_of_the_recorded_runs() -> None:
    document = measure.load()
    measure.derive(document)
    assert measure.PAGE.read_text() == measure.render(document)
    recorded = json.loads(measure.recipes.RESULTS.read_text())
    assert recorded["thresholds"] == document["thresholds"]
    assert recorded["runs"] == document["runs"]


def _hfgan(t2w_ssim: float, t2w_mae: float) -> dict[str, Any]:
    """An HF-GAN result whose t2w gains over copy-matched are the given ones (others lose)."""
    row = {"ssim_gen": 0.5, "ssim_copy": 0.6, "mae_gen": 0.2, "mae_copy": 0.1}
    scores = {t: dict(row) for t in ("t1n", "t1c", "t2w", "t2f", "mean4")}
    scores["t2w"] = {
        "ssim_gen": 0.5 + t2w_ssim,
        "ssim_copy": 0.5,
        "mae_gen": 0.2 - t2w_mae,
        "mae_copy": 0.2,
    }
    cost = {
        "wall_seconds": 60.0,
        "cpu_seconds_this_process": 1.0,
        "cpu_seconds_children_total": 59.0,
        "load_average_before": [1.0],
        "load_average_after": [1.0],
    }
    return {"steps": 0, "scores": scores, "cost": cost}


def test_the_sweep_summary_names_the_first_step_count_of_each_gain(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = [
        {"steps": 100, "seed": 0, "result": _hfgan(-0.1, 0.01)},
        {"steps": 200, "seed": 0, "result": _hfgan(0.02, -0.01)},  # MAE falls back: still 100
        {"steps": 200, "seed": 1, "result": _hfgan(-0.3, 0.02)},  # other seeds do not count
    ]
    sweep = {"commands": ["a", "b"], "date": "d", "machine": "m", "runs": copy.deepcopy(runs)}
    path = tmp_path / "hfgan-steps.json"
    path.write_text(json.dumps(sweep))
    monkeypatch.setattr(measure, "SWEEP", path)
    text = "\n".join(measure.steps_section())
    assert "`a`, `b`" in text
    assert "| 100 | 0 | -0.100 / +0.0100 |" in text
    assert (
        "Seed 0 beats copy-matched on t2w SSIM from 200 steps, t2w MAE from 100 steps; "
        "not within 200 steps on t2f SSIM, t2f MAE, mean4 SSIM, mean4 MAE." in text
    )

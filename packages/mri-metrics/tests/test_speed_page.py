"""The speed page against the peers: rendered from its JSON, every row checked equal before it
was timed, and every row short of the goal says why."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "packages" / "mri-metrics" / "benchmarks" / "bench_metrics.py"


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
    assert bench.PAGE.read_text() == bench.render(document)


def test_every_row_was_equal_and_timed_alternately(document: dict[str, Any]) -> None:
    keys = [row["key"] for row in document["rows"]]
    assert len(keys) == len(set(keys))
    assert {"surface-deepmind", "ssim-skimage", "lesion-brats-evaluation"} <= set(keys)
    # The BraTS 2023 challenge's own script, not only the tests' transcription of it.
    assert "lesion-brats2023-script" in keys
    for row in document["rows"]:
        assert row["largest_relative_difference"] <= row["tolerance"], row["key"]
        assert len(row["ours_seconds"]) == len(row["peer_seconds"]) == document["rounds"]
    assert document["threads"] == 1
    for field in ("command", "machine", "date", "load_average_before", "versions"):
        assert document[field], field


def test_a_row_short_of_the_goal_says_why(bench: SimpleNamespace, document: dict[str, Any]) -> None:
    for row in document["rows"]:
        if bench.speedup(row) < bench.GOAL:
            assert len(row["shortfall"]) > 80, row["key"]


def _row(key: str, ours: float, peer: float, shortfall: str = "") -> dict[str, Any]:
    return {
        "key": key,
        "path": f"path {key}",
        "peer": f"peer {key}",
        "package": "numpy",
        "kind": "peer",
        "profile": "p",
        "largest_relative_difference": 0.0,
        "tolerance": 1e-9,
        "ours_seconds": [ours, ours * 1.1],
        "peer_seconds": [peer, peer * 1.2],
        "shortfall": shortfall,
    }


def test_rendering_names_the_rows_below_the_goal_and_their_reason(bench: SimpleNamespace) -> None:
    document = {
        "date": "2026-01-01",
        "machine": "m",
        "load_average_before": [0.1, 0.1, 0.1],
        "load_average_after": [0.2, 0.2, 0.2],
        "rounds": 2,
        "command": "python bench_metrics.py",
        "versions": {"numpy": "2"},
        "rows": [_row("fast", 0.01, 0.5), _row("slow", 0.1, 0.3, "Because of a reason.")],
        "without_peer": [{"path": "alone", "seconds": [0.2, 0.3]}],
    }
    page = bench.render(document)
    assert "**50.0x** |" in page
    assert "**3.0x** (below goal) |" in page
    assert "- **path slow, against peer slow: 3.0x.** Because of a reason." in page
    assert "path fast, against" not in page
    assert "| alone | 200.0 ms / 250.0 ms |" in page


def test_unequal_numbers_stop_the_benchmark(bench: SimpleNamespace) -> None:
    def row(theirs: list[float]) -> Any:
        return bench.Row(
            "k", "p", "peer", "numpy", "peer", "prof", lambda: [1.0, 2.0], lambda: theirs, 1e-9
        )

    assert bench.check_equal(row([1.0, 2.0])) == 0.0
    with pytest.raises(SystemExit, match="differ by"):
        bench.check_equal(row([1.0, 2.0 + 1e-6]))
    with pytest.raises(SystemExit, match="undefined values differ"):
        bench.check_equal(row([1.0, float("nan")]))

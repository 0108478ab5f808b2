"""The GPU figures page: the render of its JSON, from a run on a CUDA device at the papers'
network sizes, with every part measured and the metric paths equal to the numpy ones."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "packages" / "mri-bench" / "benchmarks" / "gpu_times.py"
JSON = ROOT / "docs" / "gpu.json"


@pytest.fixture(scope="module")
def script() -> SimpleNamespace:
    """The benchmark script's names, without running its main."""
    return SimpleNamespace(**runpy.run_path(str(SCRIPT)))


@pytest.fixture(scope="module")
def record() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(JSON.read_text())
    return loaded


def test_the_page_is_the_render_of_its_json(script: SimpleNamespace, record: dict) -> None:
    assert JSON.with_suffix(".md").read_text() == script.render(record)


def test_a_real_device_run_at_paper_sizes_with_no_failed_part(record: dict) -> None:
    assert not record["quick"]
    assert record["machine"]["device"] != "cpu"
    assert record["errors"] == {}
    assert {"hfgan_training", "hfgan_synthesis", "unet_training", "unet_inference"} <= set(
        record["parts"]
    )
    assert {row["preset"] for row in record["parts"]["hfgan_training"]} == {"paper"}
    assert {row["preset"] for row in record["parts"]["unet_inference"]} == {"brats"}
    end_to_end = [r for r in record["parts"]["hfgan_synthesis"] if r["part"] == "end to end"]
    assert {tuple(r["volume"]) for r in end_to_end} == {(240, 240, 155)}


def test_the_gpu_metrics_equal_the_numpy_path(record: dict) -> None:
    rows = {row["metric"]: row for row in record["parts"]["torch_metrics"]}
    assert rows["region Dice (WT, TC, ET)"]["equal_to_numpy"] is True
    assert rows["foreground SSIM, float64"]["largest_difference_to_numpy"] < 1e-12
    assert rows["foreground SSIM, float32"]["largest_difference_to_numpy"] < 1e-6


def test_the_quick_check_runs_every_part_on_the_cpu(
    script: SimpleNamespace, tmp_path: Path
) -> None:
    """The script's own dry run (tiny sizes, CPU) for the cheap parts: it writes a record that
    renders, so a change cannot break the GPU run unnoticed until a GPU machine is at hand."""
    out = tmp_path / "gpu.json"
    quick = script.measure(out, ["unet_training", "torch_metrics"], True)
    assert quick["errors"] == {}
    assert json.loads(out.read_text())["parts"].keys() == {"unet_training", "torch_metrics"}
    assert "## Torch metrics on batches" in script.render(quick)

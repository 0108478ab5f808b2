"""Strategies that bring their own segmenter: a robust model on the incomplete case, a KLE
U-Net on a filled one, scored beside the completion strategies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mri_bench.config import StrategySpec, load_config
from mri_bench.errors import ConfigError
from mri_bench.pipeline import run_benchmark
from mri_bench.report import write_report
from mri_bench.store import read_rows
from mri_io.case import load_case
from mri_io.errors import MissingSequenceError
from mri_io.layouts import scan_cases
from mri_io.sequences import SEQUENCES

from .test_pipeline import write_config

WINDOW = (32, 32, 24)


@pytest.fixture(scope="module")
def robust(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny robust 3D U-Net (availability channels)."""
    torch = pytest.importorskip("torch")
    from mri_seg import UNet3D

    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("robust")
    UNet3D.from_preset("tiny", roi_size=WINDOW, availability=True).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def kle_unet(tmp_path_factory: pytest.TempPathFactory, cohort: Path) -> Path:
    """An untrained tiny KLE U-Net whose basis is fitted on the cohort."""
    torch = pytest.importorskip("torch")
    from mri_seg import UNet3D
    from mri_seg.unet import KLEBasis

    cases = [load_case(files) for files in scan_cases(cohort)]
    stacks = [np.stack([case.images[key].data for key in SEQUENCES]) for case in cases]
    basis = KLEBasis.fit(stacks, SEQUENCES, components=3)
    torch.manual_seed(2)
    folder = tmp_path_factory.mktemp("kle")
    UNet3D.from_preset("tiny", roi_size=WINDOW, kle=basis).save_pretrained(folder)
    return folder


def test_config_syntax(tmp_path: Path, cohort: Path, robust: Path) -> None:
    strategies = [
        "copy",
        {"kind": "segmenter", "name": "robust", "checkpoint": str(robust)},
        {"kind": "segmenter", "name": "kle", "checkpoint": "kle", "fill": "copy-matched"},
    ]
    config = load_config(
        write_config(tmp_path, cohort, scenarios=["complete"], strategies=strategies)
    )
    own = config.strategies[1]
    assert own == StrategySpec("robust", "segmenter", checkpoint=robust.resolve())
    assert config.strategies[2].to_json() == {
        "name": "kle",
        "kind": "segmenter",
        "checkpoint": "kle",
        "fill": "copy-matched",
    }
    assert config.comparisons == (("robust", "copy"), ("kle", "copy"))
    for bad, message in (
        ({"kind": "segmenter", "name": "a"}, "needs a 'checkpoint'"),
        ({"kind": "segmenter", "checkpoint": "x", "fill": "hfgan"}, "fill 'hfgan'"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_config(write_config(tmp_path, cohort, scenarios=["complete"], strategies=[bad]))


def test_own_segmenters_are_scored_beside_completions(
    tmp_path: Path, cohort: Path, segmenter: Path, robust: Path, kle_unet: Path
) -> None:
    strategies = [
        "copy-matched",
        {"kind": "segmenter", "name": "robust", "checkpoint": str(robust)},
        {"kind": "segmenter", "name": "kle", "checkpoint": str(kle_unet), "fill": "copy-matched"},
    ]
    scenarios = ["missing t2f", "missing t1n+t1c+t2w", "complete"]
    config = load_config(
        write_config(
            tmp_path,
            cohort,
            segmenter=str(segmenter),
            segmenter_window=list(WINDOW),
            scenarios=scenarios,
            strategies=strategies,
            cases=[c.case_id for c in scan_cases(cohort)][:2],
        )
    )
    rows = read_rows(run_benchmark(config, tmp_path / "run", progress=False))
    seg = {
        (r.strategy, r.scenario, r.case_id, r.region, r.metric): r.value
        for r in rows
        if r.target == ""
    }
    for strategy in ("copy-matched", "robust", "kle"):
        assert {key[1] for key in seg if key[0] == strategy} == set(scenarios)
    # The robust model completes nothing: no image rows; the KLE U-Net's fill is copy-matched's.
    images = [r for r in rows if r.target]
    assert not [r for r in images if r.strategy == "robust"]
    by = {
        s: sorted(
            (r.scenario, r.case_id, r.target, r.region, r.metric, r.value)
            for r in images
            if r.strategy == s
        )
        for s in ("copy-matched", "kle")
    }
    assert by["kle"] == by["copy-matched"]
    assert len(by["kle"]) > 0
    # Each approach is scored with its own model, not the fixed one.
    complete = {
        s: [v for k, v in sorted(seg.items()) if k[0] == s and k[1] == "complete"]
        for s in ("copy-matched", "robust", "kle")
    }
    assert complete["robust"] != complete["copy-matched"]
    assert complete["kle"] != complete["copy-matched"]
    provenance = {r.provenance for r in rows}
    assert len(provenance) == 3
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert stored["strategies"][1]["kind"] == "segmenter"
    # The report draws the robust model's prediction on the real image (it completes nothing).
    report = write_report(tmp_path / "run")
    assert "`robust`" in report.read_text()
    assert (tmp_path / "run" / "slices.png").is_file()


def test_an_ordinary_model_without_fill_refuses_incomplete_cases(
    tmp_path: Path, cohort: Path, segmenter: Path
) -> None:
    config = load_config(
        write_config(
            tmp_path,
            cohort,
            scenarios=["missing t2f"],
            strategies=[{"kind": "segmenter", "name": "plain", "checkpoint": str(segmenter)}],
            cases=[scan_cases(cohort)[0].case_id],
        )
    )
    with pytest.raises(MissingSequenceError, match="no t2f image"):
        run_benchmark(config, tmp_path / "run", progress=False)

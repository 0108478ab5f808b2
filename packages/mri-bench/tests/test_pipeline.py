"""The benchmark run: rows per task and scenario, segmentation rows, config checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mri_bench.config import load_config
from mri_bench.pipeline import run_benchmark, scenario_case
from mri_bench.reference import estimate_reference
from mri_bench.scenarios import Scenario
from mri_bench.shifts import Shift
from mri_bench.store import ResultStore, StoreError, read_rows
from mri_io.case import load_case
from mri_io.layouts import scan_cases
from mri_io.sequences import SEQUENCES
from mri_io.synthetic import write_cohort
from mri_io.synthetic.grid import FULL_GRID


def write_config(folder: Path, cohort: Path, **fields: object) -> Path:
    document = {"data": str(cohort), "reference": str(cohort), **fields}
    path = folder / "config.json"
    path.write_text(json.dumps(document))
    return path


def test_image_rows_for_every_case_scenario_strategy(tmp_path: Path, cohort: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            cohort,
            scenarios=["missing t2w", "missing t1n+t1c+t2f", "complete"],
            strategies=["copy", "copy-matched", "mean"],
        )
    )
    store = run_benchmark(config, tmp_path / "run", progress=False)
    rows = read_rows(store)
    cases = {c.case_id for c in scan_cases(cohort)}
    assert {r.case_id for r in rows} == cases
    for scenario, targets in (
        ("missing t2w", {"t2w"}),
        ("missing t1n+t1c+t2f", {"t1n", "t1c", "t2f"}),
    ):
        for strategy in ("copy", "copy-matched", "mean"):
            chosen = [r for r in rows if r.scenario == scenario and r.strategy == strategy]
            assert {r.target for r in chosen} == targets
            # 6 cases x targets x (brain, tumour) x (ssim, psnr, mae)
            assert len(chosen) == len(cases) * len(targets) * 2 * 3
    assert not [r for r in rows if r.scenario == "complete"]  # nothing to score without a segmenter
    by_case = {
        (r.case_id, r.target, r.region, r.metric): r.value for r in rows if r.strategy == "copy"
    }
    assert all(-1 <= v <= 1 for (_, _, _, m), v in by_case.items() if m == "ssim")
    # The honest baseline reproduces an inverted contrast better than the signed copy.
    ssim = {
        s: np.median(
            [
                r.value
                for r in rows
                if r.scenario == "missing t2w"
                and r.strategy == s
                and r.metric == "ssim"
                and r.region == "brain"
            ]
        )
        for s in ("copy", "copy-matched", "mean")
    }
    assert ssim["mean"] < ssim["copy-matched"]
    with pytest.raises(StoreError, match="holds results already; pass --resume"):
        run_benchmark(config, tmp_path / "run", progress=False)


def test_segmentation_rows_and_an_unchanged_complete_case(
    tmp_path: Path, cohort: Path, segmenter: Path
) -> None:
    config = load_config(
        write_config(
            tmp_path,
            cohort,
            segmenter=str(segmenter),
            segmenter_window=[32, 32, 24],
            scenarios=["missing t2f", "complete"],
            strategies=["copy", "zero"],
            cases=[c.case_id for c in scan_cases(cohort)][:2],
        )
    )
    rows = read_rows(run_benchmark(config, tmp_path / "run", progress=False))
    seg = [r for r in rows if r.target == ""]
    assert {r.region for r in seg} == {"WT", "TC", "ET"}
    assert {"dice", "hd95", "nsd@1", "nsd@2", "lesion_dice", "lesion_hd95"} <= {
        r.metric for r in seg
    }
    complete = {
        s: [
            (r.case_id, r.region, r.metric, r.value)
            for r in seg
            if r.scenario == "complete" and r.strategy == s
        ]
        for s in ("copy", "zero")
    }
    assert complete["copy"] == complete["zero"]
    assert len(complete["copy"]) > 0
    provenance = {r.provenance for r in rows}
    assert len(provenance) == 2  # one record per strategy
    # Voxel counts of the reference and predicted masks, which the report reads to tell empty
    # segmentations and healthy cases from the rest.
    for files in scan_cases(cohort)[:2]:
        reference = load_case(files).seg
        assert reference is not None
        labels = np.asarray(reference.data)
        expected = {
            "WT": np.isin(labels, (1, 2, 3)),
            "TC": np.isin(labels, (1, 3)),
            "ET": labels == 3,
        }
        counted = {
            r.region: r.value
            for r in seg
            if r.case_id == files.case_id
            and r.metric == "reference_voxels"
            and r.scenario == "missing t2f"
            and r.strategy == "copy"
        }
        assert counted == {k: float(v.sum()) for k, v in expected.items()}
        predicted = [
            r for r in seg if r.case_id == files.case_id and r.metric == "predicted_voxels"
        ]
        assert len(predicted) == 2 * 2 * 3
        assert all(r.value >= 0 for r in predicted)


def test_scenario_case_removes_and_shifts_only_the_available(cohort: Path) -> None:
    case = load_case(scan_cases(cohort)[0])
    scenario = Scenario("s", "subset", ("t1n", "t2w"), seed=3, shift=Shift(scale=2.0))
    view, missing = scenario_case(case, scenario)
    assert missing == ("t1c", "t2f")
    assert sorted(view.images) == ["t1n", "t2w"]
    np.testing.assert_allclose(view.images["t1n"].data, 2.0 * case.images["t1n"].data, rtol=1e-6)
    assert view.seg is case.seg
    everything = Scenario("none", "subset", ("t1n",))
    reduced, _ = scenario_case(case, everything)
    assert list(reduced.images) == ["t1n"]


def test_resume_refuses_another_config(tmp_path: Path, cohort: Path) -> None:
    first = load_config(write_config(tmp_path, cohort, scenarios=["complete"], strategies=["zero"]))
    run_benchmark(first, tmp_path / "run", progress=False)
    second = load_config(write_config(tmp_path, cohort, scenarios=["brasyn"], strategies=["zero"]))
    with pytest.raises(StoreError, match="another config"):
        run_benchmark(second, tmp_path / "run", resume=True, progress=False)


def test_every_sequence_is_scored_in_the_triple_missing_scenarios(
    tmp_path: Path, cohort: Path
) -> None:
    config = load_config(
        write_config(
            tmp_path,
            cohort,
            scenarios=["subsets"],
            strategies=["zero"],
            cases=[scan_cases(cohort)[0].case_id],
        )
    )
    rows = read_rows(run_benchmark(config, tmp_path / "run", progress=False))
    targets = {r.target for r in rows if r.scenario.count("+") == 2}
    assert targets == set(SEQUENCES)


def test_cases_missing_sequences_of_their_own(tmp_path: Path) -> None:
    # The local-t1-t2 centre acquires only t1n and t2w.
    cohort = tmp_path / "local"
    write_cohort(
        cohort,
        2,
        seed=1,
        centres=["local-t1-t2"],
        grid=FULL_GRID.coarsened(8),
        anatomy="procedural",
        progress=False,
    )
    reference = tmp_path / "reference.json"
    estimate_reference(
        [
            {
                k: np.full((4, 4, 4), v + 1.0) + np.arange(64).reshape(4, 4, 4) ** (v + 1)
                for v, k in enumerate(SEQUENCES)
            }
        ]
    ).save(reference)
    config = load_config(
        write_config(
            tmp_path,
            cohort,
            reference=str(reference),
            scenarios=["missing t1n+t2w", "missing t2w", "missing t1c"],
            strategies=["copy-matched"],
        )
    )
    store = run_benchmark(config, tmp_path / "run", progress=False)
    rows = read_rows(store)
    with ResultStore(store) as opened:
        done = opened.done()
    # Nothing is left of a T1/T2 case without t1n and t2w: that scenario is skipped.
    assert {scenario for _, scenario, _ in done} == {"missing t2w", "missing t1c"}
    # Only sequences that exist for real are scored: t2w, never t1c or t2f.
    assert {r.target for r in rows} == {"t2w"}

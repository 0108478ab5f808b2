"""Case shards and the portable config fingerprint: shards of one config, run in different
folders, merge into the table and report of one whole run; changed data is another config."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from mri_bench.cli import main
from mri_bench.config import load_config
from mri_bench.errors import StoreError
from mri_bench.pipeline import run_benchmark
from mri_bench.shards import CaseShard, partition
from mri_bench.store import STORE_NAME, ResultStore, read_rows
from mri_io.layouts import scan_cases

REPORT_FILES = ("report.md", "summary.json", "results.csv")


def test_partition_is_disjoint_complete_and_balanced() -> None:
    equal = {f"case{i:02d}": 4 for i in range(8)}
    parts = partition(equal, 3)
    # Equal work: the sorted cases dealt round robin.
    assert parts == (
        frozenset({"case00", "case03", "case06"}),
        frozenset({"case01", "case04", "case07"}),
        frozenset({"case02", "case05"}),
    )
    # Unequal work (a scenario for one centre only): balanced by tasks, not by case count.
    work = {"a": 6, "b": 6, "c": 2, "d": 2, "e": 2, "f": 2, "g": 2, "h": 2}
    shuffled = dict(random.Random(0).sample(sorted(work.items()), len(work)))
    parts = partition(shuffled, 2)
    assert parts == partition(work, 2)  # the order cases come in does not matter
    assert set().union(*parts) == set(work)
    assert sum(len(p) for p in parts) == len(work)
    assert sorted(sum(work[c] for c in p) for p in parts) == [12, 12]
    assert CaseShard.parse(" 2/3 ").cases(equal) == partition(equal, 3)[1]


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "a/b", "1/0", ""])
def test_a_bad_shard_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"K/N|K <= N"):
        CaseShard.parse(text)


def write_config(folder: Path, data: str, **fields: object) -> Path:
    document = {
        "data": data,
        "reference": data,
        "scenarios": ["single-missing", "brasyn"],
        "strategies": ["copy", "copy-matched", "zero"],
        "comparisons": [["copy-matched", "copy"]],
        **fields,
    }
    path = folder / "bench.json"
    path.write_text(json.dumps(document))
    return path


def checkout(folder: Path, cohort: Path, **fields: object) -> Path:
    """A config and its cohort in ``folder``, the config naming the cohort relatively."""
    folder.mkdir(parents=True)
    shutil.copytree(cohort, folder / "cohort")
    return write_config(folder, "cohort", **fields)


def test_case_shards_from_different_folders_merge_into_the_whole_run(
    tmp_path: Path, cohort: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole_config = checkout(tmp_path / "whole", cohort)
    whole = tmp_path / "whole" / "run"
    assert main(["run", str(whole_config), "--out", str(whole), "--quiet"]) == 0
    shards = []
    for index in (1, 2, 3):
        # Each shard runs in its own checkout folder, as on separate CI runners.
        config = checkout(tmp_path / f"runner{index}", cohort)
        shard = tmp_path / f"runner{index}" / "run"
        argv = ["run", str(config), "--out", str(shard), "--quiet", "--no-report"]
        assert main([*argv, "--shard", f"{index}/3"]) == 0
        shards.append(shard)
    cases = [{row.case_id for row in read_rows(s / STORE_NAME)} for s in shards]
    assert [len(c) for c in cases] == [2, 2, 2]  # six cases dealt over three shards
    assert set().union(*cases) == {c.case_id for c in scan_cases(cohort)}
    merged = tmp_path / "merged"
    assert main(["merge", str(merged), *map(str, shards)]) == 0
    assert read_rows(merged / STORE_NAME) == read_rows(whole / STORE_NAME)
    for name in REPORT_FILES:
        assert (merged / name).read_text() == (whole / name).read_text(), name
    capsys.readouterr()
    # A shard merged twice, or merged again into the merged folder, adds nothing.
    assert main(["merge", str(merged), str(shards[0])]) == 0
    assert "merged 0 tasks" in capsys.readouterr().out
    assert read_rows(merged / STORE_NAME) == read_rows(whole / STORE_NAME)


def test_case_shards_combine_with_scenario_and_strategy_shards(
    tmp_path: Path, cohort: Path
) -> None:
    config = write_config(tmp_path, str(cohort))
    whole = tmp_path / "whole"
    run_benchmark(load_config(config), whole, progress=False)
    shards = []
    for scenarios in ("missing t1n,missing t1c,missing t2w", "missing t2f,brasyn"):
        for index in (1, 2):
            shard = tmp_path / f"shard-{len(shards)}"
            argv = ["run", str(config), "--out", str(shard), "--quiet", "--no-report"]
            assert main([*argv, "--scenarios", scenarios, "--shard", f"{index}/2"]) == 0
            shards.append(str(shard))
    merged = tmp_path / "merged"
    assert main(["merge", str(merged), *shards]) == 0
    assert read_rows(merged / STORE_NAME) == read_rows(whole / STORE_NAME)


def test_a_shard_without_cases_stores_nothing_and_merges_as_nothing(
    tmp_path: Path, cohort: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = scan_cases(cohort)[0].case_id
    config = write_config(tmp_path, str(cohort), cases=[case], scenarios=["brasyn"])
    runs = [tmp_path / "one", tmp_path / "two"]
    for index, out in enumerate(runs, start=1):
        assert (
            main(["run", str(config), "--out", str(out), "--quiet", "--shard", f"{index}/2"]) == 0
        )
    assert "shard 2/2: no case of the config falls to this shard" in capsys.readouterr().out
    assert not read_rows(runs[1] / STORE_NAME)
    assert main(["merge", str(tmp_path / "merged"), *map(str, runs)]) == 0
    assert read_rows(tmp_path / "merged" / STORE_NAME) == read_rows(runs[0] / STORE_NAME)


def test_merge_refuses_overlapping_case_shards_with_other_numbers(
    tmp_path: Path, cohort: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path, str(cohort), scenarios=["brasyn"], strategies=["zero"], comparisons=[]
    )
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        assert main(["run", str(config), "--out", str(out), "--quiet", "--no-report"]) == 0
    # The second runner's numbers differ (other code, other hardware): a conflict.
    with sqlite3.connect(second / STORE_NAME) as db:
        db.execute("UPDATE results SET value = value + 1 WHERE metric = 'ssim'")
    merged = tmp_path / "merged"
    assert main(["merge", str(merged), str(first), str(second)]) == 2
    err = capsys.readouterr().err
    assert f"{second / STORE_NAME}: " in err
    assert "there and" in err
    assert not merged.exists()  # nothing half merged, not even an empty folder
    with (
        pytest.raises(StoreError, match="there and"),
        ResultStore(tmp_path / "x.sqlite") as store,
    ):
        store.merge(first / STORE_NAME, second / STORE_NAME)
    assert not read_rows(tmp_path / "x.sqlite")  # all or nothing


# --- the fingerprint -----------------------------------------------------------------------------


def test_the_fingerprint_survives_moving_the_folder_and_names_no_absolute_path(
    tmp_path: Path, cohort: Path, segmenter: Path
) -> None:
    fields = {
        "segmenter": "models/unet",
        "segmenter_window": [32, 32, 24],
        "cases": [scan_cases(cohort)[0].case_id],
        "scenarios": ["brasyn"],
        "strategies": [
            "zero",
            {"name": "own", "kind": "segmenter", "checkpoint": "models/unet", "fill": "zero"},
        ],
        "comparisons": [],
    }
    first = checkout(tmp_path / "a" / "deep" / "checkout", cohort, **fields)
    shutil.copytree(segmenter, first.parent / "models" / "unet")
    moved = tmp_path / "b"
    shutil.copytree(first.parent, moved)
    config, copy = load_config(first), load_config(moved / first.name)
    assert config.digest() == copy.digest()
    text = json.dumps(config.to_json())
    assert str(tmp_path) not in text
    assert config.to_json()["data"] == "cohort"
    # The moved folder resumes the first one's results: same fingerprint, same provenance.
    run_benchmark(config, first.parent / "run", progress=False)
    shutil.copytree(first.parent / "run", moved / "run")
    shutil.rmtree(first.parent)
    run_benchmark(copy, moved / "run", resume=True, progress=False)
    assert len(read_rows(moved / "run" / STORE_NAME)) > 0


def test_an_absolute_path_inside_the_folder_is_stored_relative(
    tmp_path: Path, cohort: Path
) -> None:
    folder = tmp_path / "here"
    config = checkout(folder, cohort)
    document = json.loads(config.read_text())
    document["data"] = str(folder / "cohort")  # as mri-bench demo writes it
    document["reference"] = str(folder / "cohort")
    config.write_text(json.dumps(document))
    relative = load_config(checkout(tmp_path / "there", cohort))
    assert load_config(config).digest() == relative.digest()


def _change_one_voxel(cohort: Path) -> None:
    files = scan_cases(cohort)[-1]
    path = files.sequences["t1n"]
    image = nib.load(path)
    data = np.asarray(image.dataobj).copy()
    data[tuple(s // 2 for s in data.shape)] += 1
    nib.save(nib.Nifti1Image(data, image.affine, image.header), path)


def test_changed_data_or_selection_is_another_fingerprint(tmp_path: Path, cohort: Path) -> None:
    config = checkout(tmp_path / "a", cohort)
    before = load_config(config).digest()
    cases = [c.case_id for c in scan_cases(cohort)]
    document = json.loads(config.read_text())
    config.write_text(json.dumps({**document, "cases": cases[:3]}))
    selected = load_config(config).digest()
    assert selected != before
    config.write_text(json.dumps(document))
    assert load_config(config).digest() == before
    # The same path holding other data is another config: its shards do not merge.
    out = tmp_path / "run"
    run_benchmark(load_config(config).select(["brasyn"], ["zero"]), out, progress=False)
    _change_one_voxel(tmp_path / "a" / "cohort")
    changed = load_config(config)
    assert changed.digest() != before
    with pytest.raises(StoreError, match="another config"):
        run_benchmark(changed, out, resume=True, progress=False)


def test_a_shard_of_the_baselines_runs_before_the_generator_exists(
    tmp_path: Path, cohort: Path
) -> None:
    """The demo scores the copy baselines while the generator still trains: a shard builds
    only its own strategies, so the absent weights of another are not read."""
    weights = tmp_path / "generator-to-come"
    generator = {
        "name": "gen",
        "kind": "generator",
        "generator": "hfgan",
        "checkpoint": str(weights),
    }
    config = load_config(
        write_config(
            tmp_path,
            str(cohort),
            strategies=["copy", generator],
            scenarios=["brasyn"],
            comparisons=[],
        )
    )
    out = tmp_path / "run"
    run_benchmark(config.select((), ["copy"]), out, progress=False)
    with ResultStore(out / STORE_NAME) as store:
        done = store.done()
    assert {strategy for _, _, strategy in done} == {"copy"}
    assert len(done) == len(scan_cases(cohort))
    # The whole config still needs them, and says which.
    with pytest.raises(FileNotFoundError, match="generator-to-come"):
        run_benchmark(config, out, resume=True, progress=False)

"""The benchmark under faults: unsafe strategy names, changed models on resume, two writers,
damaged stores. Each is refused with one line naming the file, never a traceback or a table
that silently mixes two computations."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from mri_bench.cli import main
from mri_bench.config import load_config
from mri_bench.errors import ConfigError, StoreError
from mri_bench.pipeline import run_benchmark
from mri_bench.store import STORE_NAME, ResultStore, Row, TaskResult, read_rows, writer_lock


def write_config(folder: Path, cohort: Path, **fields: object) -> Path:
    document = {
        "data": str(cohort),
        "reference": str(cohort),
        "scenarios": ["brasyn"],
        "strategies": ["zero"],
        **fields,
    }
    path = folder / "config.json"
    path.write_text(json.dumps(document))
    return path


def task(case: str, strategy: str = "copy", values: int = 30) -> TaskResult:
    rows = tuple(
        Row(case, "c", "s", strategy, "", "WT", f"m{i}", float(i), 0, "p") for i in range(values)
    )
    return TaskResult(case, "s", strategy, ("t1n",), 0.1, rows)


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("mri-bench: error: ")
    return lines[0]


# --- names used as file names ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../x", "a/b", ".hidden", "", "x\\y", "con fig"])
def test_a_strategy_name_that_is_not_a_safe_file_name_is_refused(
    tmp_path: Path, cohort: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    config = write_config(tmp_path, cohort, strategies=[{"name": name, "kind": "zero"}])
    with pytest.raises(ConfigError, match="not a safe file name"):
        load_config(config)
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 2
    assert "safe file name" in error_line(capsys)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


# --- one writer, damaged stores ------------------------------------------------------------------


def test_a_second_writer_is_refused_naming_the_holder(
    tmp_path: Path, cohort: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, cohort)
    out = tmp_path / "run"
    with writer_lock(out / STORE_NAME):
        with pytest.raises(StoreError, match=r"another run is writing to this store \(pid \d+"):
            run_benchmark(load_config(config), out, resume=True, progress=False)
        assert main(["run", str(config), "--out", str(out), "--resume", "--quiet"]) == 2
        assert "another run is writing" in error_line(capsys)
    # Released: the run goes ahead.
    run_benchmark(load_config(config), out, resume=True, progress=False)
    assert read_rows(out / STORE_NAME)


def test_a_task_stored_twice_is_a_store_error_not_a_sqlite_traceback(tmp_path: Path) -> None:
    path = tmp_path / STORE_NAME
    with ResultStore(path) as first, ResultStore(path) as second:
        first.add(task("a"))
        with pytest.raises(StoreError, match=r"results\.sqlite: a result is stored twice"):
            second.add(task("a"))
        assert len(second.rows()) == 30


def _damaged_store(path: Path) -> None:
    with ResultStore(path) as store:
        store.set_meta("config_sha256", "x")
        for index in range(40):
            store.add(task(f"case{index:03d}"))
    content = bytearray(path.read_bytes())
    for page in (8, 12, 20):
        content[4096 * page : 4096 * page + 64] = b"\xff" * 64
    path.write_bytes(bytes(content))


def test_a_damaged_store_is_detected_on_open(tmp_path: Path) -> None:
    path = tmp_path / STORE_NAME
    _damaged_store(path)
    with pytest.raises(StoreError, match=r"results\.sqlite: the results store is damaged"):
        ResultStore(path)
    with pytest.raises(StoreError, match="damaged"):
        read_rows(path)


def test_report_merge_and_resume_of_a_damaged_store_are_one_line(
    tmp_path: Path, cohort: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, cohort)
    run = tmp_path / "run"
    run_benchmark(load_config(config), run, progress=False)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    shutil.copy(run / "config.json", damaged / "config.json")
    _damaged_store(damaged / STORE_NAME)
    before = (damaged / STORE_NAME).read_bytes()
    assert main(["report", str(damaged)]) == 2
    assert "damaged" in error_line(capsys)
    assert main(["merge", str(tmp_path / "merged"), str(damaged)]) == 2
    assert "damaged" in error_line(capsys)
    assert main(["run", str(config), "--out", str(damaged), "--resume", "--quiet"]) == 2
    assert "damaged" in error_line(capsys)
    assert (damaged / STORE_NAME).read_bytes() == before


# --- resume with changed models ------------------------------------------------------------------


def test_resume_refuses_a_segmenter_whose_weights_changed(
    tmp_path: Path, cohort: Path, segmenter: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from mri_seg import UNet3D

    weights = tmp_path / "segmenter"
    shutil.copytree(segmenter, weights)
    case = sorted(p.name for p in cohort.iterdir() if p.is_dir())[0]
    config = write_config(
        tmp_path, cohort, segmenter=str(weights), cases=[case], segmenter_window=[32, 32, 24]
    )
    out = tmp_path / "run"
    run_benchmark(load_config(config), out, progress=False)
    rows = read_rows(out / STORE_NAME)
    assert any(row.region == "WT" for row in rows)

    torch.manual_seed(1)  # other weights, same architecture and config
    UNet3D.from_preset("tiny", roi_size=(32, 32, 24)).save_pretrained(weights)
    with pytest.raises(StoreError, match=r"strategy 'zero' .*segmenter_sha256"):
        run_benchmark(load_config(config), out, resume=True, progress=False)
    assert main(["run", str(config), "--out", str(out), "--resume", "--quiet"]) == 2
    line = error_line(capsys)
    assert "segmenter_sha256" in line
    assert "--new-provenance" in line
    assert read_rows(out / STORE_NAME) == rows

    # Asked for, the run goes on; the stored rows keep their own provenance.
    run_benchmark(load_config(config), out, resume=True, progress=False, new_provenance=True)
    with sqlite3.connect(out / STORE_NAME) as db:
        assert db.execute("SELECT count(*) FROM provenance").fetchone()[0] == 2

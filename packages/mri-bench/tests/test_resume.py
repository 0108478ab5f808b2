"""Resume after a real SIGKILL in the middle of a run: the table equals an uninterrupted one
(which runs in two worker processes, so parallel also equals serial)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from mri_bench.config import load_config
from mri_bench.pipeline import run_benchmark
from mri_bench.store import read_rows


def write_config(folder: Path, cohort: Path, **fields: object) -> Path:
    document = {"data": str(cohort), "reference": str(cohort), **fields}
    path = folder / "config.json"
    path.write_text(json.dumps(document))
    return path


def _count_tasks(path: Path) -> int:
    if not path.is_file():
        return 0
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM tasks").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path: Path, cohort: Path) -> None:
    config_path = write_config(
        tmp_path,
        cohort,
        scenarios=["single-missing", "brasyn", "random missing", "centre shift"],
        strategies=["copy-matched", "zero"],
    )
    total = 6 * 7 * 2
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "mri_bench", "run", str(config_path), "--quiet", "--no-report"]
    process = subprocess.Popen([*command, "--out", str(killed)], env={**os.environ})
    store = killed / "results.sqlite"
    deadline = time.monotonic() + 120
    while _count_tasks(store) < 20 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    stored = _count_tasks(store)
    assert 0 < stored < total, "the kill must land in the middle of the run"

    config = load_config(config_path)
    run_benchmark(config, killed, resume=True, progress=False)
    uninterrupted = run_benchmark(config, tmp_path / "whole", progress=False, workers=2)
    resumed_rows = read_rows(store)
    assert resumed_rows == read_rows(uninterrupted)
    assert len({(r.case_id, r.scenario, r.strategy) for r in resumed_rows}) == total
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT count(*) FROM tasks").fetchone()[0] == total
    # Resuming a finished run computes nothing more.
    run_benchmark(config, killed, resume=True, progress=False)
    assert read_rows(store) == resumed_rows


def test_a_killed_case_shard_resumes_with_its_own_cases(tmp_path: Path, cohort: Path) -> None:
    """The partition ignores what is stored: a resumed shard keeps its cases and ends equal
    to the same shard run without interruption."""
    config_path = write_config(
        tmp_path,
        cohort,
        scenarios=["single-missing", "brasyn", "random missing"],
        strategies=["copy-matched", "zero"],
    )
    killed = tmp_path / "killed"
    shard = ["--shard", "2/3"]
    command = [sys.executable, "-m", "mri_bench", "run", str(config_path), "--quiet", "--no-report"]
    process = subprocess.Popen([*command, *shard, "--out", str(killed)], env={**os.environ})
    store = killed / "results.sqlite"
    deadline = time.monotonic() + 120
    while _count_tasks(store) < 6 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    total = 2 * 6 * 2  # two of the six cases, six scenarios, two strategies
    assert 0 < _count_tasks(store) < total, "the kill must land in the middle of the shard"
    subprocess.run([*command, *shard, "--out", str(killed), "--resume"], check=True)
    uninterrupted = tmp_path / "whole-shard"
    subprocess.run([*command, *shard, "--out", str(uninterrupted)], check=True)
    rows = read_rows(store)
    assert rows == read_rows(uninterrupted / "results.sqlite")
    assert len({(r.case_id, r.scenario, r.strategy) for r in rows}) == total

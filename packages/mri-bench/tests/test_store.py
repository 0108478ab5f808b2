"""The SQLite results store: atomic tasks, NaN round trip, refusal of mixed configs, merge."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mri_bench.store import ResultStore, Row, StoreError, TaskResult, read_rows


def task(
    case: str, strategy: str, values: list[float], scenario: str = "s", seconds: float = 0.1
) -> TaskResult:
    rows = tuple(
        Row(case, "c", scenario, strategy, "", "WT", f"m{i}", value, 0, "p")
        for i, value in enumerate(values)
    )
    return TaskResult(case, scenario, strategy, ("t1n",), seconds, rows)


def test_rows_round_trip_including_nan_and_infinity(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.add(task("a", "copy", [0.5, math.nan, math.inf]))
        assert store.done() == {("a", "s", "copy")}
    rows = read_rows(tmp_path / "r.sqlite")
    assert [r.metric for r in rows] == ["m0", "m1", "m2"]
    assert rows[0].value == 0.5
    assert math.isnan(rows[1].value)
    assert rows[2].value == math.inf


def test_seconds_are_summed_per_strategy(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "r.sqlite") as store:
        assert store.seconds_by_strategy() == {}
        store.add(task("a", "copy", [0.5], seconds=0.25))
        store.add(task("b", "copy", [0.5], seconds=0.5))
        store.add(task("a", "hfgan", [0.5], seconds=2.0))
        assert store.seconds_by_strategy() == {"copy": 0.75, "hfgan": 2.0}


def test_a_failed_task_leaves_nothing_behind(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.add(task("a", "copy", [0.5]))
        duplicate_metric = task("b", "copy", [0.1, 0.2])
        broken = TaskResult(
            "b", "s", "copy", (), 0.0, duplicate_metric.rows + duplicate_metric.rows[:1]
        )
        with pytest.raises(Exception, match="UNIQUE"):
            store.add(broken)
        assert store.done() == {("a", "s", "copy")}
        assert len(store.rows()) == 1


def test_merge_copies_new_tasks_and_refuses_conflicts(tmp_path: Path) -> None:
    for name, tasks in (
        ("one", [task("a", "copy", [0.5]), task("b", "copy", [0.6])]),
        ("two", [task("a", "copy", [0.5]), task("a", "gen", [0.7])]),
        ("bad", [task("b", "copy", [0.9])]),
    ):
        with ResultStore(tmp_path / f"{name}.sqlite") as store:
            store.set_meta("config_sha256", "x")
            for result in tasks:
                store.add(result)
    with ResultStore(tmp_path / "merged.sqlite") as merged:
        assert merged.merge(tmp_path / "one.sqlite") == 2
        assert merged.merge(tmp_path / "two.sqlite") == 1
        assert len(merged.rows()) == 3
        with pytest.raises(
            StoreError, match=r"bad\.sqlite: .* is 0\.9 there and 0\.6 in .*merged\.sqlite"
        ):
            merged.merge(tmp_path / "bad.sqlite")
    with ResultStore(tmp_path / "other.sqlite") as other:
        other.set_meta("config_sha256", "y")
    with (
        ResultStore(tmp_path / "merged.sqlite") as merged,
        pytest.raises(StoreError, match="results of another config"),
    ):
        merged.merge(tmp_path / "other.sqlite")


def test_a_file_that_is_not_a_store_is_named(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    path.write_text("not a database, just text " * 100)
    with pytest.raises(StoreError, match=r"results\.sqlite: not a usable results store"):
        ResultStore(path)
    with pytest.raises(StoreError, match="no results store"):
        read_rows(tmp_path / "absent.sqlite")

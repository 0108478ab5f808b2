"""The results store: one SQLite file holding a tidy long table that survives a kill.

The unit of work is a *task*, one (case, scenario, strategy). A task's rows (case, centre,
scenario, strategy, target, region, metric, value, seed, provenance) and its entry in
``tasks`` are written in one transaction, so after a SIGKILL or a power cut the file holds
every finished task completely and nothing of the unfinished one (SQLite's journal rolls a
torn transaction back on the next open). A resumed run asks :meth:`ResultStore.done` which tasks
exist and computes only the others: it never recomputes a stored row and never loses one.

``target`` is the synthesised sequence an image-quality row scores (``""`` for segmentation
rows); ``region`` is WT/TC/ET for segmentation, brain/tumour for image quality. Provenance
records (package versions, checkpoint hashes, config digest) are stored once in
``provenance`` and referenced by id from every row.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import astuple, dataclass, fields
from os import PathLike
from pathlib import Path
from typing import Any

from mri_bench.errors import StoreError

STORE_NAME = "results.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS provenance (id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    case_id TEXT NOT NULL, scenario TEXT NOT NULL, strategy TEXT NOT NULL,
    missing TEXT NOT NULL, seconds REAL NOT NULL,
    PRIMARY KEY (case_id, scenario, strategy)
);
CREATE TABLE IF NOT EXISTS results (
    case_id TEXT NOT NULL, centre TEXT NOT NULL, scenario TEXT NOT NULL, strategy TEXT NOT NULL,
    target TEXT NOT NULL, region TEXT NOT NULL, metric TEXT NOT NULL, value REAL,
    seed INTEGER NOT NULL, provenance TEXT NOT NULL REFERENCES provenance (id),
    PRIMARY KEY (case_id, scenario, strategy, target, region, metric)
);
"""


@dataclass(frozen=True)
class Row:
    """One number of the tidy long table."""

    case_id: str
    centre: str
    scenario: str
    strategy: str
    target: str
    region: str
    metric: str
    value: float
    seed: int
    provenance: str


COLUMNS = tuple(f.name for f in fields(Row))
Task = tuple[str, str, str]


@dataclass(frozen=True)
class TaskResult:
    """Everything one task produced, written atomically by :meth:`ResultStore.add`."""

    case_id: str
    scenario: str
    strategy: str
    missing: tuple[str, ...]
    seconds: float
    rows: tuple[Row, ...]


class ResultStore:
    """A results file opened for reading and writing (one writer: the main process)."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable results store ({exc})") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def meta(self, key: str) -> str | None:
        found = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def add_provenance(self, key: str, record: Mapping[str, Any]) -> None:
        text = json.dumps(record, sort_keys=True)
        self._db.execute("INSERT OR IGNORE INTO provenance VALUES (?, ?)", (key, text))

    def provenance(self) -> dict[str, dict[str, Any]]:
        rows = self._db.execute("SELECT id, record FROM provenance ORDER BY id")
        return {str(key): json.loads(text) for key, text in rows}

    def done(self) -> set[Task]:
        """The (case, scenario, strategy) tasks already stored."""
        rows = self._db.execute("SELECT case_id, scenario, strategy FROM tasks")
        return {(str(c), str(s), str(t)) for c, s, t in rows}

    def add(self, result: TaskResult) -> None:
        """Store one task's rows and its completion mark in a single transaction."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO tasks VALUES (?, ?, ?, ?, ?)",
                (
                    result.case_id,
                    result.scenario,
                    result.strategy,
                    "+".join(result.missing),
                    result.seconds,
                ),
            )
            self._db.executemany(
                f"INSERT INTO results VALUES ({', '.join('?' * len(COLUMNS))})",
                [_encode(row) for row in result.rows],
            )

    def rows(self) -> list[Row]:
        """Every stored row, in key order (the same for any run that stored the same tasks)."""
        cursor = self._db.execute(
            f"SELECT {', '.join(COLUMNS)} FROM results "
            "ORDER BY case_id, scenario, strategy, target, region, metric"
        )
        return [_decode(values) for values in cursor]

    def task_missing(self) -> dict[tuple[str, str], str]:
        """(case, scenario) -> the sequences the scenario removed ("t1n+t2f")."""
        cursor = self._db.execute("SELECT DISTINCT case_id, scenario, missing FROM tasks")
        return {(str(c), str(s)): str(m) for c, s, m in cursor}

    def merge(self, other: str | PathLike[str]) -> int:
        """Copy another store's tasks, rows and provenance in; returns the tasks added.

        Both stores must come from the same config; a task present in both must hold the same
        numbers (a shard re-run on other code is a conflict, not a duplicate).
        """
        source = Path(other)
        if not source.is_file():
            raise StoreError(f"{source}: no such results store")
        with closing(ResultStore(source)) as shard:
            mine, theirs = self.meta("config_sha256"), shard.meta("config_sha256")
            if mine is not None and theirs != mine:
                raise StoreError(f"{source}: results of another config (digest {theirs})")
            if mine is None and theirs is not None:
                self.set_meta("config_sha256", theirs)
                config = shard.meta("config")
                if config is not None:
                    self.set_meta("config", config)
            existing = {_key(row): row.value for row in self.rows()}
            for row in shard.rows():
                value = existing.get(_key(row))
                if value is not None and not _same(value, row.value):
                    raise StoreError(f"{source}: {_key(row)} is {row.value} there and {value} here")
            added = 0
            with self._transaction():
                for key, record in shard.provenance().items():
                    self.add_provenance(key, record)
                done = self.done()
                by_task: dict[Task, list[Row]] = {}
                for row in shard.rows():
                    by_task.setdefault((row.case_id, row.scenario, row.strategy), []).append(row)
                missing = shard.task_missing()
                for task in sorted(shard.done() - done):
                    self._db.execute(
                        "INSERT INTO tasks VALUES (?, ?, ?, ?, 0.0)",
                        (*task, missing[task[0], task[1]]),
                    )
                    self._db.executemany(
                        f"INSERT INTO results VALUES ({', '.join('?' * len(COLUMNS))})",
                        [_encode(row) for row in by_task.get(task, [])],
                    )
                    added += 1
            return added

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._outer = db.in_transaction

    def __enter__(self) -> None:
        if not self._outer:
            self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if self._outer:
            return
        self._db.execute("ROLLBACK" if kind is not None else "COMMIT")


def _key(row: Row) -> tuple[str, ...]:
    return (row.case_id, row.scenario, row.strategy, row.target, row.region, row.metric)


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _encode(row: Row) -> tuple[Any, ...]:
    # SQLite has no NaN (it would store NULL silently); store NULL on purpose and decode it.
    values = astuple(row)
    return tuple(None if isinstance(v, float) and math.isnan(v) else v for v in values)


def _decode(values: Sequence[Any]) -> Row:
    record = dict(zip(COLUMNS, values, strict=True))
    record["value"] = math.nan if record["value"] is None else float(record["value"])
    return Row(**record)


def read_rows(path: str | PathLike[str]) -> list[Row]:
    """Every row of a results file (which must exist)."""
    if not Path(path).is_file():
        raise StoreError(f"{path}: no results store (run `mri-bench run` first)")
    with closing(ResultStore(path)) as store:
        return store.rows()

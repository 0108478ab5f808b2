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

One writer at a time: :func:`writer_lock` holds an exclusive lock beside the store for a whole
run (released by the system even when the writer is killed) and a second writer is refused,
naming the holder. A store whose pages are damaged is detected when it is opened
(``PRAGMA integrity_check``) and refused with the problem SQLite found; every other SQLite
failure is a :class:`StoreError` naming the file too.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import astuple, dataclass, fields
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar

from mri_bench.errors import StoreError

try:  # POSIX; elsewhere a second writer is caught by SQLite's own checks only
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

STORE_NAME = "results.sqlite"
#: Lock file beside the store, held by the one process writing to it.
LOCK_SUFFIX = ".lock"
_T = TypeVar("_T")
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
        existed = self.path.is_file() and self.path.stat().st_size > 0
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the results store ({exc})") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            if existed:
                self._check_integrity()
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(f"{self.path}: not a usable results store ({exc})") from None
        except StoreError:
            self._db.close()
            raise

    def _check_integrity(self) -> None:
        """Refuse a store whose pages SQLite finds damaged (a torn copy, a bad disk)."""
        found = [str(row[0]) for row in self._db.execute("PRAGMA integrity_check(5)")]
        if found != ["ok"]:
            problem = " ".join(" ".join(found).split())
            if len(problem) > 200:
                problem = problem[:200] + "..."
            raise StoreError(
                f"{self.path}: the results store is damaged ({problem}); restore it from a "
                "copy, or run again into a new --out"
            )

    def _guard(self, action: Callable[[], _T]) -> _T:
        """Run ``action``, turning SQLite's failures into a :class:`StoreError` naming the file."""
        try:
            return action()
        except sqlite3.IntegrityError as exc:
            raise StoreError(
                f"{self.path}: a result is stored twice ({exc}); is another process writing "
                "to this store?"
            ) from None
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path}: cannot use the results store ({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: the results store is damaged ({exc})") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def meta(self, key: str) -> str | None:
        found = self._guard(
            lambda: self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        )
        return None if found is None else str(found[0])

    def set_meta(self, key: str, value: str) -> None:
        self._guard(
            lambda: self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        )

    def add_provenance(self, key: str, record: Mapping[str, Any]) -> None:
        text = json.dumps(record, sort_keys=True)
        self._guard(
            lambda: self._db.execute("INSERT OR IGNORE INTO provenance VALUES (?, ?)", (key, text))
        )

    def provenance(self) -> dict[str, dict[str, Any]]:
        rows = self._guard(
            lambda: self._db.execute("SELECT id, record FROM provenance ORDER BY id").fetchall()
        )
        return {str(key): json.loads(text) for key, text in rows}

    def done(self) -> set[Task]:
        """The (case, scenario, strategy) tasks already stored."""
        rows = self._guard(
            lambda: self._db.execute("SELECT case_id, scenario, strategy FROM tasks").fetchall()
        )
        return {(str(c), str(s), str(t)) for c, s, t in rows}

    def add(self, result: TaskResult) -> None:
        """Store one task's rows and its completion mark in a single transaction."""
        self._guard(lambda: self._add(result))

    def _add(self, result: TaskResult) -> None:
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
        query = (
            f"SELECT {', '.join(COLUMNS)} FROM results "
            "ORDER BY case_id, scenario, strategy, target, region, metric"
        )
        return [_decode(values) for values in self._guard(self._db.execute(query).fetchall)]

    def task_missing(self) -> dict[tuple[str, str], str]:
        """(case, scenario) -> the sequences the scenario removed ("t1n+t2f")."""
        query = "SELECT DISTINCT case_id, scenario, missing FROM tasks"
        rows = self._guard(lambda: self._db.execute(query).fetchall())
        return {(str(c), str(s)): str(m) for c, s, m in rows}

    def seconds_by_strategy(self) -> dict[str, float]:
        """Strategy -> the wall seconds its stored tasks took (completion, segmentation and
        scoring, as each task measured itself): what each strategy costs a run."""
        query = "SELECT strategy, SUM(seconds) FROM tasks GROUP BY strategy ORDER BY strategy"
        rows = self._guard(lambda: self._db.execute(query).fetchall())
        return {str(strategy): float(seconds) for strategy, seconds in rows}

    def check_merge(self, *others: str | PathLike[str]) -> None:
        """Refuse, before anything is written, stores that :meth:`merge` would not take:

        every store must come from this store's config (the first one's when this store is
        new), and a task present in two of them (this one included) must hold the same numbers
        (a shard re-run on other code is a conflict, not a duplicate). Disjoint tasks (other
        scenarios, strategies or cases) are what merging is for.
        """
        with ExitStack() as stack:
            self._check(self._open_all(others, stack))

    def merge(self, *others: str | PathLike[str]) -> int:
        """Copy other stores' tasks, rows and provenance in, all of them or (when
        :meth:`check_merge` refuses one) none; returns the tasks added."""
        with ExitStack() as stack:
            shards = self._open_all(others, stack)
            self._check(shards)
            return self._guard(lambda: self._merge_rows(shards))

    @staticmethod
    def _open_all(others: Sequence[str | PathLike[str]], stack: ExitStack) -> list[ResultStore]:
        opened = []
        for other in others:
            source = Path(other)
            if not source.is_file():
                raise StoreError(f"{source}: no such results store")
            opened.append(stack.enter_context(closing(ResultStore(source))))
        return opened

    def _check(self, shards: Sequence[ResultStore]) -> None:
        digest = self.meta("config_sha256")
        seen = {_key(row): (row.value, self.path) for row in self.rows()}
        for shard in shards:
            theirs = shard.meta("config_sha256")
            if digest is None:
                digest = theirs
            elif theirs != digest:
                raise StoreError(f"{shard.path}: results of another config (digest {theirs})")
            for row in shard.rows():
                value, where = seen.setdefault(_key(row), (row.value, shard.path))
                if not _same(value, row.value):
                    raise StoreError(
                        f"{shard.path}: {_key(row)} is {row.value} there and {value} in {where}"
                    )

    def _merge_rows(self, shards: Sequence[ResultStore]) -> int:
        """Copy the shards' provenance and the tasks this store lacks, in one transaction."""
        added = 0
        with self._transaction():
            for shard in shards:
                if self.meta("config_sha256") is None:
                    for key in ("config_sha256", "config"):
                        value = shard.meta(key)
                        if value is not None:
                            self.set_meta(key, value)
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


@contextmanager
def writer_lock(store: str | PathLike[str]) -> Iterator[Path]:
    """Hold the one-writer lock of ``store`` (``results.sqlite.lock`` beside it).

    A second process asking for it gets a :class:`StoreError` naming the holder (process id,
    host, start time). The lock is the system's (``flock``), so a killed holder releases it.
    """
    path = Path(f"{store}{LOCK_SUFFIX}")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    try:
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = " ".join(handle.read().split()) or "another process"
                raise StoreError(
                    f"{store}: another run is writing to this store ({holder}); wait for it to "
                    "finish or stop it, then resume"
                ) from None
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {started}\n")
        handle.flush()
        yield path
    finally:
        handle.close()


def read_rows(path: str | PathLike[str]) -> list[Row]:
    """Every row of a results file (which must exist)."""
    if not Path(path).is_file():
        raise StoreError(f"{path}: no results store (run `mri-bench run` first)")
    with closing(ResultStore(path)) as store:
        return store.rows()

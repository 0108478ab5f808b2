"""The CSV log of a run: one row per step (or epoch), TensorBoard scalars when asked for.

Rows are appended and flushed one by one, so a killed run keeps every finished row. The columns
are the union of the rows' names: a row that brings a new one (validation scores appear after
the first validation) makes the file be rewritten whole, atomically, so it is never left with a
header that does not fit its rows. A resumed run first drops the rows after the step its state
was saved at, so every step appears once, with the values of the run that produced the weights.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from mri_io.atomic import atomic_write_text
from mri_io.errors import RunFolderError


def tensorboard_writer(install: str = "pip install tensorboard") -> Any:
    """TensorBoard's ``SummaryWriter`` class; without the package, an ImportError naming
    ``install``. Trainers call it before loading data, so a missing package fails at once."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ImportError(f"TensorBoard logging needs tensorboard: {install}") from None
    return SummaryWriter


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else ""
    return str(value)


class MetricLog:
    """Append rows keyed by ``key`` (``"step"`` or ``"epoch"``) to the CSV file ``path``.

    ``resume_after``: the key value a resumed run continues after; later rows are dropped and
    earlier ones kept. ``None`` starts a new log (an existing file is replaced).
    ``tensorboard=True`` also writes every number as a scalar to ``path.parent/tensorboard``;
    without the package, the ImportError names ``install`` (the caller's extra) to run.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        key: str = "step",
        resume_after: int | None = None,
        tensorboard: bool = False,
        install: str = "pip install tensorboard",
    ) -> None:
        self.path = Path(path)
        self.key = key
        self.rows: list[dict[str, str]] = []
        if resume_after is not None and self.path.is_file():
            self.rows = [row for row in self._read() if int(row[key]) <= resume_after]
        self.columns: list[str] = [key]
        for row in self.rows:
            self.columns.extend(name for name in row if name not in self.columns)
        self._rewrite()
        self._file: TextIO = open(self.path, "a", newline="", encoding="utf-8")  # noqa: SIM115
        self._tensorboard: Any = None
        if tensorboard:
            try:
                writer = tensorboard_writer(install)
            except ImportError:
                self._file.close()
                raise
            self._tensorboard = writer(str(self.path.parent / "tensorboard"))

    def _read(self) -> list[dict[str, str]]:
        try:
            with open(self.path, newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise RunFolderError(self.path, f"cannot read the log ({exc})") from None
        if rows and self.key not in rows[0]:
            raise RunFolderError(self.path, f"not a log keyed by {self.key!r}")
        return rows

    def _rewrite(self) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=self.columns, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, text.getvalue())

    def write(self, key: int, values: Mapping[str, Any]) -> None:
        """Record the row of step (or epoch) ``key``; non-finite numbers are left empty."""
        row = {self.key: str(key), **{name: _format(value) for name, value in values.items()}}
        self.rows.append(row)
        new = [name for name in row if name not in self.columns]
        if new:
            self.columns.extend(new)
            self._file.close()
            self._rewrite()
            self._file = open(self.path, "a", newline="", encoding="utf-8")  # noqa: SIM115
        else:
            csv.DictWriter(
                self._file, fieldnames=self.columns, restval="", lineterminator="\n"
            ).writerow(row)
            self._file.flush()
        if self._tensorboard is not None:
            for name, value in values.items():
                if isinstance(value, int | float):
                    self._tensorboard.add_scalar(name, value, key)

    def close(self) -> None:
        """Close the file (and the TensorBoard writer)."""
        self._file.close()
        if self._tensorboard is not None:
            self._tensorboard.close()

    def __enter__(self) -> MetricLog:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

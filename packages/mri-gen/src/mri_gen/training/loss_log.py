"""Loss logging: one CSV row per step (always), TensorBoard scalars when it is installed.

The CSV is the record that survives anything: it is appended and flushed row by row, so a
killed run keeps every finished step, and a resumed run continues the same file. A run killed
between checkpoints has logged steps it will train again after resuming; ``resume_from`` drops
those rows first, so every step appears once, with the values of the run that produced the
weights.
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

from mri_gen.errors import MissingExtraError
from mri_io.atomic import atomic_write_text


def _drop_rows_after(path: Path, step: int) -> None:
    """Rewrite ``path`` (atomically) without the rows of steps after ``step``."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return
    kept = [rows[0], *(row for row in rows[1:] if row and int(row[0]) <= step)]
    if len(kept) == len(rows):
        return
    text = io.StringIO()
    csv.writer(text).writerows(kept)
    atomic_write_text(path, text.getvalue())


class LossLog:
    """Append ``step`` plus named values to ``path``; ``tensorboard=True`` also writes events.

    ``resume_from``: the step a resumed run restarts after; rows of later steps are removed.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        columns: list[str],
        *,
        tensorboard: bool = False,
        resume_from: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.columns = ["step", *columns]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_from is not None and self.path.exists():
            _drop_rows_after(self.path, resume_from)
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        self._file: TextIO = open(self.path, "a", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.DictWriter(self._file, fieldnames=self.columns, restval="")
        if fresh:
            self._writer.writeheader()
            self._file.flush()
        self._tensorboard: Any = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                self.close()
                raise MissingExtraError(
                    'TensorBoard logging needs tensorboard: pip install "mri-gen[tensorboard]"'
                ) from None
            self._tensorboard = SummaryWriter(str(self.path.parent / "tensorboard"))

    def write(self, step: int, values: Mapping[str, float]) -> None:
        """Record one step; unknown names are refused so columns never shift silently."""
        unknown = set(values) - set(self.columns)
        if unknown:
            raise KeyError(f"not a column of {self.path.name}: {sorted(unknown)}")
        row: dict[str, Any] = {"step": step}
        row.update({name: f"{value:.6g}" for name, value in values.items() if math.isfinite(value)})
        self._writer.writerow(row)
        self._file.flush()
        if self._tensorboard is not None:
            for name, value in values.items():
                self._tensorboard.add_scalar(f"loss/{name}", value, step)

    def close(self) -> None:
        self._file.close()
        if self._tensorboard is not None:
            self._tensorboard.close()

    def __enter__(self) -> LossLog:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

"""The CSV training log of a run folder."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from mri_io.atomic import atomic_write_text


class CsvLog:
    """A per-epoch CSV log, rewritten whole and atomically after each epoch.

    Rewriting keeps the file valid if a run is killed mid-write, and lets a resumed run drop
    the rows of epochs after its checkpoint (``keep_until``) so no epoch appears twice.
    Columns are the union of the rows' keys (validation columns appear on later rows).
    """

    def __init__(self, path: Path, keep_until: int) -> None:
        self.path = path
        self.rows: list[dict[str, str]] = []
        if path.is_file() and keep_until > 0:
            with open(path, newline="", encoding="utf-8") as handle:
                self.rows = [
                    row for row in csv.DictReader(handle) if int(row["epoch"]) <= keep_until
                ]

    def add(self, row: dict[str, Any]) -> None:
        """Append one epoch's row and rewrite the file."""
        self.rows.append({key: _format(value) for key, value in row.items()})
        names: list[str] = []
        for existing in self.rows:
            names.extend(key for key in existing if key not in names)
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=names, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, text.getvalue())


def _format(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)

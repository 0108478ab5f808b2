"""Where a recorded measurement comes from: the command, the machine, the date and the load.

Every figure in the docs comes from a script that writes JSON with the command that ran it,
the machine it ran on, the date and the load average before and after, and the docs page
states them next to the figure. The benchmark and measurement scripts take each of them from
here, so that every page states them alike.
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Sequence
from datetime import date
from pathlib import Path

__all__ = ["command_line", "load_average", "machine", "today"]

#: Where Linux names the processor (its ``model name`` line).
CPUINFO = Path("/proc/cpuinfo")

#: The file that marks the repository root: every benchmark runs through its sessions, and it
#: is tracked, so a copy of the working tree without git history has it too.
ROOT_MARKER = "noxfile.py"


def command_line(script: str | Path, argv: Sequence[str]) -> str:
    """``python <script> <argv>``, the script relative to the repository root when it lies
    inside one (the nearest folder above it that holds ``noxfile.py``), as given otherwise.

    Scripts pass ``__file__`` and ``sys.argv[1:]``, so the command reads the same from any
    working directory: ``python packages/mri-seg/benchmarks/train_tiny.py --work DIR``.
    """
    resolved = Path(script).resolve()
    shown = str(script)
    for folder in resolved.parents:
        if (folder / ROOT_MARKER).is_file():
            shown = resolved.relative_to(folder).as_posix()
            break
    return " ".join(["python", shown, *argv])


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in CPUINFO.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine(*, cpu_model: bool = False) -> str:
    """``<platform>, <N> CPUs``, followed by ``, <CPU model>`` with ``cpu_model`` (the
    ``model name`` of /proc/cpuinfo, or what :mod:`platform` knows where that is missing)."""
    described = f"{platform.platform()}, {os.cpu_count()} CPUs"
    return f"{described}, {_cpu_model()}" if cpu_model else described


def load_average() -> list[float]:
    """The 1, 5 and 15-minute load averages, rounded to two decimals."""
    return [round(value, 2) for value in os.getloadavg()]


def today() -> str:
    """Today's local date, ``YYYY-MM-DD``."""
    return date.today().isoformat()

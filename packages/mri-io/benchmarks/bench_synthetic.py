"""Benchmark the synthetic cohort: seconds and peak memory per full-size case, cohort time.

Run from the repository root::

    nox -s bench -- synthetic --cases 3

The results, with the command, the machine, the date and the load average before and after, go
to ``--out`` (default docs/mri-io/synthetic-speed.json, the JSON the docs' figures are rendered
from) and to the terminal.

Each anatomy is measured in its own process pinned to one CPU core, so its peak resident
memory (``resource.getrusage``) is its own. The first case of a process also pays one-off
costs (importing, loading the MNI152 template); it is reported separately from the steady
state. CPU seconds (``time.process_time``) are reported next to wall seconds because on a
shared machine wall time also counts waiting for the core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mri_io.atomic import atomic_write_text
from mri_io.provenance import command_line, load_average, machine, today
from mri_io.synthetic import generate_case
from mri_io.synthetic.case import AnatomyName
from mri_io.synthetic.cohort import write_cohort

#: Where the recorded figures' JSON lives.
OUT = Path(__file__).resolve().parents[3] / "docs" / "mri-io" / "synthetic-speed.json"


def _pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def measure_cases(anatomy: AnatomyName, cases: int) -> dict[str, Any]:
    """Generate ``cases`` full-size four-sequence cases; time each and record peak memory."""
    _pin_to_one_core()
    wall: list[float] = []
    cpu: list[float] = []
    for index in range(cases):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        generate_case(
            index, seed=0, grid="full", tumour="gbm", centre="research-3t", anatomy=anatomy
        )
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    steady_wall = wall[1:] or wall
    steady_cpu = cpu[1:] or cpu
    return {
        "anatomy": anatomy,
        "cases": cases,
        "first_case_wall_s": round(wall[0], 2),
        "steady_wall_s_per_case": round(sum(steady_wall) / len(steady_wall), 2),
        "steady_cpu_s_per_case": round(sum(steady_cpu) / len(steady_cpu), 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def measure_cohort(cases: int, workers: int) -> dict[str, Any]:
    """Write a half-grid procedural cohort of ``cases`` cases with ``workers`` processes."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        write_cohort(folder, cases, seed=0, grid="half", workers=workers, progress=False)
        seconds = time.perf_counter() - start
    return {"cohort_cases": cases, "workers": workers, "wall_s": round(seconds, 2)}


def table(results: dict[str, Any]) -> list[str]:
    """The docs' table of a recorded run (docs/mri-io/synthetic.md holds it; a test checks
    that it is this render of the JSON)."""
    before, after = results["load_average_before"][0], results["load_average_after"][0]
    names = {"procedural": "procedural", "mni": "MNI152"}
    lines = [
        f"`{results['command']}`, {results['date']}, {results['machine']}, load average "
        f"{before:.1f} before and {after:.1f} after; each anatomy in its own process pinned to "
        "one core, full-size 240 x 240 x 155 four-sequence glioblastoma cases at `research-3t`:",
        "",
        "| anatomy | CPU s per case (steady) | wall s per case (steady) "
        "| first case wall s (imports, template load) | peak RSS |",
        "|---|---|---|---|---|",
    ]
    for row in results["full_case"]:
        lines.append(
            f"| {names[row['anatomy']]} | {row['steady_cpu_s_per_case']:.2f} "
            f"| {row['steady_wall_s_per_case']:.2f} | {row['first_case_wall_s']:.2f} "
            f"| {row['peak_rss_mib']:.0f} MiB |"
        )
    lines += ["", "| half-grid cohort | processes | wall s |", "|---|---|---|"]
    for row in results["cohort"]:
        lines.append(f"| {row['cohort_cases']} cases | {row['workers']} | {row['wall_s']:.1f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=3, help="full-size cases per anatomy")
    parser.add_argument("--cohort", type=int, default=20, help="half-grid cohort size")
    parser.add_argument("--one", choices=("procedural", "mni"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=OUT, help="the JSON to write")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_cases(args.one, args.cases)))
        return
    results: dict[str, Any] = {
        "command": command_line(__file__, sys.argv[1:]),
        "machine": machine(),
        "python": platform.python_version(),
        "date": today(),
        "load_average_before": load_average(),
        "full_case": [],
        "cohort": [],
    }
    for anatomy in ("procedural", "mni"):
        output = subprocess.run(
            [sys.executable, __file__, "--one", anatomy, "--cases", str(args.cases)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results["full_case"].append(json.loads(output))
    for workers in (1, 2):
        results["cohort"].append(measure_cohort(args.cohort, workers))
    results["load_average_after"] = load_average()
    text = json.dumps(results, indent=2) + "\n"
    atomic_write_text(args.out, text)
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()

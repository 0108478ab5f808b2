"""Benchmark the synthetic cohort: seconds and peak memory per full-size case, cohort time.

Run from the repository root::

    python packages/mri-io/benchmarks/bench_synthetic.py --cases 3

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
from typing import Any

from mri_io.synthetic import generate_case
from mri_io.synthetic.case import AnatomyName
from mri_io.synthetic.cohort import write_cohort


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=3, help="full-size cases per anatomy")
    parser.add_argument("--cohort", type=int, default=20, help="half-grid cohort size")
    parser.add_argument("--one", choices=("procedural", "mni"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_cases(args.one, args.cases)))
        return
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
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
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""SynthTumour stage-1 synthesis cost: CPU seconds to draw and paint one training sample.

Stage 1 synthesises every training sample on the fly (a tumour drawn in a healthy brain and
painted into its four sequences), so its cost bounds how fast the junior model trains. For
each grid (4, 2 and 1 mm, the BraTS field of view), one healthy synthetic brain is generated
and ``--samples`` tumours are synthesised in it with fixed seeds, on one thread; the first
sample, which also computes the brain's depth map (kept for later samples), is timed apart.
Appends a run (command, the commit of the synthesis code it timed, machine, date, load
average, per grid: shape, first-sample and per-sample CPU and wall seconds) to the JSON list in
``--out``; CPU seconds are the figure to compare on a shared machine:

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python packages/mri-seg/benchmarks/synthesis_speed.py \
        --out docs/mri-seg/synthesis_speed.json

An earlier version of the code is timed by putting its checkout first on the path, e.g.
``git worktree add /tmp/old <commit>`` and ``PYTHONPATH=/tmp/old/packages/mri-seg/src``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from mri_io.nifti import new_volume
from mri_io.provenance import command_line, load_average, machine, today
from mri_io.synthetic import FULL_GRID, generate_case
from mri_seg.synthtumour import ShapeModel, tumours
from mri_seg.synthtumour.data import BrainStack, synthesise

SEQUENCES = ("t1n", "t1c", "t2w", "t2f")


def brain_at(voxel_mm: int) -> BrainStack:
    """A healthy synthetic brain of the BraTS field of view at ``voxel_mm``."""
    grid = FULL_GRID.coarsened(voxel_mm) if voxel_mm > 1 else FULL_GRID
    case = generate_case(0, seed=0, grid=grid, tumour="none", centre="research-3t")
    stack = np.stack([case.images[key].astype(np.float32) for key in SEQUENCES])
    spacing = tuple(float(v) for v in grid.spacing)
    return BrainStack(case.case_id, stack, (spacing[0], spacing[1], spacing[2]),
                      new_volume(stack[0], case.affine))  # fmt: skip


def timed_sample(brain: BrainStack, seed: int) -> tuple[float, float]:
    """CPU and wall seconds of one synthesised sample."""
    cpu, wall = time.process_time(), time.perf_counter()
    synthesise(brain, SEQUENCES, ShapeModel(), np.random.default_rng(seed), hard=False)
    return time.process_time() - cpu, time.perf_counter() - wall


def measure(voxel_mm: int, samples: int) -> dict[str, Any]:
    brain = brain_at(voxel_mm)
    first_cpu, first_wall = timed_sample(brain, 0)
    costs = [timed_sample(brain, seed) for seed in range(1, samples + 1)]
    return {
        "voxel_mm": voxel_mm,
        "shape": list(brain.images.shape[1:]),
        "first_sample_cpu_seconds": round(first_cpu, 3),
        "first_sample_wall_seconds": round(first_wall, 3),
        "cpu_seconds_per_sample": round(float(np.mean([c for c, _ in costs])), 3),
        "wall_seconds_per_sample": round(float(np.mean([w for _, w in costs])), 3),
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--grids", type=int, nargs="+", default=[4, 2, 1])
    args = parser.parse_args()
    load_before = load_average()
    results = [measure(voxel, args.samples) for voxel in args.grids]
    code = Path(tumours.__file__).resolve()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=False, cwd=code.parent,
    ).stdout.strip()  # fmt: skip
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--", str(code.parent)],
        capture_output=True, text=True, check=False, cwd=code.parent,
    ).stdout.strip()  # fmt: skip
    record = {
        "command": command_line(__file__, sys.argv[1:]),
        "code": f"mri_seg.synthtumour of commit {commit}"
        + (" with uncommitted changes" if changed else ""),
        "machine": f"{machine()} shared with other jobs, one torch/OpenMP thread",
        "date": today(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "results": results,
    }
    runs = json.loads(args.out.read_text()) if args.out.is_file() else []
    args.out.write_text(json.dumps([*runs, record], indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""Synthesis time of one missing sequence of a full-size (240x240x155) case.

Writes one full-grid synthetic case (four sequences, 1 mm), hides its t2f and times
``Synthesiser.synthesise`` end to end (normalisation, slicing, batched generation, re-stacking,
de-normalisation, background vote) with a seeded, untrained generator of the chosen preset and
the thesis' intensity statistics. Speed does not depend on the weights. The ``tiny`` preset takes
128 px slices, so it runs on the half grid (120x120x78) instead.

    python packages/mri-gen/benchmarks/bench_synthesis.py --preset paper --repeats 2
    python packages/mri-gen/benchmarks/bench_synthesis.py --preset paper --device cuda --bf16

Prints one JSON line with the command, machine, date and seconds per volume.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Literal, cast

import torch

from mri_gen.hfgan.config import PRESETS
from mri_gen.hfgan.generator import HFGANGenerator
from mri_gen.hfgan.inference import Synthesiser
from mri_gen.hfgan.run import resolve_stats
from mri_io.case import load_case
from mri_io.layouts import scan_cases
from mri_io.provenance import load_average, today
from mri_io.slicing import View
from mri_io.synthetic.cohort import write_cohort
from mri_io.training import resolve_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="paper")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--views", default="axial", help="comma-separated, e.g. axial,sagittal")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = PRESETS[args.preset].generator
    grid: Literal["full", "half"] = "full" if config.image_size >= 240 else "half"
    with tempfile.TemporaryDirectory() as folder:
        write_cohort(Path(folder), 1, seed=0, centres=("research-3t",), grid=grid, progress=False)
        files = scan_cases(folder)[0]
        case = load_case(files)
    case = replace(case, images={k: v for k, v in case.images.items() if k != "t2f"})
    torch.manual_seed(0)
    device = resolve_device(args.device)
    generator = HFGANGenerator(config).to(device).eval()
    stats = resolve_stats("brasyn25", [], config.sequences)
    synthesiser = Synthesiser(generator, stats, device, args.batch_size, args.bf16)
    views = tuple(cast(View, view) for view in args.views.split(","))
    load = load_average()
    times = []
    for _ in range(args.repeats + 1):  # the first call warms up kernels and allocators
        started = time.perf_counter()
        synthesiser.synthesise(case, views)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    shape = next(iter(case.images.values())).shape
    print(
        json.dumps(
            {
                "command": " ".join(sys.argv),
                "date": today(),
                "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
                "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                "preset": args.preset,
                "volume": list(shape),
                "views": list(views),
                "bf16": args.bf16,
                "seconds_per_volume_median": statistics.median(times[1:]),
                "seconds_per_volume_fastest": min(times[1:]),
                "first_call_seconds": times[0],
                "load_average_1_5_15_min": {"start": load, "end": load_average()},
            }
        )
    )


if __name__ == "__main__":
    main()

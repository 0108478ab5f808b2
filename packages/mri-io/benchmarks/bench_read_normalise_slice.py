"""Read, z-score and slice one BraTS-sized case: mri-io against plain nibabel + numpy.

Writes a realistic random 4-sequence case (240x240x155, int16, gzip-compressed NIfTI, a brain
ellipsoid with heavy-tailed intensities on a zero background) to a temporary folder, then times,
in the same run and interleaved, two ways to go from files to the stack of axial slices a 2D
generator eats:

- ``mri-io``: ``load_volume`` + ``check_finite`` + ``Normaliser("zscore-dataset", BRASYN25)``
  + ``SliceLayout.slices`` (with the foreground filter of the thesis);
- ``nibabel+numpy``: ``nib.load(...).get_fdata(dtype=float32)``, clip, z-score, background -1,
  ``np.moveaxis``, the same filter, written the way a script would.

Run: ``nox -s bench -- read-normalise-slice [--repeats 9]``. Prints each way's median and
writes every timing with the command, the machine, the date and the load average before and
after to ``--out`` (default docs/mri-io/read-normalise-slice.json, the JSON the docs' figures
are rendered from).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from numpy.typing import NDArray

from mri_io.atomic import atomic_write_text
from mri_io.intensity import BRASYN25, Normaliser
from mri_io.nifti import (
    BRATS_AFFINE,
    BRATS_SHAPE,
    check_finite,
    load_volume,
    new_volume,
    save_volume,
)
from mri_io.provenance import command_line, load_average, machine, today
from mri_io.sequences import SEQUENCES
from mri_io.slicing import MIN_FOREGROUND, SliceLayout, select_slices

#: Where the recorded figures' JSON lives.
OUT = Path(__file__).resolve().parents[3] / "docs" / "mri-io" / "read-normalise-slice.json"


def write_case(folder: Path, seed: int = 0) -> dict[str, Path]:
    """A BraTS 2023-style case with smooth brain-like intensities and a few outliers."""
    rng = np.random.default_rng(seed)
    grid = np.meshgrid(
        *[np.linspace(-1, 1, n, dtype=np.float32) for n in BRATS_SHAPE], indexing="ij"
    )
    radius = grid[0] ** 2 / 0.7**2 + grid[1] ** 2 / 0.85**2 + grid[2] ** 2 / 0.8**2
    brain = radius < 1
    paths = {}
    for index, name in enumerate(SEQUENCES):
        base = 600 + 400 * index + 300 * np.cos(3 * grid[0] + index) * np.sin(2 * grid[1])
        noise = rng.lognormal(0.0, 0.25, BRATS_SHAPE).astype(np.float32)
        values = np.where(brain, base * noise, 0).astype(np.float32)
        values[brain & (rng.random(BRATS_SHAPE) < 1e-4)] = 30000
        path = folder / f"BraTS-GLI-00000-000-{name}.nii.gz"
        save_volume(new_volume(values.round().astype(np.int16), BRATS_AFFINE), path, dtype=np.int16)
        paths[name] = path
    return paths


def with_mri_io(paths: dict[str, Path]) -> NDArray[Any]:
    channels = []
    for name, path in paths.items():
        volume = load_volume(path)
        check_finite(volume)
        channels.append(Normaliser("zscore-dataset", BRASYN25[name]).forward(volume.data).data)
    stack = np.stack(channels)
    layout = SliceLayout.square(stack.shape[1:], "axial")
    keep = select_slices(stack, "axial", MIN_FOREGROUND, background=-1.0)
    return layout.slices(stack, keep, pad=-1.0)


def with_nibabel(paths: dict[str, Path]) -> NDArray[Any]:
    channels = []
    for name, path in paths.items():
        image: Any = nib.load(path)
        data = np.asarray(image.get_fdata(dtype=np.float32))
        stats = BRASYN25[name]
        brain = data > 0
        scaled = (np.minimum(data, stats.clip) - stats.mean) / stats.std
        channels.append(np.where(brain, scaled, -1.0).astype(np.float32))
    stack = np.stack(channels)
    counts = (stack != -1.0).sum(axis=(1, 2))
    keep = np.flatnonzero((counts >= MIN_FOREGROUND).all(axis=0))
    return np.moveaxis(stack, -1, 0)[keep]


def provenance(record: dict[str, Any]) -> str:
    """The sentence that says where a recorded table comes from: command, date, machine, load."""
    before, after = record["load_average_before"][0], record["load_average_after"][0]
    return (
        f"`{record['command']}`, {record['date']}, {record['machine']}, load average "
        f"{before:.1f} before and {after:.1f} after the run."
    )


def table(record: dict[str, Any]) -> list[str]:
    """The docs' table of a recorded run (docs/mri-io/normalisation-and-slicing.md holds it;
    a test checks that it is this render of the JSON)."""
    lines = [provenance(record) + " Seconds per case:", ""]
    lines += [
        "| pipeline | median | fastest | slowest | repeats |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, values in record["seconds"].items():
        lines.append(
            f"| {name} | {statistics.median(values):.3f} | {min(values):.3f} "
            f"| {max(values):.3f} | {len(values)} |"
        )
    return lines


def median_seconds(function: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUT, help="the JSON to write")
    args = parser.parse_args()
    load_before = load_average()
    with tempfile.TemporaryDirectory() as temporary:
        paths = write_case(Path(temporary))
        ours, theirs = with_mri_io(paths), with_nibabel(paths)
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
        print(f"slices: {ours.shape} float32, identical up to float32 rounding")
        timings: dict[str, list[float]] = {"mri-io": [], "nibabel+numpy": []}
        for _ in range(args.repeats):  # interleaved, so both see the same machine state
            timings["mri-io"] += median_seconds(lambda: with_mri_io(paths), 1)
            timings["nibabel+numpy"] += median_seconds(lambda: with_nibabel(paths), 1)
    for name, values in timings.items():
        spread = ", ".join(f"{v:.3f}" for v in values)
        print(f"{name:<14} median {statistics.median(values):.3f} s  ({spread})")
    record = {
        "command": command_line(__file__, sys.argv[1:]),
        "machine": machine(),
        "date": today(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "case": "240x240x155, 4 sequences, int16 gzip NIfTI",
        "slices": list(ours.shape),
        "seconds": {name: [round(v, 4) for v in values] for name, values in timings.items()},
    }
    atomic_write_text(args.out, json.dumps(record, indent=1) + "\n")
    print("\n".join(table(record)))


if __name__ == "__main__":
    main()

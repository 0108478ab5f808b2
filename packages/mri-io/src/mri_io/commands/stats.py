"""``mri-io stats``: dataset-wide intensity statistics of a cohort, written as JSON.

The statistics are exact (see :class:`mri_io.intensity.StatsAccumulator`), which takes two
passes over the cohort: the first finds the percentile at which to clip, the second the mean
and standard deviation after clipping. Only one case is in memory at a time.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from numpy.typing import NDArray
from tqdm import tqdm

from mri_io.atomic import check_not_an_input
from mri_io.errors import EmptyCohortError, OutputCollisionError
from mri_io.intensity import DEFAULT_PERCENTILE, StatsAccumulator, save_stats
from mri_io.layouts import CaseFiles, scan_cases
from mri_io.nifti import check_finite, load_volume

DESCRIPTION = """\
Compute per-sequence intensity statistics over every case in DIR and write them as JSON.

Negatives are clamped to 0 and only voxels > 0 (the brain) count. For each sequence the JSON
holds the PERCENTILE-th percentile (the clip value), then the mean and standard deviation of
the voxels clipped at it: exactly what `mri-io normalise --stats` needs, and exactly what
numpy computes on all the cases' voxels concatenated. Reads each case twice."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``stats`` sub-command."""
    parser = commands.add_parser(
        "stats",
        help="dataset-wide intensity statistics (clip, mean, std) as JSON",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", type=Path, metavar="DIR", help="folder of BraTS-style cases")
    parser.add_argument("--out", type=Path, required=True, help="statistics JSON to write")
    parser.add_argument(
        "--percentile",
        type=float,
        default=DEFAULT_PERCENTILE,
        help="foreground percentile to clip at (default: %(default)s)",
    )
    parser.set_defaults(handler=run_stats)


def _sequences(cases: Sequence[CaseFiles], description: str) -> Iterator[tuple[str, NDArray[Any]]]:
    for case in tqdm(cases, desc=description, unit="case"):
        for name, path in sorted(case.sequences.items()):
            volume = load_volume(path)
            check_finite(volume)
            yield name, volume.data


def _check_output(out: Path, cases: Sequence[CaseFiles]) -> None:
    """Refuse an output path that is an existing folder or one of the cohort's own files."""
    if out.is_dir():
        raise OutputCollisionError(out, "is a folder; give the statistics JSON file to write")
    check_not_an_input(out, cases)


def run_stats(args: argparse.Namespace) -> int:
    """Stream twice over the cases in ``args.folder`` and write the statistics JSON."""
    folder: Path = args.folder
    if not 0 <= args.percentile <= 100:
        raise ValueError(f"--percentile must lie in [0, 100], got {args.percentile}")
    cases = scan_cases(folder)
    _check_output(args.out, cases)
    accumulators: dict[str, StatsAccumulator] = {}
    for name, data in _sequences(cases, "statistics, pass 1/2"):
        accumulators.setdefault(name, StatsAccumulator(args.percentile)).add_first_pass(data)
    empty = sorted(name for name, acc in accumulators.items() if not acc.has_foreground)
    if empty:
        raise EmptyCohortError(folder, f"no voxel > 0 in any {', '.join(empty)} volume")
    for name, data in _sequences(cases, "statistics, pass 2/2"):
        accumulators[name].add_second_pass(data)
    stats = {name: acc.result() for name, acc in accumulators.items()}
    path = save_stats(stats, args.out)
    print(f"{'sequence':<9} {'clip':>12} {'mean':>12} {'std':>12} {'voxels':>12}")
    for name, value in sorted(stats.items()):
        print(
            f"{name:<9} {value.clip:>12.2f} {value.mean:>12.2f} {value.std:>12.2f}"
            f" {value.count:>12d}"
        )
    print(f"wrote {path} ({len(cases)} cases)")
    return 0

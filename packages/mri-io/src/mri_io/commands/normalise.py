"""``mri-io normalise``: write a normalised copy of a cohort, one case folder per case.

Each output case folder is written whole into a hidden temporary sibling and renamed into place
when complete, so an interrupted run leaves no half-written case that a scan would read. An
output folder inside the input (or around it) and two cases with one id are refused.

Each output case folder mirrors its input: the same file names, the same affine and header,
float32 data. The segmentation, if any, is copied byte for byte. Next to the images,
``normalisation.json`` records the map applied to each sequence
(:class:`mri_io.intensity.NormalisationParams`), so :meth:`Normaliser.inverse` can bring a
generated or processed volume back to scanner intensities, even for per-volume schemes whose
statistics exist nowhere else. Missing sequences stay missing (detected by absence).
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Mapping
from pathlib import Path

from tqdm import tqdm

from mri_io.atomic import atomic_folder, atomic_write, atomic_write_text, check_apart
from mri_io.errors import NormaliseInputError
from mri_io.intensity import (
    PRESETS,
    SCHEMES,
    IntensityStats,
    Normaliser,
    Scheme,
    load_stats,
)
from mri_io.layouts import CaseFiles, check_unique_case_ids, scan_cases
from mri_io.nifti import check_finite, load_volume, save_volume

#: File written into every output case folder with the per-sequence parameters.
PARAMS_FILE = "normalisation.json"

DESCRIPTION = """\
Normalise every case in DIR and write it to OUT with the same folder and file names.

Statistics (choose one):
  --stats FILE      dataset statistics from `mri-io stats` (default scheme zscore-dataset)
  --preset brasyn25 the BraSyn25 training-set statistics of the HF-GAN thesis
  --per-volume      each volume's own statistics (default scheme zscore-volume)

Schemes: zscore-dataset / zscore-volume (background -1), minmax-1-1 ([0, clip] -> [-1, 1]),
uint8-0-255 ([0, clip] -> [0, 255], stored as float32, background 0). Every scheme clamps
negatives to 0 and clips at the 99.5th foreground percentile first. The parameters of each
volume are written to OUT/CASE/normalisation.json so the normalisation can be inverted."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``normalise`` sub-command (``normalize``: its earlier spelling, still accepted)."""
    parser = commands.add_parser(
        "normalise",
        aliases=["normalize"],
        help="write intensity-normalised float32 copies of every case",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", type=Path, metavar="DIR", help="folder of BraTS-style cases")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stats", type=Path, help="statistics JSON written by `mri-io stats`")
    source.add_argument("--preset", choices=sorted(PRESETS), help="published statistics")
    source.add_argument("--per-volume", action="store_true", help="each volume's own statistics")
    parser.add_argument("--scheme", choices=SCHEMES, help="normalisation scheme (see above)")
    parser.set_defaults(handler=run_normalise)


def _choose(args: argparse.Namespace) -> tuple[Scheme, Mapping[str, IntensityStats] | None]:
    """The scheme and the dataset statistics (None for per-volume) the options ask for."""
    stats: Mapping[str, IntensityStats] | None
    if args.per_volume:
        stats = None
    elif args.stats is not None:
        stats = load_stats(args.stats)
    else:
        stats = PRESETS[args.preset]
    default: Scheme = "zscore-volume" if stats is None else "zscore-dataset"
    scheme: Scheme = args.scheme or default
    if scheme == "zscore-dataset" and stats is None:
        raise ValueError("--scheme zscore-dataset needs --stats or --preset, not --per-volume")
    if scheme == "zscore-volume" and stats is not None:
        raise ValueError("--scheme zscore-volume takes no dataset statistics: use --per-volume")
    return scheme, stats


def _normalise_case(
    case: CaseFiles,
    out: Path,
    scheme: Scheme,
    stats: Mapping[str, IntensityStats] | None,
    stats_source: str,
) -> None:
    with atomic_folder(out / case.case_id) as folder:
        _write_case(case, folder, scheme, stats, stats_source)


def _write_case(
    case: CaseFiles,
    folder: Path,
    scheme: Scheme,
    stats: Mapping[str, IntensityStats] | None,
    stats_source: str,
) -> None:
    params = {}
    for name, path in sorted(case.sequences.items()):
        if stats is not None and name not in stats:
            raise NormaliseInputError(stats_source, f"no statistics for sequence {name!r}")
        volume = load_volume(path)
        check_finite(volume)
        normaliser = Normaliser(scheme, None if stats is None else stats[name])
        result = normaliser.forward(volume.data)
        save_volume(volume.with_data(result.data), folder / path.name, dtype="float32")
        params[name] = {"file": path.name, **result.params.to_json()}
    if case.seg is not None:
        with atomic_write(folder / case.seg.name) as temporary:
            shutil.copyfile(case.seg, temporary)
    document = {"case": case.case_id, "scheme": scheme, "sequences": params}
    atomic_write_text(folder / PARAMS_FILE, json.dumps(document, indent=2) + "\n")


def run_normalise(args: argparse.Namespace) -> int:
    """Normalise every case under ``args.folder`` into ``args.out``."""
    folder: Path = args.folder
    out: Path = args.out
    scheme, stats = _choose(args)
    check_apart(folder, out)
    cases = scan_cases(folder)
    check_unique_case_ids(cases)
    stats_source = str(args.stats) if args.stats is not None else f"preset {args.preset}"
    for case in tqdm(cases, desc=f"normalise ({scheme})", unit="case"):
        _normalise_case(case, out, scheme, stats, stats_source)
    print(f"wrote {len(cases)} normalised cases ({scheme}) to {out}")
    return 0

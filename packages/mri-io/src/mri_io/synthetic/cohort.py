"""Writing a synthetic cohort as BraTS 2023 case folders with a manifest.

Each case goes to ``OUT/BraTS-GLI-00000-000/BraTS-GLI-00000-000-{t1n,t1c,t2w,t2f,seg}.nii.gz``
(sequences a centre does not acquire are absent, as in BraSyn), images as int16 scanner units
(or float32 on request), labels as uint8, every file with the grid's affine. Cases are generated
in worker processes; since each depends only on ``(seed, index)`` the result does not depend on
the number of workers. ``cohort.json`` records what was drawn for every case.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from mri_io.__about__ import __version__
from mri_io.atomic import atomic_folder, atomic_write_text
from mri_io.errors import MriIoError
from mri_io.layouts import MANIFEST, brats2023_filename
from mri_io.nifti import new_volume, save_volume
from mri_io.processes import process_pool
from mri_io.synthetic.case import (
    GENERATOR_VERSION,
    AnatomyName,
    SyntheticCase,
    TumourChoice,
    case_id,
    generate_case,
)
from mri_io.synthetic.centres import CENTRES, Centre, resolve_centre
from mri_io.synthetic.grid import Grid, GridName

ImageDtype = Literal["int16", "float32"]


@dataclass(frozen=True)
class _Job:
    index: int
    seed: int
    out_dir: Path
    grid: GridName | Grid
    tumour: TumourChoice
    centres: tuple[str | Centre, ...]
    anatomy: AnatomyName
    dtype: ImageDtype


def write_case(case: SyntheticCase, out_dir: Path, *, dtype: ImageDtype = "int16") -> Path:
    """Write one case's folder under ``out_dir`` and return the folder.

    The folder is written whole into a hidden sibling and renamed into place
    (:func:`mri_io.atomic.atomic_folder`): a stopped run never leaves a folder that a scan
    would read as a case with missing sequences."""
    target = Path(out_dir) / case.case_id
    with atomic_folder(target) as folder:
        for sequence, image in case.images.items():
            if dtype == "int16":
                data = np.clip(np.rint(image), 0, np.iinfo(np.int16).max).astype(np.int16)
            else:
                data = image.astype(np.float32)
            save_volume(
                new_volume(data, case.affine), folder / brats2023_filename(case.case_id, sequence)
            )
        save_volume(
            new_volume(case.labels, case.affine),
            folder / brats2023_filename(case.case_id, "seg"),
            dtype=np.uint8,
        )
    return target


def _run(job: _Job) -> dict[str, Any]:
    case = generate_case(
        job.index,
        seed=job.seed,
        grid=job.grid,
        tumour=job.tumour,
        centre=list(job.centres),
        anatomy=job.anatomy,
    )
    write_case(case, job.out_dir, dtype=job.dtype)
    return case.metadata()


def write_cohort(
    out_dir: str | os.PathLike[str],
    n_cases: int,
    *,
    seed: int,
    centres: Sequence[str | Centre] | None = None,
    tumour: TumourChoice = "mix",
    grid: GridName | Grid = "half",
    anatomy: AnatomyName = "procedural",
    workers: int = 1,
    dtype: ImageDtype = "int16",
    overwrite: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Generate ``n_cases`` cases into ``out_dir`` and return their folders, in index order.

    ``centres`` are drawn from per case (all of :data:`CENTRES` by default). A non-empty
    ``out_dir`` is refused unless ``overwrite`` is set, so a cohort is never silently mixed
    with other files. ``workers`` processes generate cases in parallel; ``progress`` shows a
    tqdm bar on stderr.
    """
    target = Path(out_dir)
    if n_cases < 1:
        raise ValueError(f"the number of cases must be at least 1, got {n_cases}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if dtype not in ("int16", "float32"):
        raise ValueError(f"image dtype must be 'int16' or 'float32', got {dtype!r}")
    if target.exists() and not target.is_dir():
        raise MriIoError(target, "output path exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise MriIoError(
            target, "output folder is not empty; pass overwrite=True (--overwrite) to write into it"
        )
    chosen = tuple(CENTRES) if centres is None else tuple(centres)
    for centre in chosen:
        resolve_centre(centre)  # fail on a misspelt name before any work is done
    target.mkdir(parents=True, exist_ok=True)
    jobs = [
        _Job(index, seed, target, grid, tumour, chosen, anatomy, dtype) for index in range(n_cases)
    ]
    bar = tqdm(total=n_cases, desc="synthetic cases", unit="case", disable=not progress)
    records: list[dict[str, Any]] = []
    with bar:
        if workers == 1:
            for job in jobs:
                records.append(_run(job))
                bar.update()
        else:
            with process_pool(workers) as pool:
                for record in pool.map(_run, jobs):
                    records.append(record)
                    bar.update()
    manifest = {
        "generator": "mri_io.synthetic",
        "generator_version": GENERATOR_VERSION,
        "mri_io_version": __version__,
        "seed": seed,
        "grid": (
            grid
            if isinstance(grid, str)
            else {"shape": list(grid.shape), "affine": grid.affine.tolist()}
        ),
        "anatomy": anatomy,
        "tumour": tumour,
        "centres": [resolve_centre(c).name for c in chosen],
        "dtype": dtype,
        "cases": records,
    }
    atomic_write_text(target / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return [target / case_id(index) for index in range(n_cases)]

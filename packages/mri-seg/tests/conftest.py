"""Shared fixtures: a small synthetic cohort on a 4 mm grid (60 x 60 x 39 voxels)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mri_io.synthetic import FULL_GRID
from mri_io.synthetic.cohort import write_cohort

#: 4 mm voxels: big enough to hold a brain and a tumour, small enough for CPU unit tests.
SMALL_GRID = FULL_GRID.coarsened(4)


@pytest.fixture(scope="session")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four glioblastoma cases with all four sequences, BraTS 2023 names."""
    folder = tmp_path_factory.mktemp("cohort")
    write_cohort(
        folder, 4, seed=11, centres=["research-3t"], tumour="gbm", grid=SMALL_GRID, progress=False
    )
    return folder


@pytest.fixture(scope="session")
def case_dir(cohort: Path) -> Path:
    """The folder of the cohort's first case."""
    return cohort / "BraTS-GLI-00000-000"


@pytest.fixture
def case_without_flair(case_dir: Path, tmp_path: Path) -> Path:
    """A copy of the first case without its T2-FLAIR file (BraSyn style)."""
    folder = tmp_path / case_dir.name
    shutil.copytree(case_dir, folder)
    (folder / f"{case_dir.name}-t2f.nii.gz").unlink()
    return folder

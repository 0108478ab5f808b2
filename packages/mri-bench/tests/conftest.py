"""Shared test data for mri-bench: small cases with known sequence relations, a tiny synthetic
cohort and an untrained tiny segmenter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mri_io.synthetic import write_cohort
from mri_io.synthetic.grid import FULL_GRID

Array = np.ndarray[Any, np.dtype[np.float64]]

CaseFactory = Callable[[np.random.Generator], dict[str, Array]]


def _make_case(rng: np.random.Generator) -> dict[str, Array]:
    """t1c follows t1n, t2w is its negative image, t2f is independent; background is zero."""
    shape = (12, 10, 8)
    brain = np.zeros(shape, dtype=bool)
    brain[2:-2, 2:-2, 1:-1] = True
    base = rng.uniform(100, 1000, shape)
    images = {
        "t1n": base,
        "t1c": 1.5 * base + rng.normal(0, 20, shape),
        "t2w": 2000 - base + rng.normal(0, 20, shape),
        "t2f": rng.uniform(100, 1000, shape),
    }
    return {key: np.where(brain, image, 0.0) for key, image in images.items()}


@pytest.fixture
def make_case() -> CaseFactory:
    return _make_case


@pytest.fixture(scope="session")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six small synthetic cases (30 x 30 x 20 voxels of 8 mm) from two centres."""
    folder = tmp_path_factory.mktemp("cohort")
    write_cohort(
        folder,
        6,
        seed=3,
        centres=["research-3t", "clinical-1.5t"],
        grid=FULL_GRID.coarsened(8),
        anatomy="procedural",
        progress=False,
        overwrite=True,
    )
    return folder


@pytest.fixture(scope="session")
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny 3D U-Net: a fixed, deterministic segmenter for glue tests."""
    import torch

    from mri_seg import UNet3D

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("segmenter")
    UNet3D.from_preset("tiny", roi_size=(32, 32, 24)).save_pretrained(folder)
    return folder

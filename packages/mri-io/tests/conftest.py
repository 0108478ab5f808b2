"""Shared fixtures of the mri-io tests: small synthetic cases, generated once per session."""

from __future__ import annotations

import pytest

from mri_io.synthetic import FULL_GRID, Grid, SyntheticCase, generate_case

#: The BraTS field of view at 3 mm (80 x 80 x 52): big enough for every tumour model's shape,
#: small enough that a case takes a fraction of a second.
SMALL_GRID: Grid = FULL_GRID.coarsened(3)

#: Seed of the session's cases.
SEED = 2024


@pytest.fixture(scope="session")
def small_grid() -> Grid:
    return SMALL_GRID


@pytest.fixture(scope="session")
def synthetic_cases() -> dict[str, list[SyntheticCase]]:
    """Three cases of each tumour kind at 3 mm, from the isotropic low-noise centre."""
    return {
        kind: [
            generate_case(index, seed=SEED, grid=SMALL_GRID, tumour=kind, centre="research-3t")
            for index in range(3)
        ]
        for kind in ("gbm", "met", "men", "none")
    }

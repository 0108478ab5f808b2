"""Shared test data for mri-bench: small complete cases with known sequence relations."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

CaseFactory = Callable[[np.random.Generator], dict[str, np.ndarray]]


def _make_case(rng: np.random.Generator) -> dict[str, np.ndarray]:
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

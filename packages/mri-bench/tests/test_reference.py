"""Sequence correlations and histograms learnt from training cases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mri_bench.reference import SequenceReference, estimate_reference, unit_scale

Array = np.ndarray[Any, np.dtype[np.float64]]

CaseFactory = Callable[[np.random.Generator], dict[str, Array]]


def test_correlations_of_one_case_equal_numpy(make_case: CaseFactory) -> None:
    case = make_case(np.random.default_rng(0))
    reference = estimate_reference([case])
    brain = case["t1n"] > 0
    for a in case:
        for b in case:
            expected = 1.0 if a == b else np.corrcoef(case[a][brain], case[b][brain])[0, 1]
            assert reference.correlation[a][b] == pytest.approx(expected, abs=1e-9)


def test_most_correlated_signed_and_absolute(make_case: CaseFactory) -> None:
    reference = estimate_reference([make_case(np.random.default_rng(s)) for s in range(3)])
    assert reference.n_cases == 3
    assert reference.correlation["t2w"]["t1n"] < -0.9
    # Signed: t2w is best replaced by t2f (near zero) rather than its negative image t1n.
    assert reference.most_correlated("t2w", ["t1n", "t2f"], absolute=False) == "t2f"
    assert reference.most_correlated("t2w", ["t1n", "t2f"], absolute=True) == "t1n"
    with pytest.raises(ValueError, match="no available sequence"):
        reference.most_correlated("t2w", ["t2w"], absolute=True)


def test_incomplete_reference_case_is_refused(make_case: CaseFactory) -> None:
    case = make_case(np.random.default_rng(0))
    del case["t2f"]
    with pytest.raises(ValueError, match="t2f"):
        estimate_reference([case])


def test_save_load_round_trip(tmp_path: Path, make_case: CaseFactory) -> None:
    reference = estimate_reference([make_case(np.random.default_rng(1))])
    loaded = SequenceReference.load(reference.save(tmp_path / "reference.json"))
    assert loaded == reference


def test_unit_scale_clips_foreground_percentiles_and_keeps_background() -> None:
    rng = np.random.default_rng(2)
    image = rng.uniform(0, 100, (20, 20))
    image[:5] = 0
    foreground = image > 0
    scaled = unit_scale(image, foreground)
    low, high = np.percentile(image[foreground], [0.5, 99.5])
    expected = np.clip((image[foreground] - low) / (high - low), 0, 1)
    np.testing.assert_allclose(scaled[foreground], expected)
    assert np.all(scaled[~foreground] == 0)

"""Completion strategies fill a missing sequence from the available ones."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mri_bench.reference import estimate_reference
from mri_bench.strategies import CopyMatched, CopyMostCorrelated, ZeroFill

CaseFactory = Callable[[np.random.Generator], dict[str, np.ndarray]]


def test_copy_most_correlated_returns_the_signed_best_source(make_case: CaseFactory) -> None:
    rng = np.random.default_rng(0)
    reference = estimate_reference([make_case(rng) for _ in range(2)])
    case = make_case(rng)
    available = {k: v for k, v in case.items() if k != "t1c"}
    completed = CopyMostCorrelated(reference).complete("t1c", available)
    np.testing.assert_array_equal(completed, case["t1n"].astype(np.float32))


def test_copy_matched_inverts_anticorrelated_source_and_matches_histogram(
    make_case: CaseFactory,
) -> None:
    rng = np.random.default_rng(1)
    reference = estimate_reference([make_case(rng) for _ in range(3)])
    case = make_case(rng)
    available = {"t1n": case["t1n"], "t2f": case["t2f"]}
    completed = CopyMatched(reference).complete("t2w", available)
    brain = case["t1n"] > 0
    # Inverted t1n: strongly positively correlated with the real t2w.
    assert np.corrcoef(completed[brain], case["t2w"][brain])[0, 1] > 0.95
    # Its brain histogram follows the target's learnt quantiles.
    quantiles = np.quantile(completed[brain], reference.levels)
    np.testing.assert_allclose(quantiles, reference.quantiles["t2w"], atol=0.03)
    assert np.all(completed[~brain] == 0)


def test_zero_fill(make_case: CaseFactory) -> None:
    case = make_case(np.random.default_rng(2))
    completed = ZeroFill().complete("t2f", {"t1n": case["t1n"]})
    assert completed.shape == case["t1n"].shape
    assert not completed.any()

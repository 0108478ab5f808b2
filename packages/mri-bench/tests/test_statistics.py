"""Paired statistics against scipy, numpy and hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mri_bench.statistics import (
    cohens_d_paired,
    dunn_bonferroni,
    friedman,
    significance_mark,
    summarise,
    wilcoxon_paired,
)


def test_wilcoxon_on_a_textbook_example() -> None:
    # Eight positive differences 1..8: W+ = 36, W- = 0; exact two-sided p = 2 / 2**8.
    b = np.linspace(0.5, 0.6, 8)
    a = b + np.arange(1, 9) / 100
    test = wilcoxon_paired(a, b)
    assert test.n == 8
    assert test.statistic == 0.0
    assert test.p_value == pytest.approx(2 / 2**8, rel=1e-12)
    assert test.median_difference == pytest.approx(0.045)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(6, 40))
def test_wilcoxon_and_effect_size_agree_with_scipy_and_numpy(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    b = rng.uniform(0.5, 0.9, n)
    a = b + rng.normal(0.02, 0.05, n)
    test = wilcoxon_paired(a, b)
    expected = stats.wilcoxon(a, b)
    assert test.statistic == expected.statistic
    assert test.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    d = a - b
    assert test.cohens_d == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-12)


def test_wilcoxon_with_identical_samples_is_not_significant() -> None:
    a = [0.8, 0.7, 0.9]
    test = wilcoxon_paired(a, a)
    assert test.p_value == 1.0
    assert test.cohens_d == 0.0
    with pytest.raises(ValueError, match="differ in length"):
        wilcoxon_paired([1.0, 2.0], [1.0])


def test_cohens_d_by_hand() -> None:
    # differences 1, 2, 3: mean 2, sample sd 1
    assert cohens_d_paired([2, 4, 6], [1, 2, 3]) == pytest.approx(2.0)
    assert cohens_d_paired([2, 3, 4], [1, 2, 3]) == math.inf
    assert math.isnan(cohens_d_paired([1.0], [0.0]))


def test_friedman_by_hand_and_against_scipy() -> None:
    # Every case ranks A > B > C: rank sums 12, 8, 4 over n = 4, k = 3;
    # chi2 = 12 / (n k (k + 1)) * sum(R^2) - 3 n (k + 1) = 56 - 48 = 8; p = exp(-8 / 2).
    groups = {
        "A": [0.9, 0.8, 0.95, 0.7],
        "B": [0.8, 0.7, 0.9, 0.6],
        "C": [0.7, 0.6, 0.85, 0.5],
    }
    result = friedman(groups)
    assert result.statistic == pytest.approx(8.0)
    assert result.p_value == pytest.approx(math.exp(-4.0))
    assert result.mean_ranks == {"A": 3.0, "B": 2.0, "C": 1.0}
    rng = np.random.default_rng(4)
    random_groups = {name: rng.uniform(size=12).tolist() for name in "ABCD"}
    expected = stats.friedmanchisquare(*random_groups.values())
    result = friedman(random_groups)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12)


def test_dunn_bonferroni_by_hand() -> None:
    # Within-case ranks (ties averaged): A 3,2,3,3; B 2,3,1,1.5; C 1,1,2,1.5
    # mean ranks 2.75, 1.875, 1.375; se = sqrt(k (k + 1) / (6 n)) = sqrt(0.5)
    # z(A,B) = 0.875 / 0.70711 = 1.23744 -> p = 0.215925, x3 = 0.647775
    # z(A,C) = 1.375 / 0.70711 = 1.94454 -> p = 0.051830, x3 = 0.155490
    # z(B,C) = 0.5 / 0.70711 = 0.70711  -> p = 0.479500, x3 > 1 -> 1
    groups = {
        "A": [0.9, 0.85, 0.7, 0.95],
        "B": [0.8, 0.86, 0.6, 0.9],
        "C": [0.7, 0.5, 0.65, 0.9],
    }
    adjusted = dunn_bonferroni(groups)
    assert adjusted["A", "B"] == pytest.approx(0.647775, abs=1e-6)
    assert adjusted["A", "C"] == pytest.approx(0.155490, abs=1e-6)
    assert adjusted["B", "C"] == 1.0
    assert friedman(groups).pairwise == adjusted


def test_friedman_needs_three_equal_groups() -> None:
    with pytest.raises(ValueError, match="at least three groups"):
        friedman({"A": [1.0, 2.0], "B": [2.0, 1.0]})
    with pytest.raises(ValueError, match="equal lengths"):
        friedman({"A": [1.0, 2.0], "B": [2.0], "C": [1.0, 1.0]})


def test_summary_matches_numpy_and_ignores_non_finite() -> None:
    values = [0.1, 0.5, 0.2, 0.9, float("nan"), 0.4]
    summary = summarise(values)
    finite = np.array([0.1, 0.5, 0.2, 0.9, 0.4])
    assert summary.n == 5
    assert summary.median == np.median(finite)
    assert (summary.q1, summary.q3) == tuple(np.percentile(finite, [25, 75]))
    assert summary.iqr == pytest.approx(summary.q3 - summary.q1)
    assert summarise([]).n == 0


@pytest.mark.parametrize(
    ("p", "mark"),
    [(0.0005, "***"), (0.005, "**"), (0.049, "*"), (0.05, ""), (float("nan"), "")],
)
def test_significance_marks(p: float, mark: str) -> None:
    assert significance_mark(p) == mark

"""Paired statistics against independent implementations and hand-computed examples.

The module calls scipy; the references here do not make the same calls: the Wilcoxon
p-value comes from the exact null distribution counted below, Friedman's statistic from its
textbook formula on pandas ranks, and Dunn's pairwise test from scikit-posthocs (a declared
test dependency, imported directly so a missing one fails rather than skips).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scikit_posthocs
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mri_bench.analysis import Comparison
from mri_bench.statistics import (
    bootstrap_ci,
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


def _exact_signed_rank_p(differences: np.ndarray) -> tuple[float, float]:
    """``(T, p)``: T = min(W+, W-) and its exact two-sided p-value, no ties and no zeros.

    Under the null each rank 1..n carries either sign with probability 1/2, so the number of
    sign patterns with W+ = w is the number of subsets of {1..n} summing to w, counted here by
    dynamic programming in exact integers.
    """
    n = differences.size
    order = np.argsort(np.abs(differences))
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(1, n + 1)
    w_plus = int(ranks[differences > 0].sum())
    t = min(w_plus, n * (n + 1) // 2 - w_plus)
    counts = [1] + [0] * (n * (n + 1) // 2)
    for r in range(1, n + 1):
        for w in range(len(counts) - 1, r - 1, -1):
            counts[w] += counts[w - r]
    return float(t), min(1.0, 2 * sum(counts[: t + 1]) / 2**n)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(6, 40))
def test_wilcoxon_and_effect_size_agree_with_the_exact_null_distribution(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    b = rng.uniform(0.5, 0.9, n)
    a = b + rng.normal(0.02, 0.05, n)
    test = wilcoxon_paired(a, b)
    d = a - b
    # The exact case (n <= 50, no ties, no zeros):
    assert np.unique(np.abs(d)).size == n
    assert np.all(d != 0)
    statistic, p_value = _exact_signed_rank_p(d)
    assert test.statistic == statistic
    # The reference is exact (integer counts, one rounding in the division); the module's
    # p-value sums at most n (n + 1) / 2 + 1 <= 821 float64 probabilities, a relative error
    # of at most 821 * eps = 1.8e-13 < 1e-12.
    assert test.p_value == pytest.approx(p_value, rel=1e-12)
    assert test.cohens_d == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-12)
    positive_ranks = sum(1 + np.argsort(np.argsort(np.abs(d)))[d > 0])
    assert test.rank_balance == 2 * positive_ranks - n * (n + 1) / 2


def test_wilcoxon_with_identical_samples_is_not_significant() -> None:
    a = [0.8, 0.7, 0.9]
    test = wilcoxon_paired(a, a)
    assert test.p_value == 1.0
    assert test.cohens_d == 0.0
    with pytest.raises(ValueError, match="differ in length"):
        wilcoxon_paired([1.0, 2.0], [1.0])


def test_the_direction_is_the_tests_when_most_cases_tie() -> None:
    """Eight tied cases and seven in which ``a`` is higher: the median difference is 0, the
    test is significant, and its direction (ranks 1..7, all positive) is ``a`` better."""
    b = [0.5] * 15
    a = [0.5] * 8 + [0.5 + k / 100 for k in range(1, 8)]
    test = wilcoxon_paired(a, b)
    assert test.median_difference == 0.0
    assert test.p_value < 0.05
    assert test.rank_balance == sum(range(1, 8))
    assert wilcoxon_paired(b, a).rank_balance == -sum(range(1, 8))
    comparison = Comparison("missing t1n", "TC", "hfgan", "copy", test)
    assert comparison.better("dice")
    assert not comparison.better("hd95")


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


def _friedman_by_formula(groups: dict[str, list[float]]) -> tuple[float, float]:
    """Friedman's chi-square from its textbook formula, ties corrected, on pandas ranks."""
    ranks = pd.DataFrame(groups).rank(axis=1, method="average")
    n, k = ranks.shape
    rank_sums = ranks.sum(axis=0).to_numpy()
    chi2 = 12.0 / (n * k * (k + 1)) * float((rank_sums**2).sum()) - 3.0 * n * (k + 1)
    ties = sum(
        float(((counts**3) - counts).sum())
        for counts in (row.value_counts().to_numpy(dtype=float) for _, row in ranks.iterrows())
    )
    chi2 /= 1.0 - ties / (n * k * (k * k - 1))
    return chi2, float(stats.chi2.sf(chi2, k - 1))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(4, 30), st.integers(3, 6), st.booleans())
def test_friedman_agrees_with_the_textbook_formula(seed: int, n: int, k: int, tied: bool) -> None:
    rng = np.random.default_rng(seed)
    values = rng.uniform(size=(n, k))
    if tied:  # one decimal: many ties within a case
        values = np.round(values, 1)
    groups = {f"s{j}": values[:, j].tolist() for j in range(k)}
    if np.all(values == values[:, :1]):
        return
    statistic, p_value = _friedman_by_formula(groups)
    result = friedman(groups)
    # Same float64 arithmetic in another order: a few ulps on the statistic, amplified in the
    # chi-square tail by at most x / 2 (d log sf / dx -> -1/2); statistics stay below ~200.
    assert result.statistic == pytest.approx(statistic, rel=1e-10)
    assert result.p_value == pytest.approx(p_value, rel=1e-10, abs=1e-300)


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


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 30), st.integers(2, 6), st.booleans())
def test_dunn_bonferroni_agrees_with_scikit_posthocs(seed: int, n: int, k: int, tied: bool) -> None:
    """Dunn's test on within-case (Friedman) ranks is scikit-posthocs' Siegel-Castellan test.

    Called on a long-format table, scikit-posthocs ranks with pandas and adjusts with
    statsmodels' Bonferroni, so neither the ranking nor the adjustment is the module's code.
    """
    rng = np.random.default_rng(seed)
    values = rng.uniform(size=(n, k))
    if tied:
        values = np.round(values, 1)
    names = [f"s{j}" for j in range(k)]
    groups = {name: values[:, j].tolist() for j, name in enumerate(names)}
    table = pd.DataFrame(
        {
            "score": values.ravel(),
            "case": np.repeat(np.arange(n), k),
            "strategy": np.tile(names, n),
        }
    )
    theirs = scikit_posthocs.posthoc_siegel_friedman(
        table,
        y_col="score",
        group_col="strategy",
        block_col="case",
        block_id_col="case",
        melted=True,
        p_adjust="bonferroni",
    )
    ours = dunn_bonferroni(groups)
    assert set(ours) == {(a, b) for i, a in enumerate(names) for b in names[i + 1 :]}
    for (a, b), p in ours.items():
        # Mean ranks agree to an ulp (half-integer sums over n); the normal tail's relative
        # condition number is z * phi(z) / sf(z) ~ z**2 < 50 for the z < 7 that k <= 6 ranks
        # allow, so the p-values agree to ~100 ulps: rel 1e-12 = 4500 ulps.
        assert p == pytest.approx(float(theirs.loc[a, b]), rel=1e-12, abs=1e-300)


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
    assert summary.undefined == 1
    assert summarise([]).n == 0
    nothing = summarise([float("nan"), float("inf")])
    assert (nothing.n, nothing.undefined) == (0, 2)


def test_penalty_replaces_undefined_values_and_is_counted() -> None:
    # Six empty segmentations of eight: the median is the penalty, not the two good cases' 2 mm.
    values = [2.0, 2.0] + [float("nan")] * 5 + [float("inf")]
    summary = summarise(values, penalty=374.0)
    assert (summary.n, summary.undefined, summary.penalised) == (8, 0, 6)
    assert summary.median == 374.0
    assert summary.q1 == np.percentile([2.0, 2.0] + [374.0] * 6, 25)
    dropped = summarise(values)
    assert (dropped.n, dropped.undefined, dropped.penalised, dropped.median) == (2, 6, 0, 2.0)


def test_bootstrap_interval_agrees_with_scipy_and_is_seeded() -> None:
    values = np.random.default_rng(3).normal(0.1, 0.2, size=40)
    low, high = bootstrap_ci(values, resamples=20000)
    theirs = stats.bootstrap(
        (values,), np.median, n_resamples=20000, method="percentile", random_state=1
    ).confidence_interval
    # Two independent Monte Carlo estimates of the same percentiles.
    assert low == pytest.approx(theirs.low, abs=0.02)
    assert high == pytest.approx(theirs.high, abs=0.02)
    assert low < np.median(values) < high
    assert bootstrap_ci(values, resamples=20000) == (low, high)
    assert bootstrap_ci([0.3] * 5) == (0.3, 0.3)
    assert all(math.isnan(v) for v in bootstrap_ci([]))


@pytest.mark.parametrize(
    ("p", "mark"),
    [(0.0005, "***"), (0.005, "**"), (0.049, "*"), (0.05, ""), (float("nan"), "")],
)
def test_significance_marks(p: float, mark: str) -> None:
    assert significance_mark(p) == mark

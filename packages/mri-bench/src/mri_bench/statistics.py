"""Paired statistics of strategies scored on the same cases.

Every test here is on paired data: each case was scored under every strategy, so differences
are taken within cases. The choices follow the UMMGAT paper's analysis:

* median and interquartile range (scores such as Dice and HD95 are skewed and bounded);
* Wilcoxon signed-rank for two strategies (generated vs copy), two-sided;
* Friedman for more than two related groups, then Dunn's pairwise comparison of mean
  within-case ranks with Bonferroni correction (the post hoc test SPSS runs after Friedman):
  ``z = (R_i - R_j) / sqrt(k (k + 1) / (6 n))`` for ``k`` strategies on ``n`` cases;
* Cohen's d for paired samples (``d_z``): mean difference over the standard deviation of the
  differences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import numpy.typing as npt
from scipy import stats

ALPHA = 0.05


@dataclass(frozen=True)
class Summary:
    """Median and quartiles of one group's ``n`` values, how many of its values were
    ``undefined`` (NaN or infinite: the HD95 of an empty mask, say) and left out, and how many
    were ``penalised`` (scored as the empty-mask penalty instead).

    The counts travel with the statistics so that a report never shows the median of the
    few defined values as if it were the whole group's, nor a penalty-dominated median
    without saying so."""

    n: int
    median: float
    q1: float
    q3: float
    undefined: int = 0
    penalised: int = 0

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


def summarise(values: Sequence[float], penalty: float | None = None) -> Summary:
    """Median and quartiles (numpy's linear interpolation) of the finite values, and the
    number of values that are not.

    With a ``penalty`` every value that is not finite counts as the penalty instead (an empty
    segmentation scored as the worst distance, so a failed strategy cannot hide behind the
    few cases it segmented), and ``penalised`` counts the values equal to it."""
    data = np.asarray(values, dtype=np.float64)
    if penalty is not None:
        data = np.where(np.isfinite(data), data, penalty)
    finite = np.isfinite(data)
    undefined = int(data.size - np.count_nonzero(finite))
    data = data[finite]
    penalised = 0 if penalty is None else int(np.count_nonzero(data == penalty))
    if data.size == 0:
        return Summary(0, float("nan"), float("nan"), float("nan"), undefined, penalised)
    q1, median, q3 = np.percentile(data, [25, 50, 75])
    return Summary(int(data.size), float(median), float(q1), float(q3), undefined, penalised)


def bootstrap_ci(
    values: npt.ArrayLike, *, resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the median of ``values`` (seeded, so a
    report redrawn from the same store shows the same interval); NaN for no values."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(data, size=(resamples, data.size), replace=True), axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(medians, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class PairedTest:
    """Wilcoxon signed-rank and Cohen's d of ``a - b`` on paired cases.

    ``rank_balance`` is the sum of the ranks of the positive differences minus that of the
    negative ones (zeros dropped, as the test drops them): its sign is the direction the test
    detects. The median difference can be 0 when most cases tie (a segmenter that finds the
    same core on most cases), while the test is significant in one direction.
    """

    n: int
    statistic: float
    p_value: float
    cohens_d: float
    median_difference: float
    rank_balance: float


def cohens_d_paired(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """``mean(a - b) / sd(a - b)`` (sample standard deviation); 0 when a equals b, and
    signed infinity when every difference is the same non-zero number."""
    differences = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if differences.size < 2:
        return float("nan")
    mean = float(differences.mean())
    sd = float(differences.std(ddof=1))
    if sd == 0:
        return 0.0 if mean == 0 else float(np.copysign(np.inf, mean))
    return mean / sd


def wilcoxon_paired(a: npt.ArrayLike, b: npt.ArrayLike) -> PairedTest:
    """Two-sided Wilcoxon signed-rank test of ``a`` against ``b`` (same cases, same order).

    scipy's default zero handling (``wilcox``: zero differences dropped) and exact p-values
    for small samples without ties. With no non-zero difference the p-value is 1.
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.size} and {y.size}")
    differences = x - y
    n = int(differences.size)
    median_difference = float(np.median(differences)) if n else float("nan")
    if not np.any(differences):
        return PairedTest(n, float("nan"), 1.0, cohens_d_paired(x, y), median_difference, 0.0)
    nonzero = differences[differences != 0]
    ranks = stats.rankdata(np.abs(nonzero))
    balance = float(ranks[nonzero > 0].sum() - ranks[nonzero < 0].sum())
    result = stats.wilcoxon(x, y)
    return PairedTest(
        n,
        float(result.statistic),
        float(result.pvalue),
        cohens_d_paired(x, y),
        median_difference,
        balance,
    )


@dataclass(frozen=True)
class FriedmanResult:
    """Friedman's test across strategies and the Dunn-Bonferroni pairwise comparisons."""

    n: int
    statistic: float
    p_value: float
    mean_ranks: dict[str, float]
    pairwise: dict[tuple[str, str], float]


def _as_matrix(groups: Mapping[str, Sequence[float]]) -> tuple[list[str], npt.NDArray[np.float64]]:
    names = list(groups)
    lengths = {len(groups[name]) for name in names}
    if len(lengths) != 1:
        raise ValueError(f"related groups must have equal lengths, got {sorted(lengths)}")
    matrix = np.column_stack([np.asarray(groups[name], dtype=np.float64) for name in names])
    return names, matrix


def dunn_bonferroni(groups: Mapping[str, Sequence[float]]) -> dict[tuple[str, str], float]:
    """Bonferroni-adjusted two-sided p-values of Dunn's test on within-case ranks.

    ``groups`` maps each strategy to its scores on the same cases (in the same order). Ties
    within a case get average ranks.
    """
    names, matrix = _as_matrix(groups)
    n, k = matrix.shape
    if k < 2 or n < 1:
        raise ValueError("Dunn's test needs at least two groups and one case")
    ranks = stats.rankdata(matrix, axis=1).mean(axis=0)
    se = np.sqrt(k * (k + 1) / (6.0 * n))
    n_pairs = k * (k - 1) // 2
    adjusted = {}
    for i, j in combinations(range(k), 2):
        z = (ranks[i] - ranks[j]) / se
        p = 2.0 * float(stats.norm.sf(abs(z)))
        adjusted[names[i], names[j]] = min(1.0, p * n_pairs)
    return adjusted


def friedman(groups: Mapping[str, Sequence[float]]) -> FriedmanResult:
    """Friedman's chi-square across at least three related groups, with Dunn post hoc."""
    names, matrix = _as_matrix(groups)
    n, k = matrix.shape
    if k < 3:
        raise ValueError(f"Friedman's test needs at least three groups, got {k}")
    ranks = stats.rankdata(matrix, axis=1).mean(axis=0)
    mean_ranks = {name: float(rank) for name, rank in zip(names, ranks, strict=True)}
    if n < 2 or np.all(matrix == matrix[:, :1]):
        return FriedmanResult(n, float("nan"), 1.0, mean_ranks, dunn_bonferroni(groups))
    result = stats.friedmanchisquare(*matrix.T)
    return FriedmanResult(
        n, float(result.statistic), float(result.pvalue), mean_ranks, dunn_bonferroni(groups)
    )


def significance_mark(p_value: float) -> str:
    """``***`` p < 0.001, ``**`` p < 0.01, ``*`` p < 0.05, else nothing."""
    if not np.isfinite(p_value):
        return ""
    for threshold, mark in ((0.001, "***"), (0.01, "**"), (ALPHA, "*")):
        if p_value < threshold:
            return mark
    return ""

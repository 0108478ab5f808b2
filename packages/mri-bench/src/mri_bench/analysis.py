"""From the tidy results table to per-scenario statistics, ready for a report.

For one metric (Dice by default; an image metric such as SSIM when no segmenter ran) each
scenario gets, per region: median and IQR per strategy, a Wilcoxon signed-rank test and Cohen's
d for every configured (generated, baseline) comparison, and Friedman with Dunn-Bonferroni when
three or more strategies ran. All tests use the cases every compared strategy scored (paired).
Image metrics are per synthesised sequence; a case's value is their mean, so a case counts once
whatever the scenario removed.

Distances to an empty mask: when the scoring profile gives them a penalty (or leaves them
undefined but names a penalty for a missed lesion, as mri-suite's BraTS 2023 lesion-wise
settings do), the HD95 of every such case counts as the penalty, in the medians and in the
tests alike, so a strategy that segments nothing cannot look better than one that segments
badly; the medians with those cases left out are kept beside them.

Healthy cases (the reference has no tumour) score only Dice 0 or 1 and HD95 0 or undefined,
so they would dominate medians: :func:`healthy_cases` finds them from the stored voxel counts,
the tables are over the tumour cases, and :func:`detections` counts how many healthy cases
each strategy gave any predicted tumour.

A finding is a comparison with p < 0.05; it also says whether it survives a Bonferroni
correction over every Wilcoxon test of the analysis, so a reader can tell a robust difference
from one of many tests that came out small by chance.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mri_bench.pipeline import PREDICTED_VOXELS, REFERENCE_VOXELS
from mri_bench.statistics import (
    ALPHA,
    FriedmanResult,
    PairedTest,
    Summary,
    friedman,
    summarise,
    wilcoxon_paired,
)
from mri_bench.store import Row
from mri_metrics import get_profile

#: Metrics where a lower value is better; every other metric is better higher.
LOWER_IS_BETTER = frozenset({"hd95", "lesion_hd95", "mae"})
IMAGE_METRICS = frozenset({"ssim", "psnr", "mae"})
SEGMENTATION_REGIONS = ("WT", "TC", "ET")
IMAGE_REGIONS = ("brain", "tumour")


@dataclass(frozen=True)
class Comparison:
    """One Wilcoxon test: ``strategy`` against ``baseline`` on a scenario and region."""

    scenario: str
    region: str
    strategy: str
    baseline: str
    test: PairedTest

    def better(self, metric: str) -> bool:
        """Whether ``strategy`` scores better than ``baseline``: the direction of the
        Wilcoxon test (its rank balance), which the median difference misses when most cases
        tie."""
        balance = self.test.rank_balance
        return balance < 0 if metric in LOWER_IS_BETTER else balance > 0


@dataclass
class Analysis:
    """Everything the report shows for one metric."""

    metric: str
    regions: tuple[str, ...]
    scenarios: list[str]
    strategies: list[str]
    summaries: dict[tuple[str, str, str], Summary] = field(default_factory=dict)
    comparisons: list[Comparison] = field(default_factory=list)
    friedman: dict[tuple[str, str], FriedmanResult] = field(default_factory=dict)
    #: The value an undefined score counts as, or None when undefined values are left out.
    penalty: float | None = None
    #: With a penalty: the summaries with the undefined values left out instead.
    dropped: dict[tuple[str, str, str], Summary] = field(default_factory=dict)

    @property
    def n_tests(self) -> int:
        """Every comparison made, identical pairs included (the conservative Bonferroni)."""
        return len(self.comparisons)

    def findings(self) -> list[Comparison]:
        """Comparisons with p < 0.05, by scenario order then p-value."""
        order = {name: i for i, name in enumerate(self.scenarios)}
        found = [c for c in self.comparisons if c.test.p_value < ALPHA]
        return sorted(found, key=lambda c: (order[c.scenario], c.test.p_value))

    def survives_bonferroni(self, comparison: Comparison) -> bool:
        return comparison.test.p_value * max(self.n_tests, 1) < ALPHA

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "lower_is_better": self.metric in LOWER_IS_BETTER,
            "penalty": self.penalty,
            "summaries": _summaries_json(self.summaries),
            "summaries_undefined_dropped": _summaries_json(self.dropped),
            "wilcoxon": [
                {
                    "scenario": c.scenario,
                    "region": c.region,
                    "strategy": c.strategy,
                    "baseline": c.baseline,
                    **asdict(c.test),
                    "bonferroni_tests": self.n_tests,
                }
                for c in self.comparisons
            ],
            "friedman": [
                {
                    "scenario": s,
                    "region": r,
                    "n": f.n,
                    "statistic": f.statistic,
                    "p_value": f.p_value,
                    "mean_ranks": f.mean_ranks,
                    "dunn_bonferroni": [
                        {"a": a, "b": b, "p_value": p} for (a, b), p in f.pairwise.items()
                    ],
                }
                for (s, r), f in self.friedman.items()
            ],
        }


def _summaries_json(summaries: dict[tuple[str, str, str], Summary]) -> list[dict[str, Any]]:
    return [
        {"scenario": s, "strategy": t, "region": r, **asdict(v), "iqr": v.iqr}
        for (s, t, r), v in summaries.items()
    ]


def empty_mask_penalty(profile: str) -> tuple[float, bool] | None:
    """The HD95 an empty prediction (or reference) counts as under a scoring profile, and
    whether mri-metrics already scored it so (else the report substitutes it for the
    undefined values); None when the profile names no penalty.

    A profile whose HD95 of two empty masks is itself undefined (MONAI, surface-distance,
    brats-evaluation) gets no substitution: an undefined value there may mean agreement."""
    settings = get_profile(profile)
    policy = settings.empty
    if policy.hd95_both is None or not math.isfinite(policy.hd95_both):
        return None
    if policy.hd95_one is not None and math.isfinite(policy.hd95_one):
        return policy.hd95_one, True
    if settings.lesion is not None:
        return settings.lesion.penalty_hd95, False
    return None


def healthy_cases(rows: Iterable[Row]) -> set[str] | None:
    """Cases whose reference has no tumour (WT voxel count 0); None for a store without
    voxel counts, where they cannot be told apart."""
    counts = {r.case_id: r.value for r in rows if r.metric == REFERENCE_VOXELS and r.region == "WT"}
    if not counts:
        return None
    return {case for case, voxels in counts.items() if voxels == 0}


def detections(
    rows: Iterable[Row], healthy: Collection[str]
) -> dict[tuple[str, str], tuple[int, int]]:
    """(scenario, strategy) -> (healthy cases given any predicted tumour, healthy cases)."""
    found: dict[tuple[str, str], dict[str, bool]] = defaultdict(dict)
    for row in rows:
        if row.metric == PREDICTED_VOXELS and row.region == "WT" and row.case_id in healthy:
            found[row.scenario, row.strategy][row.case_id] = row.value > 0
    return {key: (sum(cases.values()), len(cases)) for key, cases in found.items()}


def per_case(rows: Iterable[Row], metric: str) -> dict[tuple[str, str, str], dict[str, float]]:
    """(scenario, strategy, region) -> {case: value}; image metrics averaged over targets."""
    collected: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in rows:
        if row.metric == metric:
            collected[row.scenario, row.strategy, row.region][row.case_id].append(row.value)
    return {
        key: {case: float(np.mean(values)) for case, values in by_case.items()}
        for key, by_case in collected.items()
    }


def _paired(groups: Sequence[dict[str, float]]) -> tuple[list[str], list[list[float]]]:
    """Cases with a finite value in every group, and the values in case order."""
    cases = sorted(set.intersection(*(set(g) for g in groups))) if groups else []
    cases = [c for c in cases if all(math.isfinite(g[c]) for g in groups)]
    return cases, [[g[c] for c in cases] for g in groups]


def analyse(
    rows: Sequence[Row],
    metric: str,
    comparisons: Sequence[tuple[str, str]],
    scenarios: Sequence[str] | None = None,
    strategies: Sequence[str] | None = None,
    *,
    penalty: float | None = None,
) -> Analysis:
    """Statistics of ``metric`` per scenario and region (order of the config when given);
    with a ``penalty``, undefined values count as it."""
    scenario_names = list(scenarios or dict.fromkeys(r.scenario for r in rows))
    strategy_names = list(strategies or dict.fromkeys(r.strategy for r in rows))
    regions = IMAGE_REGIONS if metric in IMAGE_METRICS else SEGMENTATION_REGIONS
    values = per_case(rows, metric)
    analysis = Analysis(metric, regions, scenario_names, strategy_names, penalty=penalty)
    for scenario in scenario_names:
        for region in regions:
            groups = {
                strategy: values[scenario, strategy, region]
                for strategy in strategy_names
                if (scenario, strategy, region) in values
            }
            for strategy, by_case in groups.items():
                key = scenario, strategy, region
                analysis.summaries[key] = summarise(list(by_case.values()), penalty)
                if penalty is not None:
                    analysis.dropped[key] = summarise(list(by_case.values()))
            if penalty is not None:
                groups = {
                    name: {c: v if math.isfinite(v) else penalty for c, v in by_case.items()}
                    for name, by_case in groups.items()
                }
            for strategy, baseline in comparisons:
                if strategy in groups and baseline in groups:
                    _, (a, b) = _paired([groups[strategy], groups[baseline]])
                    if a:
                        test = wilcoxon_paired(a, b)
                        analysis.comparisons.append(
                            Comparison(scenario, region, strategy, baseline, test)
                        )
            if len(groups) >= 3:
                names = list(groups)
                _, columns = _paired([groups[n] for n in names])
                if columns[0]:
                    analysis.friedman[scenario, region] = friedman(
                        dict(zip(names, columns, strict=True))
                    )
    return analysis

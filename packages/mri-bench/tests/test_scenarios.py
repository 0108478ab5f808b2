"""Scenarios: the 15 subsets, seeded per-case draws, definitions as data."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mri_bench.scenarios import (
    BRASYN_SEED,
    GROUPS,
    Scenario,
    ScenarioError,
    builtin_scenarios,
    missing_distribution,
    resolve_scenarios,
    subset_scenarios,
)
from mri_bench.shifts import Shift
from mri_io.sequences import SEQUENCES

CASE_IDS = [f"BraTS-GLI-{i:05d}-000" for i in range(200)]


def test_the_fifteen_subsets_are_every_non_empty_subset_once() -> None:
    scenarios = subset_scenarios()
    assert len(scenarios) == 15
    kept = [frozenset(s.available) for s in scenarios]
    expected = {frozenset(c) for n in range(1, 5) for c in combinations(SEQUENCES, n)}
    assert set(kept) == expected
    assert len(set(kept)) == 15
    sizes = Counter(len(s.available) for s in scenarios)
    assert sizes == {3: 4, 2: 6, 1: 4, 4: 1}
    assert [s.name for s in scenarios][:4] == [f"missing {s}" for s in SEQUENCES]
    assert scenarios[-1].name == "complete"
    for scenario in scenarios:
        missing = scenario.missing_for("any-case")
        assert set(missing) | set(scenario.available) == set(SEQUENCES)
        assert not set(missing) & set(scenario.available)
        assert scenario.name == ("missing " + "+".join(missing) if missing else "complete")


def test_groups_expand_to_the_subsets() -> None:
    assert [s.name for s in resolve_scenarios(["subsets"])] == GROUPS["subsets"]
    single = resolve_scenarios(["single-missing"])
    assert [s.missing_for("x") for s in single] == [(s,) for s in SEQUENCES]


def test_brasyn_drops_exactly_one_per_case_reproducibly() -> None:
    scenario = builtin_scenarios()["brasyn"]
    assert scenario.seed == BRASYN_SEED
    draws = [scenario.missing_for(c) for c in CASE_IDS]
    assert all(len(d) == 1 for d in draws)
    assert draws == [scenario.missing_for(c) for c in CASE_IDS]
    counts = Counter(d[0] for d in draws)
    assert set(counts) == set(SEQUENCES)
    assert min(counts.values()) > 25  # 200 draws, 4 sequences: none should be starved
    other = Scenario("b", "brasyn", seed=BRASYN_SEED + 1)
    assert [other.missing_for(c) for c in CASE_IDS] != draws


@given(st.integers(0, 2**31), st.text(min_size=1, max_size=30))
def test_random_missing_keeps_one_to_three_and_depends_only_on_seed_and_case(
    seed: int, case_id: str
) -> None:
    scenario = Scenario("r", "random", seed=seed)
    missing = scenario.missing_for(case_id)
    assert 1 <= len(missing) <= 3
    assert list(missing) == [s for s in SEQUENCES if s in missing]
    assert Scenario("other name", "random", seed=seed).missing_for(case_id) == missing


def test_random_missing_distribution_covers_every_count() -> None:
    scenario = Scenario("r", "random", seed=7)
    distribution = missing_distribution(scenario, CASE_IDS)
    assert sum(distribution.values()) == len(CASE_IDS)
    by_count: Counter[int] = Counter()
    for key, count in distribution.items():
        by_count[len(key.split("+"))] += count
    assert set(by_count) == {1, 2, 3}
    # Order of cases does not matter: the draw is per case.
    assert missing_distribution(scenario, reversed(CASE_IDS)) == distribution


def test_scenario_round_trips_through_json() -> None:
    scenario = Scenario(
        "shifted",
        "brasyn",
        seed=5,
        shift=Shift(scale=2.0, gamma=1.3, bias=0.2, noise=0.01, slice_thickness=5.0),
        centres=("legacy-2d",),
        description="x",
    )
    assert Scenario.from_json(scenario.to_json()) == scenario
    subset = subset_scenarios()[7]
    assert Scenario.from_json(subset.to_json()) == subset
    assert scenario.applies_to("legacy-2d")
    assert not scenario.applies_to("research-3t")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "x", "kind": "sometimes"}, "unknown kind 'sometimes'"),
        ({"name": "x", "available": ["t1", "t2w"]}, "non-empty subset"),
        ({"name": "x", "available": []}, "non-empty subset"),
        ({"name": "x", "colour": "red"}, "unknown fields \\['colour'\\]"),
        ({"kind": "subset"}, "needs a name"),
        ("missing everything", "unknown scenario 'missing everything'"),
    ],
)
def test_bad_definitions_are_refused_with_the_reason(entry: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        resolve_scenarios([entry])  # type: ignore[list-item]


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ScenarioError, match="repeated: \\['complete'\\]"):
        resolve_scenarios(["subsets", "complete"])

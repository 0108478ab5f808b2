"""Case shards: ``--shard K/N`` runs shard K of N, a deterministic part of the config's cases.

The unit is a case, not a (case, scenario, strategy) task, for three reasons:

- balance whatever the strategies cost: every shard runs every strategy on its cases, so a
  generator that is a hundred times slower than copying weighs the same on every runner
  (a scenario x strategy split puts all of it on the runners that drew the generator);
- no work repeated: a (case, scenario) job loads and shifts the case once for all its
  strategies and segments once for the strategies that complete nothing, which a split of
  one case's tasks over runners would repeat on each;
- disjoint case sets merge by plain union (``mri-bench merge``), and the per-case draws of
  random scenarios depend on the case id only, so a case's numbers do not depend on its shard.

Cases may carry unequal work (a scenario for one centre only, a case lacking sequences), so
the partition weighs each case by its number of tasks and deals the cases, heaviest first, to
the least loaded shard (ties: the lower case id, the lower shard). Equal weights reduce it to
dealing the sorted case ids round robin; any two shards then differ by at most one case's
work. The partition depends only on the config and the data, never on what is already stored,
so a resumed shard keeps its cases, and the N shards cover every case exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclass(frozen=True)
class CaseShard:
    """Shard ``index`` (1-based) of ``count``; ``1/1`` is the whole run."""

    index: int = 1
    count: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ValueError(f"shard {self.index}/{self.count}: K/N needs 1 <= K <= N")

    @classmethod
    def parse(cls, text: str) -> CaseShard:
        """``"2/3"`` -> shard 2 of 3; anything else is a :class:`ValueError` quoting it."""
        found = _SPEC.fullmatch(text)
        if found is None:
            raise ValueError(f"--shard {text!r}: write K/N, e.g. 2/3 for the second of 3 shards")
        return cls(int(found[1]), int(found[2]))

    @property
    def whole(self) -> bool:
        return self.count == 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def cases(self, work: Mapping[str, int]) -> frozenset[str]:
        """This shard's cases, given every case's number of tasks (:func:`partition`)."""
        return partition(work, self.count)[self.index - 1]


#: The whole run: every case.
WHOLE = CaseShard()


def partition(work: Mapping[str, int], count: int) -> tuple[frozenset[str], ...]:
    """``count`` disjoint case sets covering ``work``'s cases, balanced by their task counts
    (greedy longest-first: each case, heaviest first, goes to the least loaded set)."""
    loads = [0] * count
    members: list[set[str]] = [set() for _ in range(count)]
    for case in sorted(work, key=lambda c: (-work[c], c)):
        lightest = min(range(count), key=lambda k: (loads[k], k))
        loads[lightest] += work[case]
        members[lightest].add(case)
    return tuple(frozenset(m) for m in members)

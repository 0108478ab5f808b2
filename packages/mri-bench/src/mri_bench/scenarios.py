"""Scenarios: which sequences a case keeps, and what the acquisition did to them.

A scenario is data, read from a benchmark config, never a code branch. Three kinds decide the
missing sequences:

* ``subset``: a fixed set of available sequences for every case (the 15 non-empty subsets of
  the four sequences are built in: 4 single-missing, 6 double, 4 triple and complete);
* ``random``: per case, a seeded draw of how many (1 to 3) and which sequences go missing, as a
  clinical cohort looks; at least one always stays;
* ``brasyn``: per case exactly one missing sequence, drawn with a seed (BraSyn 2023 used
  123456).

Any scenario can also carry a :class:`~mri_bench.shifts.Shift` (the cross-centre case: the
available inputs pass through intensity, contrast, bias, noise and resolution changes) and
a ``centres`` filter (only cases of those acquisition centres, e.g. a synthetic centre the
segmenter never saw). Per-case draws depend only on ``(seed, case id)``, never on the order or
the process a case is handled in, so sharded and parallel runs agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

import numpy as np

from mri_bench.errors import ScenarioError
from mri_bench.shifts import Shift
from mri_io.sequences import SEQUENCES

ScenarioKind = Literal["subset", "random", "brasyn"]
KINDS: tuple[ScenarioKind, ...] = ("subset", "random", "brasyn")
#: The seed BraSyn 2023 dropped sequences with.
BRASYN_SEED = 123456


def case_rng(seed: int, case_id: str, purpose: str) -> np.random.Generator:
    """A generator that depends only on the seed, the case and what it is drawn for."""
    digest = hashlib.sha256(f"{purpose}\0{case_id}".encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


@dataclass(frozen=True)
class Scenario:
    """What a case keeps (``kind`` + ``available`` or ``seed``) and how it is shifted."""

    name: str
    kind: ScenarioKind = "subset"
    available: tuple[str, ...] = SEQUENCES
    seed: int = 0
    shift: Shift | None = None
    centres: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ScenarioError("a scenario needs a non-empty name")
        if self.kind not in KINDS:
            raise ScenarioError(
                f"scenario {self.name!r}: unknown kind {self.kind!r}; choose {', '.join(KINDS)}"
            )
        unknown = sorted(set(self.available) - set(SEQUENCES))
        if unknown or not self.available:
            raise ScenarioError(
                f"scenario {self.name!r}: available must be a non-empty subset of "
                f"{', '.join(SEQUENCES)}, got {list(self.available)}"
            )

    def missing_for(self, case_id: str) -> tuple[str, ...]:
        """The sequences this scenario removes from ``case_id`` (canonical order)."""
        if self.kind == "subset":
            return tuple(s for s in SEQUENCES if s not in self.available)
        rng = case_rng(self.seed, case_id, self.kind)
        count = 1 if self.kind == "brasyn" else int(rng.integers(1, len(SEQUENCES)))
        chosen = set(rng.choice(len(SEQUENCES), size=count, replace=False).tolist())
        return tuple(s for i, s in enumerate(SEQUENCES) if i in chosen)

    def applies_to(self, centre: str) -> bool:
        """Whether a case acquired at ``centre`` belongs in this scenario."""
        return not self.centres or centre in self.centres

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "subset":
            data["available"] = list(self.available)
        else:
            data["seed"] = self.seed
        if self.shift is not None:
            data["shift"] = self.shift.to_json()
            data["seed"] = self.seed
        if self.centres:
            data["centres"] = list(self.centres)
        if self.description:
            data["description"] = self.description
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Scenario:
        known = {"name", "kind", "available", "seed", "shift", "centres", "description"}
        extra = sorted(set(data) - known)
        name = data.get("name", "?")
        if extra:
            raise ScenarioError(f"scenario {name!r}: unknown fields {extra}")
        if "name" not in data:
            raise ScenarioError(f"a scenario needs a name: {dict(data)}")
        shift = data.get("shift")
        return cls(
            name=str(data["name"]),
            kind=data.get("kind", "subset"),
            available=tuple(data.get("available", SEQUENCES)),
            seed=int(data.get("seed", BRASYN_SEED if data.get("kind") == "brasyn" else 0)),
            shift=None if shift is None else Shift.from_json(shift, str(name)),
            centres=tuple(data.get("centres", ())),
            description=str(data.get("description", "")),
        )


def subset_name(available: Iterable[str]) -> str:
    """``missing t1n+t2f`` for a subset, ``complete`` when nothing is missing."""
    kept = set(available)
    missing = [s for s in SEQUENCES if s not in kept]
    return "missing " + "+".join(missing) if missing else "complete"


def subset_scenarios() -> list[Scenario]:
    """The 15 non-empty subsets: 4 single-missing, 6 double, 4 triple, then complete."""
    scenarios = []
    for n_missing in (1, 2, 3, 0):
        for missing in combinations(SEQUENCES, n_missing):
            available = tuple(s for s in SEQUENCES if s not in missing)
            scenarios.append(Scenario(subset_name(available), "subset", available))
    return scenarios


def builtin_scenarios() -> dict[str, Scenario]:
    """Every scenario a config can name without defining it."""
    scenarios = {s.name: s for s in subset_scenarios()}
    extra = [
        Scenario(
            "random missing",
            "random",
            seed=0,
            description="per case 1-3 sequences missing, seeded",
        ),
        Scenario(
            "brasyn",
            "brasyn",
            seed=BRASYN_SEED,
            description="exactly one missing per case, BraSyn 2023 seed",
        ),
        Scenario(
            "centre shift",
            "brasyn",
            seed=BRASYN_SEED,
            shift=Shift(scale=1.8, gamma=1.2, bias=0.25, noise=0.03, slice_thickness=4.0),
            description="BraSyn missingness after an unseen scanner's intensity, contrast, "
            "bias, noise and slice-thickness changes",
        ),
    ]
    scenarios.update({s.name: s for s in extra})
    return scenarios


#: Names that expand to groups of built-in scenarios in a config.
GROUPS: dict[str, list[str]] = {
    "subsets": [s.name for s in subset_scenarios()],
    "single-missing": [s.name for s in subset_scenarios() if len(s.available) == 3],
}


def resolve_scenarios(entries: Sequence[str | Mapping[str, Any]]) -> list[Scenario]:
    """Config entries (a built-in name, a group name or a full definition) as scenarios."""
    builtin = builtin_scenarios()
    resolved: list[Scenario] = []
    for entry in entries:
        if isinstance(entry, str):
            if entry in GROUPS:
                resolved += [builtin[name] for name in GROUPS[entry]]
            elif entry in builtin:
                resolved.append(builtin[entry])
            else:
                choices = ", ".join([*GROUPS, *builtin])
                raise ScenarioError(f"unknown scenario {entry!r}; built-in: {choices}")
        else:
            resolved.append(Scenario.from_json(entry))
    names = [s.name for s in resolved]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ScenarioError(f"scenario names must be unique; repeated: {duplicates}")
    return resolved


def missing_distribution(scenario: Scenario, case_ids: Iterable[str]) -> dict[str, int]:
    """How many cases lose each combination (``"t1n+t2f"``): reported for seeded scenarios."""
    counts: dict[str, int] = {}
    for case_id in case_ids:
        key = "+".join(scenario.missing_for(case_id)) or "none"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))

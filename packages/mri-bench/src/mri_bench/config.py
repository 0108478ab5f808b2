"""The benchmark config: one JSON file says what to run (format in docs/mri-bench/config.md).

Paths in a config are relative to the config file. A config names the cases to score, where
the copy baselines learn their correlations (a reference JSON or a folder of complete training
cases), the fixed segmenter (optional: without one only image quality is scored), the
scenarios (built-in names, groups such as ``"subsets"``, or full definitions) and the
strategies (``copy``, ``copy-matched``, ``zero``, ``mean``, a generator checkpoint with the
options of its kind, e.g. UMMGAT's ``target_centre`` for the cross-centre strategy, or a
``segmenter``: an mri-seg model that segments the case itself, with an optional simple
``fill`` for the sequences it needs). ``comparisons`` lists the (approach, baseline) pairs that
get a Wilcoxon test; by default every generator and segmenter is compared with every copy
baseline.

The config's fingerprint (:meth:`BenchConfig.digest`, stored with the results) holds no
absolute path that depends on where the config lies: a path written relative, or written
absolute inside the config's folder (as ``mri-bench demo`` writes them), enters it relative to
that folder; only a path written absolute elsewhere (a fixed mount such as ``/data/brats``)
stays absolute. What the data and the reference hold enters it by content
(:func:`mri_bench.provenance.cases_digest`), so the same config and data copied to two checkout
folders or CI runners give the same fingerprint (and their shards merge), while changed data
under the same path gives another.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from os import PathLike
from pathlib import Path
from typing import Any

from mri_bench.errors import ConfigError, ScenarioError
from mri_bench.generators import check_generator
from mri_bench.provenance import cases_digest, file_digest
from mri_bench.scenarios import Scenario, resolve_scenarios
from mri_bench.shards import WHOLE, CaseShard

SIMPLE_STRATEGIES = ("copy", "copy-matched", "zero", "mean")
COPY_BASELINES = ("copy", "copy-matched")
#: The kind of a strategy that brings its own segmentation model.
SEGMENTER = "segmenter"
_FIELDS = {
    "name",
    "data",
    "reference",
    "segmenter",
    "scenarios",
    "strategies",
    "comparisons",
    "profile",
    "workers",
    "device",
    "cases",
    "panel_case",
    "segmenter_window",
}


@dataclass(frozen=True)
class StrategySpec:
    """A strategy as written in a config."""

    name: str
    kind: str
    generator: str = ""
    checkpoint: Path | None = None
    #: Options of the generator's kind (JSON values), e.g. ``{"target_centre": "research-3t"}``.
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    #: A segmenter strategy's completion of what its model lacks (a simple kind; "" for none).
    fill: str = ""
    #: The checkpoint as stored and fingerprinted (see :func:`portable_path`; "" for
    #: ``str(checkpoint)``).
    location: str = field(default="", compare=False)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind in ("generator", SEGMENTER):
            data["checkpoint"] = self.location or str(self.checkpoint)
        if self.kind == "generator":
            data["generator"] = self.generator
            if self.options:
                data["options"] = dict(self.options)
        if self.kind == SEGMENTER and self.fill:
            data["fill"] = self.fill
        return data


@dataclass(frozen=True)
class BenchConfig:
    """A parsed config: absolute paths to work with, portable ones to store (``locations``)."""

    data: Path
    reference: Path
    scenarios: tuple[Scenario, ...]
    strategies: tuple[StrategySpec, ...]
    segmenter: Path | None = None
    segmenter_window: tuple[int, int, int] | None = None
    comparisons: tuple[tuple[str, str], ...] = ()
    profile: str = "mri-suite"
    workers: int = 1
    device: str = "auto"
    cases: tuple[str, ...] = ()
    panel_case: str = ""
    name: str = "benchmark"
    source: Path | None = field(default=None, compare=False)
    #: ``data``, ``reference`` and ``segmenter`` as stored and fingerprinted (see
    #: :func:`portable_path`); a path absent here is stored as it is.
    locations: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    #: A shard runs only these scenarios / strategies (all when empty) and, of the cases, only
    #: those of ``shard`` (:mod:`mri_bench.shards`); the digest and the stored config stay
    #: those of the whole config, so shards merge.
    shard_scenarios: tuple[str, ...] = ()
    shard_strategies: tuple[str, ...] = ()
    shard: CaseShard = WHOLE

    @property
    def active_scenarios(self) -> tuple[Scenario, ...]:
        keep = self.shard_scenarios
        return tuple(s for s in self.scenarios if not keep or s.name in keep)

    @property
    def active_strategies(self) -> tuple[StrategySpec, ...]:
        keep = self.shard_strategies
        return tuple(s for s in self.strategies if not keep or s.name in keep)

    def _location(self, key: str, path: Path) -> str:
        return self.locations.get(key, str(path))

    @cached_property
    def _input_digests(self) -> dict[str, str]:
        """What the data (the selected cases) and the reference hold, computed once."""
        reference = self.reference
        if reference.is_file():
            found = file_digest(reference)
        elif reference.is_dir():
            found = cases_digest(reference)
        else:
            found = "absent"  # the run names the missing reference
        return {"data_sha256": cases_digest(self.data, self.cases), "reference_sha256": found}

    def to_json(self) -> dict[str, Any]:
        """The resolved config (portable paths, expanded scenarios, the data's and the
        reference's content digests), as stored with results."""
        return {
            "name": self.name,
            "data": self._location("data", self.data),
            "reference": self._location("reference", self.reference),
            **self._input_digests,
            "segmenter": None
            if self.segmenter is None
            else self._location("segmenter", self.segmenter),
            "segmenter_window": None
            if self.segmenter_window is None
            else list(self.segmenter_window),
            "scenarios": [s.to_json() for s in self.scenarios],
            "strategies": [s.to_json() for s in self.strategies],
            "comparisons": [list(pair) for pair in self.comparisons],
            "profile": self.profile,
            "cases": list(self.cases),
            "panel_case": self.panel_case,
        }

    def digest(self) -> str:
        """SHA-256 of what decides the numbers (not workers, device, shard or the folder the
        config and its data were copied to)."""
        text = json.dumps(self.to_json(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def select(
        self,
        scenarios: Sequence[str],
        strategies: Sequence[str],
        shard: CaseShard = WHOLE,
    ) -> BenchConfig:
        """The shard running only the named scenarios and strategies (all when empty), on the
        cases of ``shard``."""
        known_sc = {s.name for s in self.scenarios}
        known_st = {s.name for s in self.strategies}
        unknown = sorted((set(scenarios) - known_sc) | (set(strategies) - known_st))
        if unknown:
            raise ConfigError(self.source, f"the config has no scenario or strategy {unknown}")
        return replace(
            self,
            shard_scenarios=tuple(scenarios),
            shard_strategies=tuple(strategies),
            shard=shard,
        )


def portable_path(written: str, root: Path) -> tuple[Path, str]:
    """A config path as an absolute path to use and the text to store and fingerprint.

    Relative paths are kept relative to the config's folder ``root`` (normalised); absolute
    paths inside ``root`` become relative to it; other absolute paths stay absolute.
    """
    path = Path(written)
    resolved = (root / path).resolve()
    if not path.is_absolute():
        return resolved, Path(os.path.normpath(written)).as_posix()
    inside = Path(os.path.normpath(path))
    for base in (root, root.resolve()):
        for candidate in (inside, resolved):
            if candidate.is_relative_to(base):
                return resolved, candidate.relative_to(base).as_posix()
    return resolved, inside.as_posix()


#: A strategy's name becomes part of file names (panels): one path component, no traversal.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")


def _strategy(entry: str | Mapping[str, Any], base: Path, path: Path) -> StrategySpec:
    if isinstance(entry, str):
        entry = {"kind": entry}
    kind = str(entry.get("kind", ""))
    name = str(entry.get("name", kind))
    if not _SAFE_NAME.fullmatch(name):
        raise ConfigError(
            path,
            f"strategy name {name!r} is not a safe file name: use letters, digits, '.', '_' and "
            "'-' (not starting with '.' or '-'); results and panels are stored under it",
        )
    if kind in SIMPLE_STRATEGIES:
        return StrategySpec(name, kind)
    if kind == "generator":
        if "checkpoint" not in entry or "generator" not in entry:
            raise ConfigError(
                path, f"strategy {name!r}: a generator needs 'generator' and 'checkpoint'"
            )
        generator = str(entry["generator"])
        options = entry.get("options", {})
        if not isinstance(options, Mapping):
            raise ConfigError(path, f"strategy {name!r}: 'options' must be an object")
        try:
            check_generator(name, generator, options)
        except ValueError as exc:
            raise ConfigError(path, str(exc)) from None
        checkpoint, location = portable_path(str(entry["checkpoint"]), base)
        return StrategySpec(name, kind, generator, checkpoint, dict(options), location=location)
    if kind == SEGMENTER:
        if "checkpoint" not in entry:
            raise ConfigError(path, f"strategy {name!r}: a segmenter needs a 'checkpoint'")
        fill = str(entry.get("fill", ""))
        if fill and fill not in SIMPLE_STRATEGIES:
            raise ConfigError(
                path,
                f"strategy {name!r}: fill {fill!r} is not one of {', '.join(SIMPLE_STRATEGIES)}",
            )
        checkpoint, location = portable_path(str(entry["checkpoint"]), base)
        return StrategySpec(name, kind, checkpoint=checkpoint, fill=fill, location=location)
    choices = ", ".join([*SIMPLE_STRATEGIES, "generator", SEGMENTER])
    raise ConfigError(path, f"strategy {name!r}: unknown kind {kind!r}; choose {choices}")


def parse_config(data: Mapping[str, Any], path: Path, base: Path | None = None) -> BenchConfig:
    """A :class:`BenchConfig` from parsed JSON; ``base`` resolves relative paths."""
    root = base if base is not None else path.parent
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ConfigError(path, f"unknown fields {unknown}; known: {sorted(_FIELDS)}")
    for required in ("data", "reference", "scenarios", "strategies"):
        if required not in data:
            raise ConfigError(path, f"missing field {required!r}")
    try:
        scenarios = resolve_scenarios(data["scenarios"])
    except (ScenarioError, ValueError) as exc:
        raise ConfigError(path, str(exc)) from None
    strategies = [_strategy(entry, root, path) for entry in data["strategies"]]
    names = [s.name for s in strategies]
    if len(set(names)) != len(names) or not names:
        raise ConfigError(path, f"strategy names must be unique and at least one: {names}")
    if "comparisons" in data:
        comparisons = [(str(a), str(b)) for a, b in data["comparisons"]]
    else:
        generators = [s.name for s in strategies if s.kind in ("generator", SEGMENTER)]
        baselines = [s.name for s in strategies if s.kind in COPY_BASELINES]
        comparisons = [(g, b) for g in generators for b in baselines]
    bad = sorted({n for pair in comparisons for n in pair} - set(names))
    if bad:
        raise ConfigError(path, f"comparisons name unknown strategies {bad}")
    workers = int(data.get("workers", 1))
    if workers < 1:
        raise ConfigError(path, f"workers must be >= 1, got {workers}")
    places = {
        key: portable_path(str(data[key]), root)
        for key in ("data", "reference", "segmenter")
        if data.get(key) is not None
    }
    window = data.get("segmenter_window")
    if window is not None and (len(window) != 3 or min(int(n) for n in window) < 1):
        raise ConfigError(path, f"segmenter_window must be 3 positive sizes, got {window}")
    return BenchConfig(
        name=str(data.get("name", path.stem)),
        data=places["data"][0],
        reference=places["reference"][0],
        scenarios=tuple(scenarios),
        strategies=tuple(strategies),
        segmenter=places["segmenter"][0] if "segmenter" in places else None,
        segmenter_window=None
        if window is None
        else (int(window[0]), int(window[1]), int(window[2])),
        comparisons=tuple(comparisons),
        profile=str(data.get("profile", "mri-suite")),
        workers=workers,
        device=str(data.get("device", "auto")),
        cases=tuple(str(c) for c in data.get("cases", ())),
        panel_case=str(data.get("panel_case", "")),
        source=path,
        locations={key: text for key, (_, text) in places.items()},
    )


def load_config(path: str | PathLike[str]) -> BenchConfig:
    """Read and check a config file."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, f"cannot read the config ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(source, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(source, "a config is a JSON object")
    return parse_config(data, source.resolve())

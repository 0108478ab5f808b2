"""Every figure's JSON under docs/ has a benchmark that writes it, runnable as
``nox -s bench -- NAME``: the registry in noxfile.py names an existing script for each and the
JSON files it writes; every result JSON in the docs is one of them, every declared one exists,
and a JSON that records its command names the script that wrote it.

The registry is read from noxfile.py's source (it is a plain literal), so this test needs no
nox in the environment that runs it."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Inputs, not results: the example configurations of mri-bench's docs.
CONFIGS = DOCS / "mri-bench" / "examples"


def read_registry(source: str) -> dict[str, dict[str, Any]]:
    """The ``BENCHMARKS`` literal of a noxfile's source."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == "BENCHMARKS" for t in targets):
                assert node.value is not None
                registry: dict[str, dict[str, Any]] = ast.literal_eval(node.value)
                return registry
    raise AssertionError("noxfile.py defines no BENCHMARKS")


@pytest.fixture(scope="module")
def registry() -> dict[str, dict[str, Any]]:
    return read_registry((ROOT / "noxfile.py").read_text())


def commands(document: Any) -> list[str]:
    """Every ``command`` / ``commands`` string anywhere in a JSON document."""
    found: list[str] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key in ("command", "commands"):
                found += [value] if isinstance(value, str) else [str(v) for v in value]
            else:
                found += commands(value)
    elif isinstance(document, list):
        for value in document:
            found += commands(value)
    return found


def names_script(command: str, script: str) -> bool:
    """Whether ``command`` runs ``script`` (its file name as a whole word, not a suffix of
    another name such as ``ganet_measure.py`` for ``measure.py``)."""
    return re.search(rf"(^|[\s/]){re.escape(Path(script).name)}(\s|$)", command) is not None


def result_files() -> list[Path]:
    return [p for p in sorted(DOCS.rglob("*.json")) if CONFIGS not in p.parents]


def test_every_registered_benchmark_is_an_existing_script_of_existing_packages(
    registry: dict[str, dict[str, Any]],
) -> None:
    assert registry
    for name, entry in registry.items():
        assert (ROOT / entry["script"]).is_file(), f"{name}: {entry['script']} does not exist"
        for package in entry["packages"]:
            assert (ROOT / "packages" / package / "pyproject.toml").is_file(), name
        assert entry["threads"] in (None, 1), name
        for pattern in entry["writes"]:
            assert list(DOCS.glob(pattern)), f"{name} declares {pattern}, which does not exist"


def test_every_result_json_in_the_docs_comes_from_a_registered_benchmark(
    registry: dict[str, dict[str, Any]],
) -> None:
    results = result_files()
    assert results
    orphans, mislabelled = [], []
    for path in results:
        writers = [
            entry
            for entry in registry.values()
            if any(path in DOCS.glob(pattern) for pattern in entry["writes"])
        ]
        if not writers:
            orphans.append(str(path.relative_to(ROOT)))
            continue
        recorded = commands(json.loads(path.read_text()))
        if recorded and not any(
            names_script(command, entry["script"]) for entry in writers for command in recorded
        ):
            mislabelled.append(str(path.relative_to(ROOT)))
    assert orphans == []
    assert mislabelled == []


def test_a_command_names_its_script_as_a_whole_file_name() -> None:
    assert names_script("python tests-quality/measure.py --seeds 0", "tests-quality/measure.py")
    assert names_script("gpu_times.py --out docs/gpu.json", "b/gpu_times.py")
    assert not names_script("python docs/mri-seg/ganet_measure.py", "tests-quality/measure.py")

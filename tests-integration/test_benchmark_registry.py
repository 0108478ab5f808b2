"""Every figure's JSON under docs/ has a benchmark that writes it, runnable as
``nox -s bench -- NAME``: the registry in noxfile.py names an existing script for each, and
each result JSON either records the command that wrote it (naming a registered script) or is
named by a registered script's folder (the scripts that write a fixed path)."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Inputs, not results: the example configurations of mri-bench's docs.
CONFIGS = ROOT / "docs" / "mri-bench" / "examples"


@pytest.fixture(scope="module")
def registry() -> dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]]:
    benchmarks: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]]
    benchmarks = runpy.run_path(str(ROOT / "noxfile.py"))["BENCHMARKS"]
    return benchmarks


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


def test_every_registered_benchmark_is_a_script_of_an_existing_package(
    registry: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]],
) -> None:
    for name, (packages, script, _) in registry.items():
        assert (ROOT / script).is_file(), f"{name}: {script} does not exist"
        for package in packages:
            assert (ROOT / "packages" / package / "pyproject.toml").is_file(), name


def test_every_result_json_in_the_docs_comes_from_a_registered_benchmark(
    registry: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]],
) -> None:
    scripts = [ROOT / script for _, script, _ in registry.values()]
    sources = "\n".join(
        path.read_text() for folder in {s.parent for s in scripts} for path in folder.glob("*.py")
    )
    results = [
        path
        for path in sorted((ROOT / "docs").rglob("*.json"))
        if CONFIGS not in path.parents and "runs" not in path.relative_to(ROOT / "docs").parts
    ]
    assert results
    orphans = []
    for path in results:
        recorded = commands(json.loads(path.read_text()))
        by_command = any(s.name in command for s in scripts for command in recorded)
        if not by_command and path.name not in sources:
            orphans.append(str(path.relative_to(ROOT)))
    assert orphans == []

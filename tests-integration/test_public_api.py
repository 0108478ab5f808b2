"""Packages use each other only through public names, and the public names change on purpose.

A package's contract is its top level plus the public subpackages listed in ``PUBLIC`` (each
documented in docs/development.md). The first test reads every module of every package and
refuses an import of another package's internal module; the second compares the ``__all__``
of every public module with ``public_api.json``, so a name added, renamed or removed by accident
fails CI. After an intended change, rewrite the record with:

    python tests-integration/test_public_api.py
"""

from __future__ import annotations

import ast
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORD = Path(__file__).with_name("public_api.json")

#: Every package's public modules: its top level and its documented public subpackages.
PUBLIC: dict[str, tuple[str, ...]] = {
    "mri_io": (
        "mri_io",
        "mri_io.atomic",
        "mri_io.case",
        "mri_io.cli_support",
        "mri_io.errors",
        "mri_io.intensity",
        "mri_io.labels",
        "mri_io.layouts",
        "mri_io.model_folder",
        "mri_io.nifti",
        "mri_io.orientation",
        "mri_io.provenance",
        "mri_io.sequences",
        "mri_io.slicing",
        "mri_io.spacing",
        "mri_io.tensors",
        "mri_io.synthetic",
        "mri_io.testing",
        "mri_io.training",
    ),
    "mri_metrics": ("mri_metrics", "mri_metrics.errors", "mri_metrics.torch"),
    "mri_gen": ("mri_gen", "mri_gen.errors", "mri_gen.hfgan", "mri_gen.ummgat"),
    "mri_seg": (
        "mri_seg",
        "mri_seg.errors",
        "mri_seg.ganet",
        "mri_seg.networks",
        "mri_seg.segmenter2d",
        "mri_seg.synthtumour",
        "mri_seg.unet",
    ),
    "mri_bench": ("mri_bench", "mri_bench.errors"),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in ``path``, relative ones excluded."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_packages_import_each_other_only_through_public_names() -> None:
    offences = []
    for package in PUBLIC:
        source = ROOT / "packages" / package.replace("_", "-") / "src" / package
        for path in sorted(source.rglob("*.py")):
            for line, module in _imports(path):
                owner = module.split(".")[0]
                if owner in PUBLIC and owner != package and module not in PUBLIC[owner]:
                    offences.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not offences, "internal modules of other packages imported:\n" + "\n".join(offences)


def public_names() -> dict[str, list[str]]:
    """The sorted ``__all__`` of every public module."""
    names = {}
    for modules in PUBLIC.values():
        for module in modules:
            exported = getattr(importlib.import_module(module), "__all__", None)
            names[module] = sorted(exported) if exported is not None else []
    return names


def test_public_names_match_the_record() -> None:
    recorded = json.loads(RECORD.read_text(encoding="utf-8"))
    current = public_names()
    changes = []
    for module in sorted(set(recorded) | set(current)):
        before, after = set(recorded.get(module, [])), set(current.get(module, []))
        changes += [f"{module}: added {name}" for name in sorted(after - before)]
        changes += [f"{module}: removed {name}" for name in sorted(before - after)]
    assert not changes, (
        "the public API changed; if intended, run python tests-integration/test_public_api.py\n"
        + "\n".join(changes)
    )


if __name__ == "__main__":
    RECORD.write_text(json.dumps(public_names(), indent=2) + "\n", encoding="utf-8")
    sys.exit(0)

"""Provenance of a result row: package versions, checkpoint hashes, seeds.

Every stored row points at one provenance record, so a number in a table can always be traced
to the code and the weights that produced it, and two runs can be told apart.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from os import PathLike
from pathlib import Path
from typing import Any

#: Distributions whose versions go into every provenance record (absent ones are "absent").
TRACKED = (
    "mri-io",
    "mri-metrics",
    "mri-gen",
    "mri-seg",
    "mri-bench",
    "numpy",
    "scipy",
    "torch",
    "monai",
)
_CHUNK = 1 << 20


def package_versions(names: Iterable[str] = TRACKED) -> dict[str, str]:
    """Installed version of each distribution, ``"absent"`` where it is not installed."""
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    found["python"] = platform.python_version()
    return found


def folder_digest(folder: str | PathLike[str]) -> str:
    """SHA-256 over the names and bytes of the files directly in a checkpoint folder."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: checkpoint folder does not exist")
    digest = hashlib.sha256()
    for path in sorted(p for p in root.iterdir() if p.is_file()):
        if path.suffix not in (".json", ".safetensors"):
            continue
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def provenance_key(record: Mapping[str, Any]) -> str:
    """A short stable id of a provenance record (its canonical JSON's SHA-256 prefix)."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]

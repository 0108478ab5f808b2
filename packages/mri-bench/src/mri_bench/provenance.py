"""Provenance of a result row: package versions, checkpoint hashes, seeds; and the content
digests of the data a config names.

Every stored row points at one provenance record, so a number in a table can always be traced
to the code and the weights that produced it, and two runs can be told apart. Records and
digests hold contents, not places: the same weights and data copied to another folder or
machine give the same record, so shards run on different machines merge under one record.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Collection, Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from os import PathLike
from pathlib import Path
from typing import Any

from mri_io import case_centres
from mri_io.layouts import scan_cases

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
        _add_file(digest, path)
    return digest.hexdigest()


def _add_file(digest: Any, path: Path) -> None:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)


def file_digest(path: str | PathLike[str]) -> str:
    """SHA-256 of one file's bytes."""
    digest = hashlib.sha256()
    _add_file(digest, Path(path))
    return digest.hexdigest()


def cases_digest(folder: str | PathLike[str], cases: Collection[str] = ()) -> str:
    """SHA-256 of what a dataset gives a run: the named cases (all when empty), each by its
    id, its acquisition centre and the bytes of its files under their sequence keys.

    File and folder names do not enter it, so a dataset copied or moved elsewhere keeps its
    digest; a changed voxel, an added or removed case or sequence, or a case moved to another
    centre changes it. Named cases the folder lacks are left out (the run reports them).
    """
    found = scan_cases(folder)
    wanted = set(cases)
    centres = case_centres(folder, "")
    digest = hashlib.sha256()
    hashes: dict[Path, str] = {}  # a 4D file holds several sequences: read it once
    for files in sorted(found, key=lambda f: f.case_id):
        if wanted and files.case_id not in wanted:
            continue
        digest.update(f"case {files.case_id} centre {centres.get(files.case_id, '')}\0".encode())
        named = {**files.sequences, **files.extras}
        if files.seg is not None:
            named["seg"] = files.seg
        for key in sorted(named):
            path, volume = named[key], files.volumes.get(key, -1)
            if path not in hashes:
                hashes[path] = file_digest(path)
            digest.update(f"{key} {volume} {hashes[path]}\0".encode())
    return digest.hexdigest()


def provenance_key(record: Mapping[str, Any]) -> str:
    """A short stable id of a provenance record (its canonical JSON's SHA-256 prefix)."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]

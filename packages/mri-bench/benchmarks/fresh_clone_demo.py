"""Run README line 1 (``python -m pip install nox && nox -s demo``) on fresh clones and compare.

    python packages/mri-bench/benchmarks/fresh_clone_demo.py --work /tmp/fresh-clone-demo --runs 2

Each run clones the repository's committed ``HEAD`` into its own folder, makes a new virtual
environment holding nothing but pip (the "python" of the command), and runs the README's first
quick-start line there exactly as written, timing it from the clone to the written report.
Runs are one after the other, so each has the machine to itself as far as this script goes; the
load average before and after each run says whether anything else did. The JSON written (default
``docs/mri-bench/fresh-clone-demo.json``) holds per run the wall seconds, the exit status, the
demo's own stage times (``demo-out/timings.json``), and the SHA-256 of the report's numbers
(``demo-out/summary.json``) and of both trained models' weights, so "the same numbers" is a
comparison of hashes, not of a reading.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mri_io.atomic import atomic_write_text
from mri_io.provenance import load_average, machine, today

ROOT = Path(__file__).resolve().parents[3]
RESULTS = ROOT / "docs" / "mri-bench" / "fresh-clone-demo.json"
#: What the demo's run folder holds whose bytes must not depend on the run.
COMPARED = {
    "report numbers": "summary.json",
    "segmenter weights": "segmenter/best/model.safetensors",
    "generator weights": "generator/last/model.safetensors",
}


def readme_line(number: int) -> str:
    """Line ``number`` (1-based) of the README's quick-start code block."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index("## Quick start")
    fence = next(i for i in range(start, len(lines)) if lines[i].startswith("```"))
    return lines[fence + number]


def sha256(path: Path) -> str | None:
    """The file's SHA-256, or None when it is missing."""
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_run(folder: Path, command: str) -> dict[str, Any]:
    """Clone, make the user's venv, run ``command`` in the clone; what it took and wrote."""
    load = load_average()
    start = time.perf_counter()
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(folder)], check=True)
    subprocess.run([sys.executable, "-m", "venv", str(folder / ".user-venv")], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{folder / '.user-venv' / 'bin'}{os.pathsep}{env['PATH']}"
    with (folder.parent / f"{folder.name}.log").open("w", encoding="utf-8") as log:
        status = subprocess.run(
            ["bash", "-c", command], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
        ).returncode
    wall = time.perf_counter() - start
    out = folder / "demo-out"
    timings = out / "timings.json"
    return {
        "folder": str(folder),
        "exit_status": status,
        "wall_seconds": round(wall, 1),
        "load_average_before": load,
        "load_average_after": load_average(),
        "stage_seconds": json.loads(timings.read_text())["seconds"] if timings.is_file() else None,
        "sha256": {name: sha256(out / path) for name, path in COMPARED.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="a folder for the clones")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=False)
    command = readme_line(1)
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    runs = []
    for index in range(args.runs):
        runs.append(one_run(args.work / f"run-{index + 1}", command))
        print(json.dumps(runs[-1], indent=2), flush=True)
    hashes = [run["sha256"] for run in runs]
    document = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "readme_line_1": command,
        "commit": commit,
        "machine": machine(),
        "date": today(),
        "runs": runs,
        "same_numbers": all(h == hashes[0] and None not in h.values() for h in hashes),
        "all_under_20_minutes": all(
            run["exit_status"] == 0 and run["wall_seconds"] < 20 * 60 for run in runs
        ),
    }
    atomic_write_text(args.json, json.dumps(document, indent=2) + "\n")
    print(f"same numbers: {document['same_numbers']}; under 20 minutes: "
          f"{document['all_under_20_minutes']}")  # fmt: skip


if __name__ == "__main__":
    main()

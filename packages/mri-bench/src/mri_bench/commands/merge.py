"""``mri-bench merge OUT SHARD...``: join the run folders of a sharded benchmark.

Shards are run folders of one config (the same fingerprint, wherever each runner had its
checkout) over other scenarios, strategies or case sets (``--shard K/N``); the merged folder
holds their union and reports like one run of the whole config. A kill at any point leaves
OUT either as it was or with whole shards merged, never a half-copied file, and never a report
that describes other results than its store: the previous report goes first, the new one is
written last. Running the same merge again completes it.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from mri_bench.errors import StoreError
from mri_bench.pipeline import CONFIG_NAME, PANELS, REFERENCE_NAME
from mri_bench.report import write_report
from mri_bench.store import STORE_NAME, ResultStore, writer_lock
from mri_io.atomic import atomic_write

#: What a report writes last and a reader takes for a finished report.
REPORT_FILES = ("report.md", "report.html")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "merge",
        help="merge shard run folders into one and report it",
        description=(
            "Copy the results of every SHARD run folder (same config, other scenarios, "
            "strategies or case shards) into OUT, refusing shards of another config and "
            "conflicting numbers, then write the report. Rerun it to complete an "
            "interrupted merge."
        ),
    )
    parser.add_argument("out", type=Path, help="merged run folder (created or extended)")
    parser.add_argument("shards", type=Path, nargs="+", help="run folders to merge")
    parser.set_defaults(handler=handle)


def _copy(source: Path, target: Path) -> None:
    """Copy a file so that ``target`` is never half written."""
    with atomic_write(target) as temporary:
        shutil.copyfile(source, temporary)


def handle(args: argparse.Namespace) -> int:
    out: Path = args.out
    for shard in args.shards:
        if not (shard / STORE_NAME).is_file():
            raise StoreError(f"{shard}: no {STORE_NAME}; not a run folder")
    stores = [shard / STORE_NAME for shard in args.shards]
    existing = out / STORE_NAME
    # Refused shards leave no trace: check them before OUT is created (in memory when new).
    with ResultStore(existing if existing.is_file() else ":memory:") as probe:
        probe.check_merge(*stores)
    out.mkdir(parents=True, exist_ok=True)
    with writer_lock(out / STORE_NAME), ResultStore(out / STORE_NAME) as store:
        store.check_merge(*stores)  # a refused merge changes nothing
        for name in REPORT_FILES:
            (out / name).unlink(missing_ok=True)
        added = store.merge(*stores)
        for shard in args.shards:
            for name in (CONFIG_NAME, REFERENCE_NAME):
                if (shard / name).is_file() and not (out / name).is_file():
                    _copy(shard / name, out / name)
            for panel in sorted((shard / PANELS).glob("*.npz")):
                _copy(panel, out / PANELS / panel.name)
        print(f"merged {added} tasks from {len(args.shards)} shards into {out / STORE_NAME}")
        print(f"report: {write_report(out)}")
    return 0

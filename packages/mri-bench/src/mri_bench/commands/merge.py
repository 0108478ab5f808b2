"""``mri-bench merge OUT SHARD...``: join the run folders of a sharded benchmark."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from mri_bench.errors import StoreError
from mri_bench.pipeline import CONFIG_NAME, PANELS, REFERENCE_NAME
from mri_bench.report import write_report
from mri_bench.store import STORE_NAME, ResultStore, writer_lock


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "merge",
        help="merge shard run folders into one and report it",
        description=(
            "Copy the results of every SHARD run folder (same config, other scenarios or "
            "strategies) into OUT, refusing conflicting numbers, then write the report."
        ),
    )
    parser.add_argument("out", type=Path, help="merged run folder (created or extended)")
    parser.add_argument("shards", type=Path, nargs="+", help="run folders to merge")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    added = 0
    with writer_lock(out / STORE_NAME), ResultStore(out / STORE_NAME) as store:
        for shard in args.shards:
            if not (shard / STORE_NAME).is_file():
                raise StoreError(f"{shard}: no {STORE_NAME}; not a run folder")
            added += store.merge(shard / STORE_NAME)
            for name in (CONFIG_NAME, REFERENCE_NAME):
                if (shard / name).is_file() and not (out / name).is_file():
                    shutil.copyfile(shard / name, out / name)
            if (shard / PANELS).is_dir():
                shutil.copytree(shard / PANELS, out / PANELS, dirs_exist_ok=True)
    print(f"merged {added} tasks from {len(args.shards)} shards into {out / STORE_NAME}")
    print(f"report: {write_report(out)}")
    return 0

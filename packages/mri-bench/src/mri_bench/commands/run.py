"""``mri-bench run CONFIG --out DIR [--resume]``: run the benchmark a config describes."""

from __future__ import annotations

import argparse
from pathlib import Path

from mri_bench.config import load_config
from mri_bench.pipeline import run_benchmark
from mri_bench.report import write_report
from mri_bench.shards import WHOLE, CaseShard
from mri_bench.store import read_rows

DESCRIPTION = """\
Run cases x scenarios x strategies -> completion -> fixed segmenter -> metrics into DIR.

Results go to DIR/results.sqlite as a tidy long table, one transaction per (case, scenario,
strategy): kill the run at any point and `--resume` continues where it stopped without
recomputing or losing a stored row. The report (report.md, report.html, figures, CSV/JSON) is
written at the end. Shards for CI matrices: --shard K/N runs the K-th of N disjoint case sets
(balanced by their work; every shard runs every strategy on its cases), --scenarios and
--strategies a part of the config's scenarios and strategies; they combine, and
`mri-bench merge` joins the shards' folders into the table of the whole run (shards run in
other folders or on other machines merge: the config's fingerprint holds no absolute path of
the checkout). One run writes to a folder at a time; a resume refuses models, options or a
reference that changed since the stored results (--new-provenance overrides).
The config format is documented in docs/mri-bench/config.md."""


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _shard(text: str) -> CaseShard:
    try:
        return CaseShard.parse(text)
    except ValueError as exc:  # argparse shows an ArgumentTypeError's own words
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "run",
        help="run the benchmark a config describes",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", type=Path, help="benchmark config (JSON)")
    parser.add_argument("--out", type=Path, required=True, help="run folder")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument(
        "--new-provenance",
        action="store_true",
        help="resume although a model, its options or the reference changed: new results get "
        "their own provenance record (refused without it)",
    )
    parser.add_argument("--workers", type=int, help="processes over cases (default: config)")
    parser.add_argument("--scenarios", type=_names, default=[], help="shard: scenario names")
    parser.add_argument("--strategies", type=_names, default=[], help="shard: strategy names")
    parser.add_argument(
        "--shard",
        type=_shard,
        default=WHOLE,
        metavar="K/N",
        help="shard: the K-th of N disjoint case sets (1-based), e.g. 2/3",
    )
    parser.add_argument("--no-report", action="store_true", help="store results only")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be at least 1 (got {args.workers})")
    config = load_config(args.config).select(args.scenarios, args.strategies, args.shard)
    store = run_benchmark(
        config,
        args.out,
        resume=args.resume,
        progress=not args.quiet,
        workers=args.workers,
        new_provenance=args.new_provenance,
    )
    print(f"results: {store}")
    if not args.shard.whole and not read_rows(store):
        # More shards than cases with work: an empty shard is no error, it merges as nothing.
        print(f"shard {args.shard}: no case of the config falls to this shard; no report")
    elif not args.no_report:
        print(f"report: {write_report(args.out)}")
    return 0

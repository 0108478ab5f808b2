"""``mri-bench scenarios``: list the built-in scenarios a config can name."""

from __future__ import annotations

import argparse
import json

from mri_bench.scenarios import GROUPS, builtin_scenarios


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "scenarios",
        help="list the built-in scenarios and groups",
        description="List the scenarios a config can name, and the groups that expand to them.",
    )
    parser.add_argument("--json", action="store_true", help="definitions as JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    scenarios = builtin_scenarios()
    if args.json:
        print(json.dumps([s.to_json() for s in scenarios.values()], indent=2))
        return 0
    width = max(len(name) for name in scenarios)
    for name, scenario in scenarios.items():
        if scenario.kind == "subset":
            what = "available: " + ", ".join(scenario.available)
        else:
            what = scenario.description
        print(f"{name:<{width}}  {what}")
    print()
    for group, names in GROUPS.items():
        print(f"group {group!r}: {len(names)} scenarios")
    return 0

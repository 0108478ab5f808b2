"""How a generator's advantage over ``copy-matched`` moves with its step budget: the HF-GAN or
UMMGAT quality recipe of ``recipes.py`` (seed, cohorts and everything else unchanged) trained
for each of several step counts, each run scored as the quality test scores it. For UMMGAT,
``--losses`` (loss weights, ``--losses`` of ``mri-gen train ummgat``) and ``--lr-scales``
(multiples of the recipe's learning rate) run variants of the recipe as well.
``--family ummgat_paired`` trains UMMGAT's generator on pairs instead (``recipes.ummgat_paired``):
the ceiling of what that network learns in the same steps when every answer is given.

    python tests-quality/sweep.py --work /tmp/sweep --steps 150 300 450 600 --seeds 0 \\
        --out docs/quality/hfgan-steps.json
    python tests-quality/sweep.py --family ummgat --work /tmp/sweep-um --steps 600 1200 \\
        --seeds 0 --out docs/quality/ummgat-steps.json
    python tests-quality/sweep.py --family ummgat --work /tmp/sweep-um --steps 600 \\
        --losses cyc=0.3 cyc=10 sty=0.1 --out docs/quality/ummgat-variants.json
    python tests-quality/sweep.py --family ummgat_paired --work /tmp/sweep-um --steps 600 \\
        --seeds 0 1 2 --out docs/quality/ummgat-paired.json

Each (steps, seed, variant) run goes to the JSON as it finishes, with its wall and CPU seconds
and the load around it, and the machine and date of the sweep; runs already in the JSON are not
repeated, and each invocation's command is kept. ``python tests-quality/measure.py --render``
puts the table on the quality page.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any

from mri_io import process_pool, provenance

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recipes

#: The recipes a sweep can run, and how it writes their cohorts before the runs start.
RECIPES = {
    "hfgan": recipes.hfgan,
    "ummgat": recipes.ummgat,
    "ummgat_paired": recipes.ummgat_paired,
}
COHORTS = {
    "hfgan": recipes.hfgan_cohorts,
    "ummgat": recipes.ummgat_cohorts,
    "ummgat_paired": recipes.ummgat_cohorts,
}


#: A run's variant of the recipe: its loss weights ("" = the recipe's) and learning-rate scale.
Variant = tuple[str, float]


def run_one(family: str, steps: int, seed: int, work: str, variant: Variant) -> dict[str, Any]:
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    folder = Path(work) / f"seed-{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    losses, lr_scale = variant
    options: dict[str, Any] = {"lr_scale": lr_scale} if lr_scale != 1.0 else {}
    if losses:
        options["losses"] = losses
    return recipes.timed(RECIPES[family], folder, seed, steps=steps, **options)


def variant_of(run: dict[str, Any]) -> Variant:
    """The variant a recorded run trained (runs recorded without one ran the recipe)."""
    return str(run.get("losses", "")), float(run.get("lr_scale", 1.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=sorted(RECIPES), default="hfgan")
    parser.add_argument("--work", type=Path, required=True, help="folder for cohorts and runs")
    parser.add_argument("--steps", nargs="+", type=int, required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--out", type=Path, required=True, help="the sweep's JSON")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--losses", nargs="+", default=[""], help="UMMGAT loss weights per variant, e.g. cyc=10"
    )
    parser.add_argument(
        "--lr-scales", nargs="+", type=float, default=[1.0], help="multiples of the recipe's lr"
    )
    args = parser.parse_args()
    variants = [(losses, scale) for losses in args.losses for scale in args.lr_scales]
    if args.family != "ummgat" and variants != [("", 1.0)]:
        parser.error("--losses and --lr-scales are for --family ummgat")
    document: dict[str, Any] = (
        json.loads(args.out.read_text()) if args.out.is_file() else {"runs": []}
    )
    if document.get("family", args.family) != args.family:
        sys.exit(f"{args.out} holds a {document['family']} sweep, not {args.family}")
    done = {(r["steps"], r["seed"], variant_of(r)) for r in document["runs"]}
    jobs = [
        (n, s, v) for n in args.steps for s in args.seeds for v in variants if (n, s, v) not in done
    ]
    command = provenance.command_line(__file__, sys.argv[1:])
    document.setdefault("commands", [])
    if command not in document["commands"]:
        document["commands"].append(command)
    machine = (
        f"{provenance.machine()} shared with other jobs, {args.jobs} runs side by side, one "
        "torch thread each"
    )
    machines = document.setdefault("machines", [document.get("machine", machine)])
    if machine not in machines:
        machines.append(machine)
    document.update(family=args.family, machine="; ".join(machines), date=provenance.today())
    for seed in args.seeds:  # written here once, not raced by the runs of one seed
        COHORTS[args.family](args.work / f"seed-{seed}", seed)
    with process_pool(args.jobs, start_method="spawn") as pool:
        futures = {
            pool.submit(run_one, args.family, n, s, str(args.work), v): (n, s, v)
            for n, s, v in jobs
        }
        for future in as_completed(futures):
            steps, seed, (losses, lr_scale) = futures[future]
            result = future.result()
            record: dict[str, Any] = {"steps": steps, "seed": seed}
            if losses:
                record["losses"] = losses
            if lr_scale != 1.0:
                record["lr_scale"] = lr_scale
            document["runs"].append({**record, "result": result})
            document["runs"].sort(key=lambda r: (r["steps"], r["seed"], variant_of(r)))
            staging = args.out.with_name(args.out.name + ".partial")
            staging.write_text(json.dumps(document, indent=1) + "\n")
            staging.replace(args.out)
            print(f"{args.family} {record}: {json.dumps(result)}", flush=True)


if __name__ == "__main__":
    main()

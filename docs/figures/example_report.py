"""Copy the report of a ``mri-bench demo`` run into ``docs/example-report/``.

    python -m pip install nox && nox -s demo      # README line 1: the report in demo-out/
    python docs/figures/example_report.py demo-out

The page is the run's own ``report.md`` (every number in it is in ``summary.json``, written by
``mri-bench report``) under a preface naming the command and the stage times the demo wrote to
``timings.json``; the figures and both JSON files are copied beside it.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from mri_io.atomic import atomic_write, atomic_write_text

PAGE = Path(__file__).resolve().parent.parent / "example-report"
FIGURES = ("paired.png", "ranks.png", "slices.png")
COMMAND = "python -m pip install nox && nox -s demo\npython docs/figures/example_report.py demo-out"


def preface(record: dict[str, Any]) -> str:
    """What made the report (the demo's settings) and how long each stage took."""
    settings, seconds = record["settings"], record["seconds"]
    stages = ", ".join(f"{stage} {value:.0f} s" for stage, value in seconds.items())
    return (
        "This page is the report `mri-bench demo` writes, on the bundled synthetic cohort "
        f"({settings['n_train']} training and {settings['n_test']} held-out cases on a "
        f"{settings['voxel_mm']} mm grid), with the {settings['segmenter_preset']} 3D U-Net "
        f"trained for {settings['segmenter_epochs'] * settings['segmenter_steps']} steps as "
        f"the fixed segmenter and a {settings['generator_preset']} HF-GAN trained for "
        f"{settings['generator_steps']} steps"
        + (f" ({settings['generator_recipe']} losses)" if "generator_recipe" in settings else "")
        + f", on {settings['workers']} processes of one torch "
        "thread each: the main job's own output at its defaults, made with\n\n"
        f"```bash\n{COMMAND}\n```\n\n"
        f"Stage wall times (`timings.json`): {stages}.\n\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="output folder of mri-bench demo")
    args = parser.parse_args()
    record = json.loads((args.run / "timings.json").read_text(encoding="utf-8"))
    report = (args.run / "report.md").read_text(encoding="utf-8")
    title, _, body = report.partition("\n")
    PAGE.mkdir(exist_ok=True)
    for name in (*FIGURES, "summary.json", "timings.json"):
        with atomic_write(PAGE / name) as temporary:
            shutil.copyfile(args.run / name, temporary)
    atomic_write_text(PAGE / "report.md", f"{title}\n\n{preface(record)}{body.lstrip()}")


if __name__ == "__main__":
    main()

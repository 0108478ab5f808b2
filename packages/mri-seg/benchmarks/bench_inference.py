"""Inference speed: seconds per 240x240x155 four-sequence case for each 3D U-Net preset.

Times sliding-window inference plus label decoding on one BraTS-sized input (untrained
weights: speed does not depend on them), on the CPU and, if present, a CUDA device. The timed
call is repeated ``--repeats`` times after one warm-up call; the median counts. Each result is
printed as it comes, and all of them, with the command, the machine, the date and the load
average before and after, go to ``--out`` (default docs/mri-seg/inference-speed.json, the JSON
the docs' figures are rendered from).

    nox -s bench -- inference --presets tiny brats
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from mri_io.atomic import atomic_write_text
from mri_io.nifti import BRATS_SHAPE
from mri_io.provenance import command_line, load_average, machine, today
from mri_seg import UNET_PRESETS, InferenceSettings, UNet3D, predict_probabilities

#: Where the recorded figures' JSON lives.
OUT = Path(__file__).resolve().parents[3] / "docs" / "mri-seg" / "inference-speed.json"


def _time(model: UNet3D, images: torch.Tensor, settings: InferenceSettings, repeats: int) -> float:
    def once() -> float:
        if settings.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        model.target.decode(predict_probabilities(model, images, settings))
        if settings.device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - start

    once()
    return statistics.median(once() for _ in range(repeats))


def table(record: dict[str, Any]) -> list[str]:
    """The docs' table of a recorded run (docs/mri-seg/index.md holds it; a test checks that
    it is this render of the JSON)."""
    before, after = record["load_average_before"][0], record["load_average_after"][0]
    lines = [
        f"`{record['command']}`, {record['date']}, {record['machine']}, load average "
        f"{before:.1f} before and {after:.1f} after; median of {record['repeats']} timed "
        "call(s) after a warm-up, untrained weights:",
        "",
        "| preset | device | torch threads | window | overlap | seconds per 240x240x155 case |",
        "|---|---|---|---|---|---|",
    ]
    for r in record["results"]:
        window = "x".join(map(str, r["roi"]))
        lines.append(
            f"| `{r['preset']}` | {r['device']} | {r['torch_threads']} | {window} "
            f"| {r['overlap']:g} | {r['seconds_per_case']:.2f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=sorted(UNET_PRESETS))
    parser.add_argument("--overlap", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--devices", nargs="+", help="default: cpu, plus cuda if available")
    parser.add_argument("--out", type=Path, default=OUT, help="the JSON to write")
    args = parser.parse_args()
    load_before = load_average()
    devices = args.devices or ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    torch.manual_seed(0)
    images = torch.randn(4, *BRATS_SHAPE)
    results = []
    for device in devices:
        for preset in args.presets:
            model = UNet3D.from_preset(preset)
            settings = InferenceSettings(overlap=args.overlap, device=device, output_device=device)
            seconds = _time(model, images, settings, args.repeats)
            results.append(
                {
                    "preset": preset,
                    "device": device if device == "cpu" else torch.cuda.get_device_name(),
                    "roi": list(model.roi_size),
                    "overlap": args.overlap,
                    "seconds_per_case": round(seconds, 2),
                    "torch_threads": torch.get_num_threads(),
                }
            )
            print(json.dumps(results[-1]), flush=True)
    record = {
        "command": command_line(__file__, sys.argv[1:]),
        "machine": machine(),
        "date": today(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "repeats": args.repeats,
        "results": results,
    }
    atomic_write_text(args.out, json.dumps(record, indent=1) + "\n")
    print("\n".join(table(record)))


if __name__ == "__main__":
    main()

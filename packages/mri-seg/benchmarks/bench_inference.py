"""Inference speed: seconds per 240x240x155 four-sequence case for each 3D U-Net preset.

Times sliding-window inference plus label decoding on one BraTS-sized input (untrained
weights: speed does not depend on them), on the CPU and, if present, a CUDA device. Prints
JSON. The timed call is repeated ``--repeats`` times after one warm-up call; the median counts.

    python packages/mri-seg/benchmarks/bench_inference.py --presets tiny brats
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from mri_io.nifti import BRATS_SHAPE
from mri_seg import UNET_PRESETS, InferenceSettings, UNet3D, predict_probabilities


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=sorted(UNET_PRESETS))
    parser.add_argument("--overlap", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--devices", nargs="+", help="default: cpu, plus cuda if available")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()

"""Training speed of UMMGAT: iterations per second of a preset on random batches.

Measures the full training step (two discriminator updates with R1, two generator updates,
EMA) without data loading, after ``--warmup`` untimed steps. Lesion masks are random discs so
the lesion-aware branches run as in training.

    python packages/mri-gen/benchmarks/ummgat_speed.py --preset paper --device cuda --steps 200

Prints one JSON line with the command, machine, date and iterations/s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace

import torch

from mri_gen.ummgat.config import PRESETS
from mri_gen.ummgat.training import TrainConfig, UMMGATTrainer
from mri_io.provenance import command_line, today
from mri_io.training import init_distributed


def random_batch(
    batch: int, size: int, domains: int, latent: int, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """A batch with the sampler's keys: images in [-1, 1], disc-shaped lesions."""
    grid = torch.stack(
        torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    ).float()
    centres = torch.randint(size // 4, 3 * size // 4, (batch, 2, 1, 1), generator=generator)
    masks = ((grid[None] - centres).pow(2).sum(dim=1) < (size // 10) ** 2)[:, None]
    return {
        "x_src": torch.rand(batch, 1, size, size, generator=generator) * 2 - 1,
        "m_src": masks,
        "y_src": torch.randint(domains, (batch,), generator=generator),
        "y_trg": torch.randint(domains, (batch,), generator=generator),
        "x_ref": torch.rand(batch, 1, size, size, generator=generator) * 2 - 1,
        "m_ref": masks.flip(-1),
        "z_trg": torch.randn(batch, latent, generator=generator),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="paper")
    parser.add_argument("--image-size", type=int, help="default: the preset's")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--no-lesion", action="store_true")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N")
    args = parser.parse_args()
    config = PRESETS[args.preset]
    if args.image_size:
        config = config.with_image_size(args.image_size)
    config = replace(config, lesion_aware=not args.no_lesion)
    env = init_distributed(args.device)
    trainer = UMMGATTrainer(config, TrainConfig(batch_size=args.batch_size), env)
    generator = torch.Generator().manual_seed(0)
    batches = [
        random_batch(args.batch_size, config.image_size, config.num_domains, 16, generator)
        for _ in range(4)
    ]
    for step in range(args.warmup):
        trainer.step(batches[step % 4])
    if env.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for step in range(args.steps):
        trainer.step(batches[step % 4])
    if env.device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    device = torch.cuda.get_device_name() if env.device.type == "cuda" else "CPU"
    record = {
        "command": command_line(__file__, sys.argv[1:]),
        "machine": f"{platform.platform()}; {os.cpu_count()} CPUs; {device}",
        "date": today(),
        "preset": args.preset,
        "image_size": config.image_size,
        "batch_size": args.batch_size,
        "lesion_aware": config.lesion_aware,
        "generator_parameters": sum(p.numel() for p in trainer.model.generator.parameters()),
        "iterations_per_second": round(args.steps / elapsed, 3),
    }
    print(json.dumps(record))


if __name__ == "__main__":
    main()

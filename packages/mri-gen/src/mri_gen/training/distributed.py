"""Data-parallel training under ``torchrun``: process group, device and DDP wrapping.

``torchrun --nproc_per_node=N`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; without them
training runs as a single process. The backend is NCCL on GPUs and gloo otherwise, so the same
code runs (and is tested) on a CPU-only machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class DistributedEnv:
    """This process's place in the job and the device it trains on."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 writes files and shows progress; the others only compute."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str | None = None) -> DistributedEnv:
    """Join the ``torchrun`` process group if there is one; pick this process's device.

    ``device`` forces a device type (``"cpu"``, ``"cuda"``); by default CUDA when available.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    kind = device or ("cuda" if torch.cuda.is_available() else "cpu")
    chosen = torch.device(kind, local_rank) if kind == "cuda" else torch.device(kind)
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    return DistributedEnv(rank, world_size, local_rank, chosen)


def wrap(module: nn.Module, env: DistributedEnv) -> nn.Module:
    """``module`` in DDP when the job has several processes, else unchanged."""
    if not env.distributed:
        return module
    ids = [env.device.index] if env.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)


def mean_over_ranks(values: dict[str, float], env: DistributedEnv) -> dict[str, float]:
    """Average logged numbers across processes (a no-op for one process)."""
    if not env.distributed or not values:
        return values
    names = sorted(values)
    tensor = torch.tensor([values[n] for n in names], dtype=torch.float64, device=env.device)
    dist.all_reduce(tensor)
    return {n: float(v) / env.world_size for n, v in zip(names, tensor.tolist(), strict=True)}


def barrier(env: DistributedEnv) -> None:
    """Wait for every process (e.g. until rank 0 has written a checkpoint)."""
    if env.distributed:
        dist.barrier()


def shutdown(env: DistributedEnv) -> None:
    """Leave the process group."""
    if env.distributed and dist.is_initialized():
        dist.destroy_process_group()

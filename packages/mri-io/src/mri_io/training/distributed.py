"""Data-parallel training under ``torchrun``: process group, device and DDP wrapping.

``torchrun --nproc_per_node=N`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; without them
training runs as one process. The backend is NCCL on GPUs and gloo otherwise, so the same code
runs, and is tested, on a CPU-only machine. Reductions build their tensors on the process's
own device: NCCL only reduces CUDA tensors, gloo CPU ones, and the device chosen here is the
one that matches the backend.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from mri_io.training.devices import resolve_device


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
        """Whether more than one process takes part."""
        return self.world_size > 1


def init_distributed(device: str | torch.device | None = None) -> DistributedEnv:
    """Join the ``torchrun`` process group if there is one (idempotent); pick the device.

    ``device`` as in :func:`~mri_io.training.resolve_device`; under ``torchrun`` plain
    ``"cuda"`` and ``"auto"`` give each process the GPU numbered by its ``LOCAL_RANK``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    chosen = resolve_device(device)
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


def mean_over_ranks(values: Mapping[str, float], env: DistributedEnv) -> dict[str, float]:
    """Average logged numbers across processes (unchanged for one process)."""
    if not env.distributed or not values:
        return dict(values)
    names = sorted(values)
    tensor = torch.tensor([values[n] for n in names], dtype=torch.float64, device=env.device)
    dist.all_reduce(tensor)
    return {n: float(v) / env.world_size for n, v in zip(names, tensor.tolist(), strict=True)}


def any_rank(flag: bool, env: DistributedEnv) -> bool:
    """Whether ``flag`` holds on any process (e.g. "the time budget is spent" on rank 0)."""
    if not env.distributed:
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0], dtype=torch.float64, device=env.device)
    dist.all_reduce(tensor)
    return bool(tensor.item() > 0)


def barrier(env: DistributedEnv) -> None:
    """Wait for every process (e.g. until rank 0 has written a checkpoint)."""
    if env.distributed:
        dist.barrier()


def shutdown(env: DistributedEnv) -> None:
    """Leave the process group."""
    if env.distributed and dist.is_initialized():
        dist.destroy_process_group()

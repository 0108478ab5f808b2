"""PyTorch DDP under ``torchrun``: the same training code runs on one process or many.

``torchrun`` sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; without them training runs as a
single process. The backend is NCCL on CUDA and gloo on CPU, so tests prove multi-process
training on any machine (``torchrun --nproc_per_node 2``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Distributed:
    """This process's place in the job."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        """Whether more than one process takes part."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and logs (rank 0)."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every process (no-op when alone)."""
        if self.enabled:
            dist.barrier()

    def mean(self, value: float) -> float:
        """``value`` averaged over processes."""
        if not self.enabled:
            return value
        tensor = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world_size

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any process (e.g. "time is up" on rank 0)."""
        if not self.enabled:
            return flag
        tensor = torch.tensor([1.0 if flag else 0.0], dtype=torch.float64)
        dist.all_reduce(tensor)
        return bool(tensor.item() > 0)


def setup_distributed(device: torch.device) -> Distributed:
    """Join the ``torchrun`` job if there is one (idempotent) and describe this process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Distributed(dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0")), world_size)


def teardown_distributed(context: Distributed) -> None:
    """Leave the process group that :func:`setup_distributed` joined."""
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()

"""Seeding: the same seed gives the same run on the CPU.

Trainers draw their data from generators seeded explicitly (by seed, rank, epoch and step), so
what remains global is torch's own generator (weight initialisation, dropout) and CUDA's. The
seed is the same on every process: DDP starts every rank from rank 0's weights anyway.
"""

from __future__ import annotations

import torch


def seed_everything(seed: int) -> None:
    """Seed torch's CPU generator and every CUDA device's."""
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)

"""Learning rate: linear scaling with the batch size, linear warm-up, one cosine decay.

The thesis trains with Adam at 5e-4 for a batch of 64 and scales the rate linearly with the
batch (Goyal et al.), warms it up linearly and then follows a single cosine cycle, stepping the
scheduler after every optimiser step.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def scaled_learning_rate(base_lr: float, batch_size: int, base_batch: int = 64) -> float:
    """``base_lr`` for ``base_batch``, scaled linearly to ``batch_size`` (global batch)."""
    if batch_size < 1 or base_batch < 1:
        raise ValueError("batch sizes must be positive")
    return base_lr * batch_size / base_batch


def warmup_cosine_factor(step: int, warmup: int, total: int, floor: float = 0.0) -> float:
    """Multiplier of the peak rate at ``step``: ``(step+1)/warmup`` rising, then half a cosine.

    After ``total`` steps the factor stays at ``floor``.
    """
    if step < warmup:
        return (step + 1) / warmup
    if total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / (total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_cosine(optimizer: Optimizer, warmup: int, total: int, floor: float = 0.0) -> LambdaLR:
    """A scheduler applying :func:`warmup_cosine_factor` to every parameter group."""
    return LambdaLR(optimizer, lambda step: warmup_cosine_factor(step, warmup, total, floor))

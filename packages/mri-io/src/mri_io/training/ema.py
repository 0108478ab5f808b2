"""Exponential moving average of a network's weights.

GAN generators oscillate from step to step; the average of recent weights generates smoother,
better images than any single step (Karras et al.; StarGAN v2 and UMMGAT evaluate EMA weights).
The shadow copy lives on the same device, is never trained, and is what gets saved when enabled.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """``shadow = decay * shadow + (1 - decay) * weights`` after each step; buffers are copied."""

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must lie in [0, 1), got {decay}")
        self.decay = decay
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the shadow weights toward ``model``'s."""
        for shadow, live in zip(self.shadow.parameters(), model.parameters(), strict=True):
            shadow.lerp_(live.detach(), 1.0 - self.decay)
        for shadow_buffer, live_buffer in zip(self.shadow.buffers(), model.buffers(), strict=True):
            shadow_buffer.copy_(live_buffer)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.shadow.load_state_dict(state)

"""Style (sequence) encoder and discriminator: one shared trunk, one head per branch.

Both follow StarGAN v2: residual downsampling blocks without normalisation, then a global
average pool (instead of StarGAN v2's size-specific final convolution, so 176 and 240 slices
use the same weights), then per-branch heads. Branch ``i < N`` is sequence domain ``i``;
with the lesion-aware module branch ``N + i`` sees only the lesion of domain ``i``. Heads are
computed together as one linear layer and the requested branch is gathered per sample.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mri_gen.ummgat.config import UMMGATConfig
from mri_gen.ummgat.layers import ResBlock, he_init


class Trunk(nn.Module):
    """``(B, 1, H, W)`` images to ``(B, C)`` features."""

    def __init__(self, config: UMMGATConfig) -> None:
        super().__init__()
        channels = config.critic_channels
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        blocks = []
        for _ in range(config.critic_blocks):
            wider = min(2 * channels, config.critic_max_channels)
            blocks.append(ResBlock(channels, wider, downsample=True))
            channels = wider
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(channels, channels, 3, padding=1)
        self.width = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.blocks(self.stem(x))
        features = self.head(F.leaky_relu(features, 0.2))
        return F.leaky_relu(features, 0.2).mean(dim=(2, 3))


def _gather(values: torch.Tensor, branch: torch.Tensor) -> torch.Tensor:
    return values[torch.arange(values.shape[0], device=values.device), branch]


class StyleEncoder(nn.Module):
    """``forward(x, branch (B,)) -> (B, style)``: the style code of ``x`` as seen by ``branch``."""

    def __init__(self, config: UMMGATConfig) -> None:
        super().__init__()
        self.trunk = Trunk(config)
        self.branches = config.num_branches
        self.style_dim = config.style_dim
        self.heads = nn.Linear(self.trunk.width, self.branches * config.style_dim)
        he_init(self)

    def forward(self, x: torch.Tensor, branch: torch.Tensor) -> torch.Tensor:
        codes = self.heads(self.trunk(x)).view(x.shape[0], self.branches, self.style_dim)
        return _gather(codes, branch)


class Discriminator(nn.Module):
    """``forward(x, branch (B,)) -> (B,)`` real/fake logits of ``x`` for its ``branch``."""

    def __init__(self, config: UMMGATConfig) -> None:
        super().__init__()
        self.trunk = Trunk(config)
        self.branches = config.num_branches
        self.heads = nn.Linear(self.trunk.width, self.branches)
        he_init(self)

    def forward(self, x: torch.Tensor, branch: torch.Tensor) -> torch.Tensor:
        return _gather(self.heads(self.trunk(x)), branch)

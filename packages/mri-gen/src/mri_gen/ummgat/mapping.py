"""Mapping network: a random latent code to a style code of each domain (StarGAN v2).

``latent -> shared MLP -> head of the target domain -> style``. The shared layers learn what all
domains have in common; each head turns it into one domain's style. There is one head per
sequence domain: lesion twins are only ever encoded from images, never sampled.
"""

from __future__ import annotations

import torch
from torch import nn

from mri_gen.ummgat.config import UMMGATConfig
from mri_gen.ummgat.layers import he_init


class MappingNetwork(nn.Module):
    """``forward(z (B, latent), domain (B,)) -> (B, style)``."""

    def __init__(self, config: UMMGATConfig) -> None:
        super().__init__()
        hidden = config.mapping_hidden
        shared: list[nn.Module] = [nn.Linear(config.latent_dim, hidden), nn.ReLU()]
        for _ in range(config.mapping_shared_layers - 1):
            shared += [nn.Linear(hidden, hidden), nn.ReLU()]
        self.shared = nn.Sequential(*shared)
        self.heads = nn.ModuleList()
        for _ in range(config.num_domains):
            head: list[nn.Module] = []
            for _ in range(config.mapping_head_layers):
                head += [nn.Linear(hidden, hidden), nn.ReLU()]
            head.append(nn.Linear(hidden, config.style_dim))
            self.heads.append(nn.Sequential(*head))
        he_init(self)

    def forward(self, z: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        hidden = self.shared(z)
        styles = torch.stack([head(hidden) for head in self.heads], dim=1)
        return styles[torch.arange(z.shape[0], device=z.device), domain]

"""Building blocks shared by the UMMGAT networks: He initialisation, AdaIN, residual blocks.

The residual blocks follow StarGAN v2: pre-activation with leaky ReLU (0.2), a learned 1x1
shortcut only when the width changes, and the sum scaled by ``1/sqrt(2)`` so that stacking
blocks keeps the activations' variance.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def he_init(module: nn.Module) -> None:
    """He (Kaiming) normal weights and zero biases for every conv and linear layer (paper)."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class AdaIN(nn.Module):
    """Adaptive instance normalisation: ``(1 + gamma(s)) * IN(x) + beta(s)`` (StarGAN v2).

    Works on feature maps ``(B, C, H, W)``, normalising each channel over its pixels. The ``1 +``
    keeps a freshly initialised layer close to plain instance normalisation.
    """

    def __init__(self, style_dim: int, channels: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.affine = nn.Linear(style_dim, 2 * channels)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(style)[:, :, None, None].chunk(2, dim=1)
        out: torch.Tensor = (1 + gamma) * self.norm(x) + beta
        return out


class ResBlock(nn.Module):
    """Pre-activation residual block, optionally instance-normalised and halving the image."""

    def __init__(
        self, dim_in: int, dim_out: int, *, normalize: bool = False, downsample: bool = False
    ) -> None:
        super().__init__()
        self.downsample = downsample
        self.conv1 = nn.Conv2d(dim_in, dim_in, 3, padding=1)
        self.conv2 = nn.Conv2d(dim_in, dim_out, 3, padding=1)
        self.norm1 = nn.InstanceNorm2d(dim_in, affine=True) if normalize else nn.Identity()
        self.norm2 = nn.InstanceNorm2d(dim_in, affine=True) if normalize else nn.Identity()
        self.shortcut = nn.Conv2d(dim_in, dim_out, 1, bias=False) if dim_in != dim_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.shortcut is None else self.shortcut(x)
        if self.downsample:
            skip = F.avg_pool2d(skip, 2)
        out = self.conv1(F.leaky_relu(self.norm1(x), 0.2))
        if self.downsample:
            out = F.avg_pool2d(out, 2)
        out = self.conv2(F.leaky_relu(self.norm2(out), 0.2))
        result: torch.Tensor = (out + skip) / math.sqrt(2)
        return result


class AdaINResBlock(nn.Module):
    """Residual block whose two normalisations take the style code (the decoder's block)."""

    def __init__(self, dim_in: int, dim_out: int, style_dim: int) -> None:
        super().__init__()
        self.norm1 = AdaIN(style_dim, dim_in)
        self.norm2 = AdaIN(style_dim, dim_out)
        self.conv1 = nn.Conv2d(dim_in, dim_out, 3, padding=1)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, padding=1)
        self.shortcut = nn.Conv2d(dim_in, dim_out, 1, bias=False) if dim_in != dim_out else None

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        skip = x if self.shortcut is None else self.shortcut(x)
        out = self.conv1(F.leaky_relu(self.norm1(x, style), 0.2))
        out = self.conv2(F.leaky_relu(self.norm2(out, style), 0.2))
        result: torch.Tensor = (out + skip) / math.sqrt(2)
        return result

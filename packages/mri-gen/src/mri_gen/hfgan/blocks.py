"""Convolutional building blocks shared by the HF-GAN encoders and decoder.

Every block takes a ``groups`` argument: with ``groups=4`` one module is four independent
networks side by side (grouped convolutions, and GroupNorm groups that never straddle two of
them), which is how the four per-sequence encoders run as a single kernel launch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class NormActConv(nn.Module):
    """GroupNorm, SiLU, 3x3 convolution (pre-activation order)."""

    def __init__(self, cin: int, cout: int, norm_groups: int, groups: int = 1) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(norm_groups * groups, cin)
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(F.silu(self.norm(x)))
        return out


class ResnetBlock(nn.Module):
    """``convs`` pre-activation units plus the input (through a 1x1 conv if channels change)."""

    def __init__(
        self, cin: int, cout: int, *, convs: int, norm_groups: int, groups: int = 1
    ) -> None:
        super().__init__()
        units = [NormActConv(cin, cout, norm_groups, groups)]
        units += [NormActConv(cout, cout, norm_groups, groups) for _ in range(convs - 1)]
        self.units = nn.Sequential(*units)
        self.shortcut: nn.Module = (
            nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1, groups=groups)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.units(x) + self.shortcut(x)
        return out


class Downsample(nn.Module):
    """Halve the resolution: pad one row and column at the end, then 3x3 stride-2 conv.

    The asymmetric padding maps an even side ``n`` to exactly ``n / 2``.
    """

    def __init__(self, channels: int, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(F.pad(x, (0, 1, 0, 1)))
        return out


class Upsample(nn.Module):
    """Double the resolution: nearest-neighbour, then 3x3 conv (no checkerboard artefacts)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return out

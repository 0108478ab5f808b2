"""Convolutional U-Net backbone: StarGAN v2's generator blocks with U-Net skips.

Encoder: a 3x3 stem, then instance-normalised residual blocks that halve the image; decoder:
nearest x2, the encoder's map of that level concatenated, an AdaIN residual block carrying the
style. The paper's discussion reports convolutional U-Nets (ConvNeXt-Unet, attention U-Net)
as good as Swin-Unet; this one trains fastest on a CPU, which is why the ``tiny`` preset uses it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mri_gen.ummgat.config import UNetConfig
from mri_gen.ummgat.layers import AdaIN, AdaINResBlock, ResBlock


class ConvUNet(nn.Module):
    """``forward(x (B, 1, H, W), style (B, S)) -> (B, 1, H, W)``; H, W multiples of
    :attr:`UNetConfig.multiple`."""

    def __init__(self, config: UNetConfig, style_dim: int) -> None:
        super().__init__()
        channels = [config.base_channels * mult for mult in config.channel_mults]
        self.stem = nn.Conv2d(1, channels[0], 3, padding=1)
        self.down = nn.ModuleList(
            ResBlock(channels[i], channels[i + 1], normalize=True, downsample=True)
            for i in range(len(channels) - 1)
        )
        self.middle = ResBlock(channels[-1], channels[-1], normalize=True)
        self.middle_style = AdaINResBlock(channels[-1], channels[-1], style_dim)
        self.up = nn.ModuleList(
            AdaINResBlock(channels[i + 1] + channels[i], channels[i], style_dim)
            for i in reversed(range(len(channels) - 1))
        )
        self.out_norm = AdaIN(style_dim, channels[0])
        self.to_image = nn.Conv2d(channels[0], 1, 1)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        features = self.stem(x)
        skips = []
        for block in self.down:
            skips.append(features)
            features = block(features)
        features = self.middle_style(self.middle(features), style)
        for block in self.up:
            upsampled = F.interpolate(features, scale_factor=2.0, mode="nearest")
            features = block(torch.cat((upsampled, skips.pop()), dim=1), style)
        features = F.leaky_relu(self.out_norm(features, style), 0.2)
        image: torch.Tensor = self.to_image(features)
        return image

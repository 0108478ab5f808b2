"""PatchGAN discriminator with an auxiliary classifier of the sequence it is shown.

A 4x4 stride-2 convolution and LeakyReLU, then ``layers`` blocks of 4x4 convolution (stride 2,
the last stride 1), GroupNorm and LeakyReLU, doubling the width up to 8x. One 4x4 convolution
scores each patch real or fake; a second head, a convolution as large as the whole last
feature map, says which sequence the image is (the thesis' "large receptive field" classifier),
so the generator is pushed to produce the requested contrast, not just a plausible one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mri_gen.hfgan.config import DiscriminatorConfig

_SLOPE = 0.2


class HFGANDiscriminator(nn.Module):
    """``(B, 1, H, W)`` slices to patch logits ``(B, 1, h, w)`` and class logits ``(B, K)``."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        base = config.base_channels
        self.stem = nn.Conv2d(1, base, 4, stride=2, padding=1)
        blocks: list[nn.Module] = []
        width = base
        for layer in range(1, config.layers + 1):
            out = base * min(2**layer, 8)
            stride = 2 if layer < config.layers else 1
            blocks += [
                nn.Conv2d(width, out, 4, stride=stride, padding=1, bias=False),
                nn.GroupNorm(config.norm_groups, out),
                nn.LeakyReLU(_SLOPE),
            ]
            width = out
        self.body = nn.Sequential(*blocks)
        self.patch = nn.Conv2d(width, 1, 4, padding=1, bias=False)
        self.classifier = nn.Conv2d(width, config.classes, config.feature_size, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(F.leaky_relu(self.stem(x), _SLOPE))
        classes = self.classifier(features).flatten(1)
        patches: torch.Tensor = self.patch(features)
        return patches, classes

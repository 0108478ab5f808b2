"""The five HF-GAN encoders and their channel-attention fusion.

One *early-fusion* encoder sees all sequences stacked (missing ones at -1); four
*per-sequence* encoders each see one sequence. The per-sequence encoders are one grouped network
(``groups = number of sequences``): the same parameters and outputs as four separate
encoders, in one pass.

Fusion treats every sample of a batch with the same tensor expression, whatever its number of
available inputs (1 to 3) and whatever the batch size. The reference code instead branched per
sample, sent single-input samples down a separate path and, in training, chose that path by
batch position (so a batch of one always took it) and dropped the early encoder's skip features
for single-input samples while inference kept them. Here, for every sample and in every mode:

- bottleneck: per-stream channel weights ``a = sigmoid(MLP(GAP(f)))``; a weighted sum
  ``s = sum_m a_m f_m + a_early f_early`` over available ``m``, and a mix
  ``h = sum_m softmax_m(a)_m f_m + f_early`` with the softmax over available streams only;
  the fused map is ``conv1x1([s, h])``;
- skips: the mean of the available per-sequence skips plus the early skip (thesis eq. 4.1).
"""

from __future__ import annotations

import torch
from torch import nn

from mri_gen.hfgan.blocks import Downsample, ResnetBlock
from mri_gen.hfgan.config import GeneratorConfig


class Encoder(nn.Module):
    """ResNet block then downsampling at each level (none after the last), ``groups`` wide."""

    def __init__(self, config: GeneratorConfig, in_channels: int, groups: int = 1) -> None:
        super().__init__()
        channels = [c * groups for c in config.channels]
        self.stem = nn.Conv2d(in_channels, channels[0], 3, padding=1, groups=groups)
        pairs = zip([channels[0], *channels[:-1]], channels, strict=True)
        self.blocks = nn.ModuleList(
            ResnetBlock(
                cin, cout, convs=config.res_convs, norm_groups=config.norm_groups, groups=groups
            )
            for cin, cout in pairs
        )
        self.downs = nn.ModuleList(Downsample(c, groups) for c in channels[:-1])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The bottleneck and the output of every level's ResNet block, finest first."""
        x = self.stem(x)
        skips = []
        for level, block in enumerate(self.blocks):
            x = block(x)
            skips.append(x)
            if level < len(self.downs):
                x = self.downs[level](x)
        return x, skips


class ChannelAttention(nn.Module):
    """Per-channel weights in (0, 1) for ``groups`` streams: GAP, 1x1, SiLU, 1x1, sigmoid."""

    def __init__(self, channels: int, groups: int = 1) -> None:
        super().__init__()
        total = channels * groups
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(total, total, 1, groups=groups),
            nn.SiLU(),
            nn.Conv2d(total, total, 1, groups=groups),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.gate(x)
        return out


class FusionEncoder(nn.Module):
    """Early-fusion and per-sequence encoders, fused into one bottleneck and one skip list."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        streams = len(config.sequences)
        self.streams = streams
        self.early = Encoder(config, streams)
        self.per_sequence = Encoder(config, streams, groups=streams)
        self.attention_early = ChannelAttention(config.width)
        self.attention_sequences = ChannelAttention(config.width, groups=streams)
        self.mix = nn.Conv2d(2 * config.width, config.width, 1)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, S*C, H, W)`` from the grouped encoder to ``(B, S, C, H, W)``."""
        b, sc, h, w = x.shape
        return x.reshape(b, self.streams, sc // self.streams, h, w)

    def forward(
        self, x: torch.Tensor, available: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``x``: ``(B, S, H, W)`` with missing sequences already at -1; ``available``:
        ``(B, S)`` bool, at least one True per row. Returns the fused bottleneck and skips."""
        early, early_skips = self.early(x)
        grouped, grouped_skips = self.per_sequence(x)
        features = self._split(grouped)
        weights = self._split(self.attention_sequences(grouped))  # (B, S, C, 1, 1)
        weight_early = self.attention_early(early)
        mask = available[:, :, None, None, None].to(features.dtype)
        weighted = (weights * features * mask).sum(dim=1) + weight_early * early
        logits = weights.masked_fill(~available[:, :, None, None, None], float("-inf"))
        mixed = (torch.softmax(logits, dim=1) * features * mask).sum(dim=1) + early
        bottleneck = self.mix(torch.cat((weighted, mixed), dim=1))
        count = mask.sum(dim=1)
        skips = [
            (self._split(seq) * mask).sum(dim=1) / count + early_skip
            for seq, early_skip in zip(grouped_skips, early_skips, strict=True)
        ]
        return bottleneck, skips

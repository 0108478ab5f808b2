"""The modality infuser: a small transformer that turns shared features into target features.

The fused bottleneck (``width`` channels on a ``n x n`` grid) becomes ``n * n`` tokens through a
1x1 convolution; learned position embeddings are added, and so is an embedding of the target
sequence (sinusoidal code of its index through Linear-SiLU-Linear), optionally also of the view.
Pre-LayerNorm transformer blocks mix the tokens with PyTorch's fused
:func:`torch.nn.functional.scaled_dot_product_attention` (FlashAttention where available),
and the tokens are folded back into a feature map for the decoder.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mri_gen.hfgan.config import VIEW_NAMES, GeneratorConfig


def sinusoidal_code(index: torch.Tensor, width: int) -> torch.Tensor:
    """Sine/cosine code of integer ``index`` (``(B,)``) at ``width // 2`` geometric frequencies."""
    half = width // 2
    scale = math.log(10000.0) / (half - 1)
    frequencies = torch.exp(torch.arange(half, device=index.device, dtype=torch.float32) * -scale)
    angles = index.to(torch.float32)[:, None] * frequencies[None, :]
    return torch.cat((angles.sin(), angles.cos()), dim=-1)


class IndexEmbedding(nn.Module):
    """An integer label (target sequence, view) as a ``width`` vector added to every token."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.mlp(sinusoidal_code(index, self.width))
        return out


class SelfAttention(nn.Module):
    """Multi-head self-attention on fused SDPA kernels."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v)
        out: torch.Tensor = self.out(attended.transpose(1, 2).reshape(b, n, c))
        return out


class TransformerBlock(nn.Module):
    """Pre-LN block: ``x + attn(LN(x))``, then ``x + MLP(LN(x))`` with a SiLU MLP."""

    def __init__(self, width: int, heads: int, mlp_ratio: int) -> None:
        super().__init__()
        self.norm_attention = nn.LayerNorm(width, eps=1e-6)
        self.attention = SelfAttention(width, heads)
        self.norm_mlp = nn.LayerNorm(width, eps=1e-6)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_ratio * width), nn.SiLU(), nn.Linear(mlp_ratio * width, width)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm_attention(x))
        out: torch.Tensor = x + self.mlp(self.norm_mlp(x))
        return out


class ModalityInfuser(nn.Module):
    """Tokens of the bottleneck, conditioned on the target (and view), through transformers."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        width = config.width
        self.tokens = nn.Conv2d(width, width, 1)
        self.positions = nn.Parameter(torch.zeros(1, config.bottleneck_size**2, width))
        nn.init.trunc_normal_(self.positions, std=0.02)
        self.target_embedding = IndexEmbedding(width)
        self.view_embedding = IndexEmbedding(width) if config.view_embedding else None
        self.blocks = nn.ModuleList(
            TransformerBlock(width, config.infuser_heads, config.mlp_ratio)
            for _ in range(config.infuser_layers)
        )
        self.norm = nn.LayerNorm(width, eps=1e-6)

    def forward(
        self, x: torch.Tensor, target: torch.Tensor, view: torch.Tensor | None
    ) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = self.tokens(x).flatten(2).transpose(1, 2) + self.positions
        tokens = tokens + self.target_embedding(target)[:, None, :]
        if self.view_embedding is not None:
            if view is None:
                raise ValueError(
                    f"this generator embeds the view: pass view indices ({', '.join(VIEW_NAMES)})"
                )
            tokens = tokens + self.view_embedding(view)[:, None, :]
        for block in self.blocks:
            tokens = block(tokens)
        out: torch.Tensor = self.norm(tokens).transpose(1, 2).reshape(b, c, h, w)
        return out

"""Swin-Unet backbone with AdaIN style injection (Cao et al. 2022; Liu et al. 2021).

Tokens are kept as ``(B, H, W, C)`` grids. Encoder: 4x4 patch embedding, then stages of Swin
blocks (window attention, alternately shifted by half a window) separated by patch merging
(2x2 neighbours -> linear, halving the grid and doubling the width). Decoder: patch expanding
(linear, then pixel shuffle), the encoder's grid of that level concatenated and projected back,
Swin blocks; a final 4x expansion returns to pixels and a 1x1 convolution to one channel.

The style reaches the decoder through AdaIN on the tokens (instance normalisation of each
channel over the grid, then ``(1 + gamma) x + beta``) before the bottleneck's output and before
every decoder stage, as UMMGAT inserts the sequence code with AdaIN.

Sizes: the public Swin-Unet only takes 224 inputs. Here each block pads its grid to a multiple
of the window, masks the padded keys out of the attention, and crops again; a grid no larger
than the window is one (padded) unshifted window. Only the patch merging needs even grids, so images
are padded to a multiple of ``patch * 2 ** (stages - 1)`` (see :class:`SwinConfig`).
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from mri_gen.ummgat.config import SwinConfig

#: Additive attention mask for keys a query must not see (finite, as in Swin, so a window of
#: only padding still has a defined softmax).
_MASKED = -100.0


def _window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """``(B, H, W, C)`` with H, W multiples of ``window`` -> ``(B * nW, window**2, C)``."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c)


def _window_reverse(windows: torch.Tensor, window: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`_window_partition`."""
    c = windows.shape[-1]
    x = windows.view(-1, h // window, w // window, window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, h, w, c)


@lru_cache(maxsize=64)
def _attention_mask(
    height: int, width: int, window: int, shift: int, device: torch.device
) -> torch.Tensor:
    """``(nW, N, N)`` additive mask: keys from another shifted region or from padding are off.

    ``height``/``width`` are the unpadded grid; the padded grid is the next window multiple.
    """
    padded_h = -(-height // window) * window
    padded_w = -(-width // window) * window
    region = torch.zeros(padded_h, padded_w)
    if shift:
        cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
        label = 0
        for rows in cuts:
            for cols in cuts:
                region[rows, cols] = label
                label += 1
    pad = torch.zeros(padded_h, padded_w, dtype=torch.bool)
    pad[height:, :] = True
    pad[:, width:] = True
    if shift:
        # The grid is rolled by -shift before partitioning; padding moves with it.
        pad = torch.roll(pad, shifts=(-shift, -shift), dims=(0, 1))
    region_windows = _window_partition(region[None, :, :, None], window)[..., 0]
    pad_windows = _window_partition(pad[None, :, :, None].float(), window)[..., 0] > 0
    other_region = region_windows[:, :, None] != region_windows[:, None, :]
    blocked = other_region | pad_windows[:, None, :]
    return torch.where(blocked, _MASKED, 0.0).to(device)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows, with a learned relative position bias."""

    def __init__(self, dim: int, window: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.window = window
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        coords = torch.stack(
            torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
        ).flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + window - 1
        self.register_buffer(
            "bias_index", relative[..., 0] * (2 * window - 1) + relative[..., 1], persistent=False
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B * nW, N, C)``; ``mask``: ``(nW, N, N)`` additive."""
        windows, tokens, dim = x.shape
        qkv = self.qkv(x).view(windows, tokens, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        index: torch.Tensor = self.bias_index  # type: ignore[assignment]
        bias = self.bias_table[index.reshape(-1)].view(tokens, tokens, self.heads)
        bias = bias.permute(2, 0, 1)[None]  # (1, heads, N, N)
        per_window = mask.shape[0]
        total = (bias + mask[:, None]).to(q.dtype)  # (nW, heads, N, N)
        total = total.repeat(windows // per_window, 1, 1, 1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=total)
        projected: torch.Tensor = self.proj(out.transpose(1, 2).reshape(windows, tokens, dim))
        return projected


class SwinBlock(nn.Module):
    """LayerNorm -> (shifted) window attention -> residual; LayerNorm -> MLP -> residual."""

    def __init__(self, dim: int, heads: int, window: int, shifted: bool, mlp_ratio: float) -> None:
        super().__init__()
        self.window = window
        self.shifted = shifted
        self.norm1 = nn.LayerNorm(dim)
        self.attention = WindowAttention(dim, window, heads)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _b, h, w, _c = x.shape
        window = self.window
        shift = window // 2 if self.shifted and min(h, w) > window else 0
        y = self.norm1(x)
        pad_h, pad_w = -h % window, -w % window
        y = F.pad(y, (0, 0, 0, pad_w, 0, pad_h))
        if shift:
            y = torch.roll(y, shifts=(-shift, -shift), dims=(1, 2))
        mask = _attention_mask(h, w, window, shift, x.device)
        windows = self.attention(_window_partition(y, window), mask)
        y = _window_reverse(windows, window, h + pad_h, w + pad_w)
        if shift:
            y = torch.roll(y, shifts=(shift, shift), dims=(1, 2))
        x = x + y[:, :h, :w]
        out: torch.Tensor = x + self.mlp(self.norm2(x))
        return out


class PatchMerging(nn.Module):
    """``(B, H, W, C) -> (B, H/2, W/2, 2C)``: each 2x2 neighbourhood concatenated, projected."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduce = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = (x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2])
        merged: torch.Tensor = self.reduce(self.norm(torch.cat(parts, dim=-1)))
        return merged


class PatchExpand(nn.Module):
    """``(B, H, W, C) -> (B, fH, fW, C * out_ratio)``: linear, then pixel shuffle by ``f``."""

    def __init__(self, dim: int, factor: int, out_dim: int) -> None:
        super().__init__()
        self.factor = factor
        self.out_dim = out_dim
        self.expand = nn.Linear(dim, factor * factor * out_dim, bias=False)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        f, c = self.factor, self.out_dim
        x = self.expand(x).view(b, h, w, f, f, c).permute(0, 1, 3, 2, 4, 5)
        expanded: torch.Tensor = self.norm(x.reshape(b, h * f, w * f, c))
        return expanded


class TokenAdaIN(nn.Module):
    """AdaIN on a token grid ``(B, H, W, C)``: each channel normalised over the grid."""

    def __init__(self, style_dim: int, dim: int) -> None:
        super().__init__()
        self.affine = nn.Linear(style_dim, 2 * dim)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(style)[:, None, None, :].chunk(2, dim=-1)
        mean = x.mean(dim=(1, 2), keepdim=True)
        var = x.var(dim=(1, 2), keepdim=True, unbiased=False)
        out: torch.Tensor = (1 + gamma) * (x - mean) * torch.rsqrt(var + 1e-5) + beta
        return out


def _stage(dim: int, depth: int, heads: int, config: SwinConfig) -> nn.Sequential:
    return nn.Sequential(
        *(
            SwinBlock(dim, heads, config.window, shifted=i % 2 == 1, mlp_ratio=config.mlp_ratio)
            for i in range(depth)
        )
    )


class SwinUNet(nn.Module):
    """``forward(x (B, 1, H, W), style (B, S)) -> (B, 1, H, W)``; H, W multiples of
    :attr:`SwinConfig.multiple`."""

    def __init__(self, config: SwinConfig, style_dim: int) -> None:
        super().__init__()
        self.config = config
        stages = len(config.depths)
        dims = [config.embed * 2**stage for stage in range(stages)]
        self.embed = nn.Conv2d(1, config.embed, config.patch, stride=config.patch)
        self.embed_norm = nn.LayerNorm(config.embed)
        self.encoder = nn.ModuleList(
            _stage(dims[s], config.depths[s], config.heads[s], config) for s in range(stages)
        )
        self.merges = nn.ModuleList(PatchMerging(dims[s]) for s in range(stages - 1))
        self.bottleneck_style = TokenAdaIN(style_dim, dims[-1])
        self.expands = nn.ModuleList(
            PatchExpand(dims[s + 1], 2, dims[s]) for s in reversed(range(stages - 1))
        )
        self.fuse = nn.ModuleList(
            nn.Linear(2 * dims[s], dims[s]) for s in reversed(range(stages - 1))
        )
        self.decoder_style = nn.ModuleList(
            TokenAdaIN(style_dim, dims[s]) for s in reversed(range(stages - 1))
        )
        self.decoder = nn.ModuleList(
            _stage(dims[s], config.depths[s], config.heads[s], config)
            for s in reversed(range(stages - 1))
        )
        self.out_norm = nn.LayerNorm(dims[0])
        self.final_expand = PatchExpand(dims[0], config.patch, dims[0])
        self.to_image = nn.Conv2d(dims[0], 1, 1)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        tokens = self.embed_norm(self.embed(x).permute(0, 2, 3, 1))
        skips = []
        for index, stage in enumerate(self.encoder):
            tokens = stage(tokens)
            if index < len(self.merges):
                skips.append(tokens)
                tokens = self.merges[index](tokens)
        tokens = self.bottleneck_style(tokens, style)
        for expand, fuse, adain, stage in zip(
            self.expands, self.fuse, self.decoder_style, self.decoder, strict=True
        ):
            tokens = fuse(torch.cat((expand(tokens), skips.pop()), dim=-1))
            tokens = stage(adain(tokens, style))
        tokens = self.final_expand(self.out_norm(tokens))
        image: torch.Tensor = self.to_image(tokens.permute(0, 3, 1, 2))
        return image

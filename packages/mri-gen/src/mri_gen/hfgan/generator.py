"""The HF-GAN generator: fused encoders, modality infuser, decoder with nearest upsampling.

Input: ``(B, S, H, W)`` slices of all ``S`` sequences, an ``available`` mask ``(B, S)`` (1 to
``S - 1`` True per row) and the ``target`` index per sample. Unavailable channels are set to
the background value -1 inside :meth:`HFGANGenerator.forward`, and the target's channel to the
config's ``target_fill``, so whatever a caller leaves in a missing channel (zeros, the real image
of the target) cannot leak into the output, and training and inference encode a request alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Final

import torch
import torch.nn.functional as F
from torch import nn

from mri_gen.errors import CheckpointError
from mri_gen.hfgan.blocks import ResnetBlock, Upsample
from mri_gen.hfgan.config import GeneratorConfig
from mri_gen.hfgan.encoder import FusionEncoder
from mri_gen.hfgan.infuser import ModalityInfuser
from mri_gen.training.pretrained import read_model, save_model
from mri_io import NORMALISED_BACKGROUND
from mri_io.model_folder import load_weights

#: Value of background pixels and of missing sequences at the generator's input: mri-io's.
BACKGROUND: Final = NORMALISED_BACKGROUND

#: The ``kind`` of an HF-GAN model folder.
MODEL_KIND = "hfgan"


@dataclass
class GeneratorOutput:
    """The synthesised slices ``(B, 1, H, W)`` and the fused bottleneck (for the feature loss)."""

    image: torch.Tensor
    bottleneck: torch.Tensor


class Decoder(nn.Module):
    """From the infused bottleneck up to full resolution, one skip concatenated per level.

    At each level below the finest: concatenate that level's skip, ResNet block down to the
    next finer width, nearest x2 and 3x3 conv. Then a ResNet block, GroupNorm, SiLU and a 1x1
    conv to one channel. The finest level's skip is not used (as in the thesis model).
    """

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        channels = config.channels
        self.blocks = nn.ModuleList()
        self.ups = nn.ModuleList()
        for level in range(len(channels) - 1, 0, -1):
            self.blocks.append(
                ResnetBlock(
                    2 * channels[level],
                    channels[level - 1],
                    convs=config.res_convs,
                    norm_groups=config.norm_groups,
                )
            )
            self.ups.append(Upsample(channels[level - 1]))
        base = channels[0]
        self.head_block = ResnetBlock(
            base, base, convs=config.res_convs, norm_groups=config.norm_groups
        )
        self.head_norm = nn.GroupNorm(config.norm_groups, base)
        self.head = nn.Conv2d(base, 1, 1)

    def forward(self, x: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        for block, up, skip in zip(self.blocks, self.ups, reversed(skips[1:]), strict=True):
            x = up(block(torch.cat((x, skip), dim=1)))
        out: torch.Tensor = self.head(F.silu(self.head_norm(self.head_block(x))))
        return out


class HFGANGenerator(nn.Module):
    """Synthesise one target sequence from any non-empty subset of the others."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = FusionEncoder(config)
        self.infuser = ModalityInfuser(config)
        self.decoder = Decoder(config)

    def forward(
        self,
        x: torch.Tensor,
        available: torch.Tensor,
        target: torch.Tensor,
        view: torch.Tensor | None = None,
    ) -> GeneratorOutput:
        """``x`` ``(B, S, H, W)``; ``available`` ``(B, S)`` bool; ``target``/``view`` ``(B,)``."""
        streams = len(self.config.sequences)
        size = self.config.image_size
        if x.ndim != 4 or x.shape[1] != streams or x.shape[2:] != (size, size):
            raise ValueError(
                f"expected inputs of shape (B, {streams}, {size}, {size}), got {tuple(x.shape)}"
            )
        if available.shape != (x.shape[0], streams) or available.dtype != torch.bool:
            raise ValueError(f"available must be a bool tensor of shape (B, {streams})")
        if bool(available.gather(1, target[:, None].long()).any()):
            raise ValueError("a sample's target sequence is marked available")
        x = torch.where(available[:, :, None, None], x, torch.full_like(x, BACKGROUND))
        if self.config.target_fill is not None:
            wanted = F.one_hot(target.long(), streams).bool()[:, :, None, None]
            x = torch.where(wanted, torch.full_like(x, self.config.target_fill), x)
        bottleneck, skips = self.encoder(x, available)
        image = self.decoder(self.infuser(bottleneck, target, view), skips)
        return GeneratorOutput(image=image, bottleneck=bottleneck)

    def save_pretrained(
        self, folder: str | PathLike[str], extra: dict[str, Any] | None = None
    ) -> Path:
        """Write ``config.json`` (this config plus ``extra``) and ``model.safetensors``."""
        config = {"generator": self.config.to_json(), **(extra or {})}
        return save_model(self, MODEL_KIND, config, folder)

    @classmethod
    def from_pretrained(
        cls, folder: str | PathLike[str], *, device: str | torch.device = "cpu"
    ) -> HFGANGenerator:
        """A generator with the configuration and weights written by :meth:`save_pretrained`."""
        saved = read_model(folder, MODEL_KIND)
        model = cls(GeneratorConfig.from_json(saved.config["generator"], saved.path))
        load_weights(model, saved, error=CheckpointError)
        return model.to(device).eval()

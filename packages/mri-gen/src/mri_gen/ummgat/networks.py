"""The UMMGAT generator, and the bundle of networks that a trained model consists of.

The generator takes one slice in ``[-1, 1]`` (the paper's ``[0, 255]`` divided by 127.5, minus
1; background -1) and a style code, and returns the slice translated into the style's domain.
It pads the slice with the background up to its backbone's size multiple and crops the output
back, so any slice side works.

:class:`UMMGATModel` groups what inference needs (generator, mapping network, style encoder; the
discriminator only matters for training) so that one ``save_pretrained`` folder holds a model.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any, Final

import torch
import torch.nn.functional as F
from torch import nn

from mri_gen.errors import CheckpointError
from mri_gen.training.pretrained import read_model, save_model
from mri_gen.ummgat.config import UMMGATConfig
from mri_gen.ummgat.critic import StyleEncoder
from mri_gen.ummgat.layers import he_init
from mri_gen.ummgat.mapping import MappingNetwork
from mri_gen.ummgat.swin import SwinUNet
from mri_gen.ummgat.unet import ConvUNet
from mri_io import NORMALISED_BACKGROUND
from mri_io.model_folder import load_weights

#: Value of the background in the networks' ``[-1, 1]`` range: mri-io's normalised background.
BACKGROUND: Final = NORMALISED_BACKGROUND

#: ``kind`` recorded in ``config.json``.
MODEL_KIND: Final = "ummgat"


class Generator(nn.Module):
    """``forward(x (B, 1, H, W), style (B, S)) -> (B, 1, H, W)`` on the configured backbone."""

    def __init__(self, config: UMMGATConfig) -> None:
        super().__init__()
        self.backbone: SwinUNet | ConvUNet
        if config.backbone == "swin":
            self.backbone = SwinUNet(config.swin, config.style_dim)
            self.multiple = config.swin.multiple
        else:
            self.backbone = ConvUNet(config.unet, config.style_dim)
            self.multiple = config.unet.multiple
        he_init(self)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pad_h, pad_w = -h % self.multiple, -w % self.multiple
        top, left = pad_h // 2, pad_w // 2
        if pad_h or pad_w:
            x = F.pad(x, (left, pad_w - left, top, pad_h - top), value=BACKGROUND)
        out: torch.Tensor = self.backbone(x, style)
        return out[..., top : top + h, left : left + w]


class UMMGATModel(nn.Module):
    """Generator, mapping network and style encoder of one model, with its configuration."""

    def __init__(self, config: UMMGATConfig) -> None:
        super().__init__()
        self.config = config
        self.generator = Generator(config)
        self.mapping = MappingNetwork(config)
        self.style_encoder = StyleEncoder(config)

    def save_pretrained(
        self, folder: str | PathLike[str], extra: dict[str, Any] | None = None
    ) -> Path:
        """Write ``config.json`` + ``model.safetensors`` into ``folder``."""
        config = {"config": self.config.to_json(), **(extra or {})}
        return save_model(self, MODEL_KIND, config, folder)

    @classmethod
    def from_pretrained(
        cls, folder: str | PathLike[str], *, device: str | torch.device = "cpu"
    ) -> UMMGATModel:
        """Rebuild the model saved in ``folder`` (refusing another model's folder)."""
        saved = read_model(folder, MODEL_KIND)
        config = UMMGATConfig.from_json(saved.config.get("config", {}), saved.path / "config.json")
        model = cls(config)
        load_weights(model, saved, error=CheckpointError)
        return model.to(device).eval()

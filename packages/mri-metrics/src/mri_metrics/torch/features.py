"""Feature extractors for the Fréchet distance, and the protocol they share.

A Fréchet distance means nothing without its extractor, so every extractor carries a ``name``
that reports must print next to the number.

- :class:`InceptionV3Features`: the standard FID network, with weights *you already have on
  disk* (``pt_inception-2015-12-05-6726825d.pth``, the file torchmetrics and torch-fidelity
  use). Nothing is downloaded. Needs ``pip install torch-fidelity``, which defines the network.
- :class:`RandomConvEncoder`: a fixed, seeded random convolutional encoder that works offline
  with no weights at all. Random conv features are a known, reasonable embedding for comparing
  image distributions, but the numbers are comparable only between runs with the same name
  (same seed, width, dimensions), and never with published Inception FIDs.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from mri_metrics.errors import MetricInputError

__all__ = ["FeatureExtractor", "InceptionV3Features", "RandomConvEncoder"]


@runtime_checkable
class FeatureExtractor(Protocol):
    """Callable mapping a batch of images to ``(N, num_features)`` features."""

    @property
    def name(self) -> str:
        """Identifies the network and its weights; stated in every report."""
        ...

    @property
    def num_features(self) -> int:
        """Dimension D of the features."""
        ...

    def __call__(self, images: Tensor) -> Tensor: ...


class RandomConvEncoder(nn.Module):
    """Seeded random convolutional encoder: ``(N, C, *spatial)`` images -> ``(N, D)`` features.

    Four stride-2 3x3(x3) convolutions with leaky ReLU, He-initialised from ``seed`` and never
    trained, then the global average of the last stage. The same arguments give the same weights
    on every machine (weights are drawn on the CPU generator, then moved). Feed both image sets
    normalised the same way (e.g. each volume scaled to [0, 1]).
    """

    def __init__(
        self,
        in_channels: int = 1,
        *,
        spatial_dims: int = 2,
        num_features: int = 256,
        width: int = 32,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise MetricInputError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        conv = nn.Conv3d if spatial_dims == 3 else nn.Conv2d
        widths = [in_channels, width, 2 * width, 4 * width, num_features]
        layers: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(widths):
            layers += [conv(c_in, c_out, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for module in self.body:
                if isinstance(module, nn.Conv2d | nn.Conv3d):
                    fan_in = module.weight[0].numel()
                    std = (2.0 / fan_in) ** 0.5
                    module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * std)
                    if module.bias is not None:
                        module.bias.zero_()
        self.requires_grad_(False)
        self.eval()
        self._name = (
            f"random-conv-{spatial_dims}d(seed={seed}, width={width}, "
            f"in_channels={in_channels}, features={num_features})"
        )
        self._num_features = num_features
        self.spatial_dims = spatial_dims

    @property
    def name(self) -> str:
        return self._name

    @property
    def num_features(self) -> int:
        return self._num_features

    def forward(self, images: Tensor) -> Tensor:
        if images.ndim != self.spatial_dims + 2:
            raise MetricInputError(
                f"expected (N, C, *spatial) with {self.spatial_dims} spatial axes, "
                f"got {tuple(images.shape)}"
            )
        features: Tensor = self.body(images).flatten(2).mean(dim=2)
        return features


class InceptionV3Features(nn.Module):
    """FID InceptionV3 (pool3, 2048 features) from a weights file on disk.

    ``weights`` is the FID Inception file ``pt_inception-2015-12-05-6726825d.pth`` (the one
    torchmetrics and torch-fidelity download to their cache; copy it from a machine that has
    it). Images are ``(N, 1 or 3, H, W)`` floats in [0, 1]; grey images are repeated to three
    channels and converted to uint8 as the reference FID does. Needs ``torch-fidelity``.

    Raises:
        FileNotFoundError: ``weights`` does not exist (checked before anything is imported).
        ImportError: torch-fidelity is missing, naming ``pip install torch-fidelity``.
    """

    def __init__(self, weights: str | Path) -> None:
        super().__init__()
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: FID Inception weights not found; give the path of "
                "pt_inception-2015-12-05-6726825d.pth (nothing is downloaded)"
            )
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import (  # type: ignore[import-not-found]
                FeatureExtractorInceptionV3,
            )
        except ImportError as exc:
            raise ImportError(
                "InceptionV3Features needs torch-fidelity: pip install torch-fidelity"
            ) from exc
        self.network = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path)
        )
        self.network.eval()
        self._name = f"inception-v3-fid-pool3({path.name})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def num_features(self) -> int:
        return 2048

    def forward(self, images: Tensor) -> Tensor:
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise MetricInputError(f"expected (N, 1 or 3, H, W) images, got {tuple(images.shape)}")
        rgb = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
        as_bytes = (rgb.clamp(0.0, 1.0) * 255).round().to(torch.uint8)
        features: Tensor = self.network(as_bytes)[0]
        return features.reshape(images.shape[0], -1)

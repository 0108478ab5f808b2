"""The documented way to plug a network with weights from a safetensors file into the FID metric.

``docs/mri-metrics/image-quality.md`` shows a small wrapper that loads an InceptionV3 state dict
from a ``.safetensors`` file (no pickle, no download) and hands it to ``FrechetDistance``. The
same wrapper is exercised here with a small stand-in network, since Inception weights cannot be
fetched in tests: the loaded weights must be the saved ones, the metric must take the wrapper as
its extractor and name it, and the distance must equal the one computed from the features.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import safetensors.torch as safetensors_torch
import torch
from torch import nn

from mri_metrics.frechet import frechet_distance
from mri_metrics.torch import FeatureExtractor, FrechetDistance


class PoolFeatures(nn.Module):
    """The wrapper from the docs: a user's network, its weights read from a safetensors file."""

    def __init__(self, network: nn.Module, weights: Path, num_features: int) -> None:
        super().__init__()
        network.load_state_dict(safetensors_torch.load_file(weights))
        self.network = network.eval()
        self.name = f"{type(network).__name__}({weights.name})"
        self.num_features = num_features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        rgb = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
        features: torch.Tensor = self.network(rgb).flatten(1)
        return features


class TinyNet(nn.Module):
    """Stand-in for InceptionV3: RGB images to pooled features."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, kernel_size=3, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pooled: torch.Tensor = self.pool(torch.relu(self.conv(images)))
        return pooled


def test_weights_from_safetensors_drive_the_frechet_metric(tmp_path: Path) -> None:
    torch.manual_seed(0)
    trained = TinyNet()
    weights = tmp_path / "tiny.safetensors"
    safetensors_torch.save_file(trained.state_dict(), weights)

    torch.manual_seed(1)  # a fresh network with other weights, as a user would build it
    extractor = PoolFeatures(TinyNet(), weights, num_features=6)
    assert isinstance(extractor, FeatureExtractor)
    for name, value in trained.state_dict().items():
        torch.testing.assert_close(extractor.network.state_dict()[name], value, rtol=0, atol=0)

    generator = torch.Generator().manual_seed(2)
    real = torch.rand(40, 1, 16, 16, generator=generator)
    fake = torch.rand(40, 1, 16, 16, generator=generator) ** 2
    metric = FrechetDistance(extractor)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    assert metric.extractor_name == "TinyNet(tiny.safetensors)"

    with torch.no_grad():
        expected = frechet_distance(
            trained(real.expand(-1, 3, -1, -1)).flatten(1).double().numpy(),
            trained(fake.expand(-1, 3, -1, -1)).flatten(1).double().numpy(),
        )
    assert expected > 0
    np.testing.assert_allclose(float(metric.compute()), expected, rtol=1e-9, atol=1e-12)

"""The HF-GAN losses of the thesis (§4.4), each with its weight and its own switch.

``total = 10 L1 + 0.25 adv + 0.25 class + feat + cycle + 5 SSIM + 5 Tversky``:

- ``l1``: mean absolute error between the synthesis and the real target slice;
- ``adv``: the discriminator's patch logits on the synthesis against "real" (BCE);
- ``cls``: the discriminator's sequence classifier on the synthesis against the target (CE);
- ``feat``: 1 - cosine similarity of the bottleneck features of the first and the cycle pass;
- ``cycle``: L1 of the cycle pass (synthesis re-inserted, another sequence regenerated);
- ``ssim``: 1 - SSIM averaged over the brain only; ``dual`` gives healthy tissue and tumour
  equal weight (each the mean of the dissimilarity map over its own pixels), ``whole`` takes
  the whole brain (used when the data has no segmentation);
- ``tversky``: focal Tversky loss of a frozen 2D segmenter (``mri-gen[seg]``) on the
  completed slices against the labels.

A weight of 0 switches a term off: it is then not computed at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Final, Literal

import torch
import torch.nn.functional as F

from mri_gen.errors import ConfigError
from mri_gen.training.weights import parse_weight_overrides
from mri_metrics.torch import ssim_map

SsimRegions = Literal["dual", "whole"]

#: Added to a region's pixel count before dividing, so an empty region gives 0, not NaN. The
#: reference code added 1e3 to the healthy-tissue count, which shrank that term about a
#: thousand-fold on small regions; this is the intended 1e-3.
REGION_EPS: Final = 1e-3


@dataclass(frozen=True)
class LossWeights:
    """Weight of each generator loss term; 0 disables a term."""

    l1: float = 10.0
    adv: float = 0.25
    cls: float = 0.25
    feat: float = 1.0
    cycle: float = 1.0
    ssim: float = 5.0
    tversky: float = 0.0
    ssim_regions: SsimRegions = "dual"

    def __post_init__(self) -> None:
        for name in self.terms():
            if getattr(self, name) < 0:
                raise ConfigError(None, f"loss weight {name} must be >= 0")
        if self.ssim_regions not in ("dual", "whole"):
            raise ConfigError(
                None, f"ssim_regions must be 'dual' or 'whole', not {self.ssim_regions!r}"
            )

    @staticmethod
    def terms() -> tuple[str, ...]:
        """Names of the weighted terms, in the order the loss log lists them."""
        return tuple(f.name for f in fields(LossWeights) if f.name != "ssim_regions")

    def enabled(self) -> tuple[str, ...]:
        """Terms with a non-zero weight."""
        return tuple(name for name in self.terms() if getattr(self, name) > 0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def parse(cls, spec: str) -> LossWeights:
        """Weights from ``"l1=10,adv=0,ssim=5"``: listed terms replace the thesis defaults."""
        known = (*cls.terms(), "ssim_regions")
        return cls(**parse_weight_overrides(spec, known, text_fields=("ssim_regions",)))


def data_range(ref: torch.Tensor) -> torch.Tensor:
    """Per-sample value range of the real slices (the SSIM ``L``), never below 1e-3."""
    flat = ref.detach().flatten(1)
    return (flat.max(dim=1).values - flat.min(dim=1).values).clamp_min(1e-3)


def region_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sample mean of ``values`` over ``mask`` ``(B, 1, H, W)``: sum / (count + 1e-3)."""
    weights = mask.to(values.dtype)
    total = (values * weights).flatten(1).sum(dim=1)
    return total / (weights.flatten(1).sum(dim=1) + REGION_EPS)


def ssim_loss(
    pred: torch.Tensor,
    ref: torch.Tensor,
    brain: torch.Tensor,
    tumour: torch.Tensor | None,
    regions: SsimRegions = "dual",
) -> torch.Tensor:
    """Mean 1 - SSIM over the brain (``whole``) or over healthy tissue and tumour (``dual``).

    In ``dual`` mode each region's term is averaged over the samples that contain it, so a
    batch of slices without tumour is scored on healthy tissue alone.
    """
    # The suite's one SSIM map (Gaussian 11, sigma 1.5, population covariances), with the edge
    # pixels repeated at the border as HF-GAN's loss was defined, so it lines up with the masks.
    similarity = ssim_map(
        pred, ref, spatial_dims=2, data_range=data_range(ref), padding="replicate"
    )
    dissimilarity = 1.0 - similarity
    if regions == "whole" or tumour is None:
        return region_mean(dissimilarity, brain).mean()
    terms = []
    for region in (brain & ~tumour, brain & tumour):
        present = region.flatten(1).any(dim=1)
        if present.any():
            terms.append(region_mean(dissimilarity, region)[present].mean())
    return torch.stack(terms).mean() if terms else dissimilarity.sum() * 0.0


def feature_loss(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """1 - cosine similarity of two bottlenecks, per sample, averaged."""
    return (1.0 - F.cosine_similarity(first.flatten(1), second.flatten(1), dim=1)).mean()


def adversarial_target(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """BCE of patch logits against all-real or all-fake."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)

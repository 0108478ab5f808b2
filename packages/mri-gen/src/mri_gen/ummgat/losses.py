"""UMMGAT's loss terms (StarGAN v2 recipe, the lesion crop of the lesion-aware module).

- Adversarial: the non-saturating GAN loss, ``softplus(-D(x))`` for images that should look
  real and ``softplus(D(x))`` for those that should look fake (binary cross-entropy on logits).
- R1 (Mescheder et al. 2018): ``gamma / 2 * E ||grad_x D(x)||^2`` on real images only; it
  keeps the discriminator flat around the data, which is what lets the non-saturating loss
  converge. UMMGAT uses ``gamma = 1``.
- Style, lesion style and cycle reconstruction are mean absolute errors (written inline).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F

from mri_gen.training.weights import parse_weight_overrides
from mri_gen.ummgat.networks import BACKGROUND


@dataclass(frozen=True)
class LossWeights:
    """Weights of the generator's terms and the R1 ``gamma`` of the discriminator's."""

    adv: float = 1.0
    sty: float = 1.0
    lesion: float = 1.0
    cyc: float = 1.0
    r1: float = 1.0

    @classmethod
    def parse(cls, text: str) -> LossWeights:
        """``"sty=2,lesion=0"`` -> weights with those changed; bad text raises ConfigError."""
        return cls(**parse_weight_overrides(text, [item.name for item in fields(cls)]))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def adversarial(logits: torch.Tensor, *, real: bool) -> torch.Tensor:
    """Non-saturating loss pushing ``logits`` toward "real" (or "fake")."""
    return F.softplus(-logits if real else logits).mean()


def r1_penalty(logits: torch.Tensor, images: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """``gamma / 2`` times the batch mean of ``||d logits_i / d images_i||^2``.

    ``images`` must require gradients and ``logits`` be computed from them, one per sample.
    The graph is kept, so the penalty itself can be back-propagated into the discriminator.
    """
    (grad,) = torch.autograd.grad(logits.sum(), images, create_graph=True)
    return 0.5 * gamma * grad.pow(2).flatten(1).sum(dim=1).mean()


def lesion_crop(images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """The lesion of each image on a background canvas: what the lesion branches see.

    The crop keeps the slice's size and the lesion's place in it, so it passes through the same
    trunk as whole slices; everything outside the mask becomes background.
    """
    return torch.where(masks, images, torch.full_like(images, BACKGROUND))

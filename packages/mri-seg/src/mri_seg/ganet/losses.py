"""GANet-Seg's losses (the paper's Appendix A and B), with the reference code's bugs fixed.

Stage 1: the discriminator's BCE on real and inpainted slices, the generator's BCE plus
``l1_weight`` * L1. Stage 2: the segmentation loss (cross-entropy + Dice, MONAI's
``DiceCELoss``, minimised: the reference code's inverted Dice sign is not copied); sparsity
(mean mask probability); size consistency (squared difference of the predicted and labelled
tumour areas, as shares of the slice); and the adversarial feedback loss: the discriminator's
"fake" score of the slice the frozen generator filled where the *predicted* mask occludes it,
weighted by the mask's edge map. The reference computes that term from the ground-truth mask
under ``no_grad``, so no gradient reaches the U-Net; here it is a differentiable function of
the U-Net's output. Dynamic weights balance the phase-2 terms added to the segmentation loss
by gradient norm (the paper) or by loss value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from mri_seg.targets import TargetSpec
from mri_seg.unet.losses import dice_ce_loss

#: Guards the division of the dynamic weights.
EPS = 1e-6
_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def segmentation_loss() -> nn.Module:
    """Cross-entropy + Dice over softmax classes, on class-index targets ``(B, 1, H, W)``."""
    return dice_ce_loss(TargetSpec("labels"))


def whole_tumour(logits: torch.Tensor) -> torch.Tensor:
    """The soft whole-tumour mask ``(B, 1, H, W)``: 1 - P(background), for either class mode."""
    return 1.0 - torch.softmax(logits.float(), dim=1)[:, :1]


def edge_map(mask: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Appendix B: the mask dilated by a 5x5 max-pool, its Laplacian's magnitude, max-pooled
    down to the discriminator's output ``size`` (so every patch sees the edges inside it)."""
    expanded = F.max_pool2d(mask, 5, stride=1, padding=2)
    kernel = _LAPLACIAN.to(mask)[None, None]
    edges = F.conv2d(expanded, kernel, padding=1).abs()
    return F.adaptive_max_pool2d(edges, tuple(int(n) for n in size))


def adversarial_feedback_loss(d_logits: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """``-log D(filled)`` times the edge map, averaged over patches: an edge costs what the
    discriminator finds abnormal where it lies, so boundaries move off the places where the
    filled slice still looks abnormal, i.e. the mask grows over missed tumour.

    Not normalised by the edges' total: a weighted mean would reward extra edges wherever
    the slice looks normal, and in our runs grew spurious blobs far from the tumour.
    """
    fake = F.softplus(-d_logits.float())
    return (edges * fake).mean()


def sparsity_loss(mask: torch.Tensor) -> torch.Tensor:
    """The mean mask probability: masks no larger than they must be."""
    return mask.mean()


def size_consistency_loss(mask: torch.Tensor, labelled_pixels: torch.Tensor) -> torch.Tensor:
    """Squared difference between predicted and labelled tumour area, each a share of the
    slice, averaged over the batch."""
    pixels = mask.shape[-1] * mask.shape[-2]
    predicted = mask.sum(dim=(1, 2, 3)) / pixels
    return ((predicted - labelled_pixels.to(predicted) / pixels) ** 2).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """BCE of real slices as real and inpainted ones as fake, averaged."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return 0.5 * (real + fake)


def generator_loss(
    fake_logits: torch.Tensor, filled: torch.Tensor, real: torch.Tensor, l1_weight: float
) -> torch.Tensor:
    """BCE of the inpainted slices as real plus ``l1_weight`` * L1 to the true slice."""
    adversarial = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    return adversarial + l1_weight * F.l1_loss(filled, real)


def _inverse_share(values: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weights proportional to ``1 / value`` that sum to 1."""
    inverse = {name: 1.0 / (value.detach() + EPS) for name, value in values.items()}
    total = torch.stack(list(inverse.values())).sum()
    return {name: value / total for name, value in inverse.items()}


def loss_value_weights(terms: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weights by loss value: a term with a smaller value counts proportionally more."""
    return _inverse_share(terms)


def gradient_norm_weights(
    terms: Mapping[str, torch.Tensor], parameters: Sequence[torch.Tensor]
) -> dict[str, torch.Tensor]:
    """The paper's Eq. 10: weights by the norm of each term's gradient on ``parameters`` (the
    segmenter's last layer), so a term with smaller gradients counts proportionally more;
    every weighted term then pulls with the same gradient norm."""
    norms = {}
    for name, value in terms.items():
        grads = torch.autograd.grad(value, parameters, retain_graph=True, allow_unused=True)
        squares = [g.float().pow(2).sum() for g in grads if g is not None]
        norms[name] = torch.stack(squares).sum().sqrt() if squares else value.new_zeros(())
    return _inverse_share(norms)

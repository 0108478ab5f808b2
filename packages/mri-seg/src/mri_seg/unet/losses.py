"""The 3D U-Net's loss: Dice + cross-entropy, binary per channel for region outputs.

MONAI's ``DiceCELoss`` is used for softmax label outputs. It is not used for sigmoid region
outputs: with more than one channel it applies a softmax cross-entropy across channels even
when ``sigmoid=True``, which makes nested regions (a voxel of ET is also TC and WT) compete.
:class:`RegionDiceBCELoss` pairs MONAI's sigmoid Dice with a binary cross-entropy per channel.
"""

from __future__ import annotations

import torch
from monai.losses.dice import DiceCELoss, DiceLoss
from torch import nn

from mri_seg.targets import TargetSpec


class RegionDiceBCELoss(nn.Module):
    """Soft Dice (sigmoid, per channel, averaged) plus binary cross-entropy per channel.

    ``target`` is the float mask stack ``(batch, regions, *S)`` of
    :meth:`TargetSpec.encode`. Each channel is its own binary problem, as nested regions need.
    """

    def __init__(self, dice_weight: float = 1.0, bce_weight: float = 1.0) -> None:
        super().__init__()
        self.dice = DiceLoss(sigmoid=True, smooth_nr=1e-5, smooth_dr=1e-5)
        self.bce = nn.BCEWithLogitsLoss()
        self.dice_weight, self.bce_weight = dice_weight, bce_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Weighted sum of the two terms."""
        dice: torch.Tensor = self.dice(logits, target)
        bce: torch.Tensor = self.bce(logits, target)
        return self.dice_weight * dice + self.bce_weight * bce


def dice_ce_loss(target: TargetSpec) -> nn.Module:
    """The Dice + cross-entropy loss that fits a model's output encoding.

    ``regions``: :class:`RegionDiceBCELoss` on mask stacks; ``labels``: MONAI ``DiceCELoss``
    with softmax on class-index targets ``(batch, 1, *S)``.
    """
    if target.kind == "regions":
        return RegionDiceBCELoss()
    return DiceCELoss(to_onehot_y=True, softmax=True, smooth_nr=1e-5, smooth_dr=1e-5)

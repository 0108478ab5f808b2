"""SynthTumour's loss: the 3D U-Net's Dice + binary cross-entropy per region.

The method changes what the network sees, not what it optimises: both stages train on the
BraTS regions with the loss of :mod:`mri_seg.unet.losses`, so a SynthTumour model and a
supervised U-Net differ only in their training data.
"""

from __future__ import annotations

from mri_seg.unet.losses import dice_ce_loss

__all__ = ["dice_ce_loss"]

"""Losses against float64 brute-force references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from monai.losses.dice import DiceCELoss
from numpy.typing import NDArray

from mri_seg import (
    FocalTverskyLoss,
    RegionDiceBCELoss,
    dice_ce_loss,
    focal_tversky_loss,
)
from mri_seg.targets import TargetSpec


def _reference_focal_tversky(
    probabilities: NDArray[np.float64],
    onehot: NDArray[np.float64],
    alpha: float,
    beta: float,
    gamma: float,
) -> float:
    total = 0.0
    for c in range(probabilities.shape[1]):
        p = probabilities[:, c].astype(np.float64).ravel()
        g = onehot[:, c].astype(np.float64).ravel()
        tp, fp, fn = float(p @ g), float(p @ (1 - g)), float((1 - p) @ g)
        ti = (tp + 1e-6) / (tp + alpha * fp + beta * fn + 1e-6)
        total += (1 - ti) ** gamma
    return total


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), classes=st.integers(2, 5), batch=st.integers(1, 3))
def test_focal_tversky_matches_reference(seed: int, classes: int, batch: int) -> None:
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3, size=(batch, classes, 6, 5))
    labels = rng.integers(classes, size=(batch, 6, 5))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    onehot = np.moveaxis(np.eye(classes)[labels], -1, 1)
    expected = _reference_focal_tversky(probabilities, onehot, 0.3, 0.7, 1.33)
    got = focal_tversky_loss(torch.from_numpy(logits), torch.from_numpy(labels))
    assert float(got) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    onehot_target = focal_tversky_loss(torch.from_numpy(logits), torch.from_numpy(onehot))
    assert float(onehot_target) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_focal_tversky_weighs_false_negatives_more() -> None:
    # With alpha 0.3 (FP) and beta 0.7 (FN), missing tumour costs more than over-segmenting it
    # by the same number of pixels (one tumour channel, no background channel to mirror it).
    target = torch.zeros(1, 1, 20)
    target[0, 0, :10] = 1
    over = target.clone()
    over[0, 0, 10:15] = 1  # 5 false positives
    under = target.clone()
    under[0, 0, 5:10] = 0  # 5 false negatives
    loss_over = float(focal_tversky_loss(over, target, activation="none"))
    loss_under = float(focal_tversky_loss(under, target, activation="none"))
    assert loss_over == pytest.approx((1 - 10 / (10 + 0.3 * 5)) ** 1.33, rel=1e-6)
    assert loss_under == pytest.approx((1 - 5 / (5 + 0.7 * 5)) ** 1.33, rel=1e-6)
    assert loss_under > loss_over


def test_focal_tversky_perfect_prediction_is_zero_even_for_absent_class() -> None:
    target = torch.tensor([[0, 0, 2, 2]])  # class 1 absent
    perfect = torch.nn.functional.one_hot(target, 3).movedim(-1, 1).float()
    assert float(focal_tversky_loss(perfect, target, activation="none")) == pytest.approx(0.0)


def test_focal_tversky_module_and_sigmoid_form() -> None:
    rng = np.random.default_rng(1)
    logits = torch.from_numpy(rng.normal(size=(2, 3, 4, 4)))
    masks = torch.from_numpy(rng.integers(2, size=(2, 3, 4, 4)).astype(np.float64))
    expected = _reference_focal_tversky(torch.sigmoid(logits).numpy(), masks.numpy(), 0.5, 0.5, 2.0)
    module = FocalTverskyLoss(alpha=0.5, beta=0.5, gamma=2.0, activation="sigmoid")
    assert float(module(logits, masks)) == pytest.approx(expected, rel=1e-9)


def test_focal_tversky_rejects_mismatched_target() -> None:
    with pytest.raises(ValueError, match="fits neither"):
        focal_tversky_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 5, dtype=torch.long))


def _nested_targets(rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    labels = rng.integers(4, size=(2, 8, 8, 8))
    masks = TargetSpec().encode(labels[0]), TargetSpec().encode(labels[1])
    target = torch.from_numpy(np.stack(masks))
    logits = torch.from_numpy(rng.normal(scale=2, size=target.shape).astype(np.float32))
    return logits, target


def test_region_loss_is_binary_per_channel() -> None:
    rng = np.random.default_rng(2)
    logits, target = _nested_targets(rng)
    x, y = logits.double().numpy(), target.double().numpy()
    p = 1 / (1 + np.exp(-x))
    bce = float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))
    axes = (2, 3, 4)
    dice = 1 - (2 * (p * y).sum(axes) + 1e-5) / (p.sum(axes) + y.sum(axes) + 1e-5)
    expected = float(dice.mean()) + bce
    assert float(RegionDiceBCELoss()(logits, target)) == pytest.approx(expected, rel=1e-5)


def test_region_loss_is_near_zero_for_confident_correct_nested_regions() -> None:
    # A voxel of ET is also TC and WT: all three channels must be allowed to say "yes".
    # MONAI's DiceCELoss(sigmoid=True) uses a softmax cross-entropy across channels and
    # penalises exactly that; ours must not.
    rng = np.random.default_rng(3)
    _, target = _nested_targets(rng)
    logits = (target * 2 - 1) * 20.0
    ours = float(RegionDiceBCELoss()(logits, target))
    monai = float(DiceCELoss(sigmoid=True)(logits, target))
    assert ours < 1e-3
    assert monai > 1.0


def test_dice_ce_loss_fits_the_output_kind() -> None:
    assert isinstance(dice_ce_loss(TargetSpec("regions")), RegionDiceBCELoss)
    labels_loss = dice_ce_loss(TargetSpec("labels"))
    logits = torch.randn(1, 4, 8, 8, 8)
    target = torch.randint(0, 4, (1, 1, 8, 8, 8)).float()
    assert float(labels_loss(logits, target)) > 0

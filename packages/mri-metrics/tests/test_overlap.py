"""Overlap metrics against brute-force fractions, MedPy and MONAI, plus empty-mask policy."""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mri_metrics.errors import NotBinaryError, ShapeMismatchError
from mri_metrics.overlap import (
    ConfusionCounts,
    confusion_counts,
    dice,
    iou,
    sensitivity,
    specificity,
    volume_difference,
)

BoolArray = npt.NDArray[np.bool_]


def _random_pair(seed: int, shape: tuple[int, ...], p: float = 0.3) -> tuple[BoolArray, BoolArray]:
    rng = np.random.default_rng(seed)
    return rng.random(shape) < p, rng.random(shape) < p


def _brute_counts(pred: BoolArray, ref: BoolArray) -> ConfusionCounts:
    tp = fp = fn = tn = 0
    for p, r in zip(pred.ravel().tolist(), ref.ravel().tolist(), strict=True):
        tp += p and r
        fp += p and not r
        fn += r and not p
        tn += not p and not r
    return ConfusionCounts(tp, fp, fn, tn)


@pytest.mark.parametrize("seed", range(5))
def test_counts_and_ratios_equal_exact_fractions(seed: int) -> None:
    pred, ref = _random_pair(seed, (13, 11, 7))
    counts = confusion_counts(pred, ref)
    assert counts == _brute_counts(pred, ref)
    tp, fp, fn, tn = counts
    assert dice(pred, ref) == float(Fraction(2 * tp, 2 * tp + fp + fn))
    assert iou(pred, ref) == float(Fraction(tp, tp + fp + fn))
    assert sensitivity(pred, ref) == float(Fraction(tp, tp + fn))
    assert specificity(pred, ref) == float(Fraction(tn, tn + fp))
    assert volume_difference(pred, ref, spacing=(0.5, 0.8, 2.0)) == pytest.approx(
        (pred.sum() - ref.sum()) * 0.8, rel=1e-15
    )
    assert volume_difference(pred, ref, relative=True) == float(
        Fraction(int(pred.sum()) - int(ref.sum()), int(ref.sum()))
    )


@pytest.mark.parametrize("seed", range(4))
def test_dice_equals_medpy_exactly(seed: int) -> None:
    from medpy.metric import binary

    pred, ref = _random_pair(seed, (24, 20, 16), p=0.1 + 0.2 * seed)
    assert dice(pred, ref) == binary.dc(pred, ref)
    assert iou(pred, ref) == binary.jc(pred, ref)
    assert sensitivity(pred, ref) == binary.sensitivity(pred, ref)
    assert specificity(pred, ref) == binary.specificity(pred, ref)


@pytest.mark.parametrize("seed", range(4))
def test_dice_equals_monai_dicemetric(seed: int) -> None:
    """MONAI computes in float32; the exact counts make its result the float32 rounding of ours."""
    import monai.metrics as metrics
    import torch

    pred, ref = _random_pair(seed, (2, 24, 20, 16))
    metric = metrics.DiceMetric(include_background=True, reduction="none")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = metric(
            torch.from_numpy(pred[:, None]).float(), torch.from_numpy(ref[:, None]).float()
        )
    for case in range(2):
        assert np.float32(dice(pred[case], ref[case])) == theirs[case, 0].item()


def test_empty_policy() -> None:
    empty = np.zeros((6, 6), dtype=bool)
    full = np.ones((6, 6), dtype=bool)
    some = empty.copy()
    some[2:4, 2:4] = True
    assert math.isnan(dice(empty, empty))
    assert dice(empty, empty, empty=1.0) == 1.0
    assert dice(some, empty, empty=1.0) == 0.0
    assert dice(empty, some, empty=1.0) == 0.0
    assert math.isnan(iou(empty, empty))
    assert iou(empty, empty, empty=0.0) == 0.0
    assert math.isnan(sensitivity(some, empty))
    assert sensitivity(empty, some) == 0.0
    assert math.isnan(specificity(some, full))
    assert specificity(full, empty) == 0.0
    assert math.isnan(volume_difference(some, empty, relative=True))
    assert volume_difference(some, empty, relative=True, empty=-1.0) == -1.0
    assert volume_difference(some, empty, spacing=2.0) == 4 * 4.0  # 4 pixels of 4 mm^2


def test_bad_inputs_raise_specific_errors() -> None:
    with pytest.raises(NotBinaryError, match=r"^ref: "):
        dice(np.zeros((3, 3)), np.full((3, 3), 2))
    with pytest.raises(ShapeMismatchError, match=r"pred has shape \(3, 3\)"):
        dice(np.zeros((3, 3)), np.zeros((3, 4)))


masks = hnp.arrays(np.bool_, hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=8))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_properties(data: st.DataObject) -> None:
    pred = data.draw(masks)
    ref = data.draw(hnp.arrays(np.bool_, pred.shape))
    d, j = dice(pred, ref, empty=1.0), iou(pred, ref, empty=1.0)
    assert 0.0 <= d <= 1.0
    assert 0.0 <= j <= 1.0
    assert d == dice(ref, pred, empty=1.0)
    assert dice(pred, pred, empty=1.0) == 1.0
    # Dice and IoU are monotone transforms of each other: D = 2J / (1 + J).
    assert d == pytest.approx(2 * j / (1 + j), rel=1e-12, abs=1e-15)
    assert sum(confusion_counts(pred, ref)) == pred.size
    assert sensitivity(pred, ref, empty=0.5) == specificity(~pred, ~ref, empty=0.5)

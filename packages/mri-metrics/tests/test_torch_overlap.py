"""Batched torch Dice: exactly the numpy path's values, pair by pair, region by region."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mri_metrics import region_masks
from mri_metrics.errors import NotBinaryError, ShapeMismatchError, UnknownLabelError
from mri_metrics.overlap import dice as numpy_dice
from mri_metrics.torch import dice, region_dice


def _label_maps(count: int, shape: tuple[int, ...], labels: list[int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    maps = rng.choice(
        [0, *labels], size=(count, *shape), p=[0.7, *[0.3 / len(labels)] * len(labels)]
    )
    maps[0] = 0  # an empty pair when both maps' first entries are empty
    return maps.astype(np.uint8)


@pytest.mark.parametrize("empty", [math.nan, 1.0, 0.0])
def test_mask_dice_is_the_numpy_value_of_every_pair(empty: float) -> None:
    rng = np.random.default_rng(1)
    pred = rng.random((6, 9, 8, 7)) < 0.3
    ref = rng.random((6, 9, 8, 7)) < 0.2
    pred[0] = ref[0] = False  # both empty: the ``empty`` value
    pred[1] = False  # one empty: 0
    ref[2] = pred[2]  # identical: 1
    got = dice(torch.from_numpy(pred), torch.from_numpy(ref), empty=empty)
    assert got.dtype == torch.float64
    expected = [numpy_dice(p, r, empty=empty) for p, r in zip(pred, ref, strict=True)]
    np.testing.assert_array_equal(got.numpy(), expected)  # bit for bit, NaN where NaN
    assert got[1] == 0.0
    assert got[2] == 1.0


def test_zero_one_integers_and_floats_are_masks() -> None:
    rng = np.random.default_rng(2)
    pred = (rng.random((3, 20, 20)) < 0.5).astype(np.float32)
    ref = (rng.random((3, 20, 20)) < 0.5).astype(np.int64)
    got = dice(torch.from_numpy(pred), torch.from_numpy(ref))
    expected = [numpy_dice(p, r) for p, r in zip(pred, ref, strict=True)]
    np.testing.assert_array_equal(got.numpy(), expected)


@pytest.mark.parametrize(
    ("convention", "labels"), [("brats2023", [1, 2, 3]), ("brats2021", [1, 2, 4])]
)
def test_region_dice_is_region_masks_then_numpy_dice(convention: str, labels: list[int]) -> None:
    pred = _label_maps(5, (12, 10, 8), labels, seed=3)
    ref = _label_maps(5, (12, 10, 8), labels, seed=4)
    got = region_dice(torch.from_numpy(pred), torch.from_numpy(ref), convention, empty=1.0)
    for i in range(len(pred)):
        pred_masks = region_masks(pred[i], convention)
        ref_masks = region_masks(ref[i], convention)
        assert set(got) == set(ref_masks)
        for region, values in got.items():
            assert values[i].item() == numpy_dice(pred_masks[region], ref_masks[region], empty=1.0)
    assert all(values[0] == 1.0 for values in got.values())  # both maps empty


def test_bad_inputs_are_refused_with_the_reason() -> None:
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    with pytest.raises(ShapeMismatchError, match="shape"):
        dice(masks, torch.zeros(2, 4, 5, dtype=torch.bool))
    with pytest.raises(NotBinaryError, match="pred"):
        dice(torch.full((2, 4, 4), 2), masks)
    maps = torch.zeros(2, 4, 4, dtype=torch.uint8)
    bad = maps.clone()
    bad[1, 2, 2] = 4  # BraTS 2021's enhancing label under the 2023 convention
    with pytest.raises(UnknownLabelError, match="ref: labels 4"):
        region_dice(maps, bad, "brats2023")

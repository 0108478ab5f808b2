"""Training crops: size, padding, tumour bias, flips, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from mri_seg.inputs import TrainingCase
from mri_seg.targets import TargetSpec
from mri_seg.unet.data import random_crop


def _case(shape: tuple[int, int, int] = (20, 24, 12)) -> TrainingCase:
    rng = np.random.default_rng(0)
    images = rng.normal(size=(4, *shape)).astype(np.float32)
    labels = np.zeros(shape, dtype=np.uint8)
    labels[15:18, 3:6, 2:4] = 3
    labels[14, 2, 1] = 2
    return TrainingCase("case", images, TargetSpec().encode(labels), labels)


def test_crop_size_and_padding() -> None:
    case = _case()
    image, target = random_crop(case, (16, 32, 16), np.random.default_rng(1))
    assert image.shape == (4, 16, 32, 16)
    assert target.shape == (3, 16, 32, 16)
    # 24 -> 32 and 12 -> 16: padded with background (-1 images, 0 target).
    assert np.count_nonzero(image == -1) >= 4 * 16 * (8 * 16 + 32 * 4 - 8 * 4)


def test_foreground_crops_always_hold_tumour() -> None:
    case = _case((40, 40, 40))
    rng = np.random.default_rng(2)
    for _ in range(20):
        _, target = random_crop(case, (8, 8, 8), rng, foreground_fraction=1.0)
        assert target[0].any()


def test_crop_is_an_exact_window_of_the_case_up_to_flips() -> None:
    case = _case((30, 30, 30))
    image, target = random_crop(case, (10, 10, 10), np.random.default_rng(3), flip=False)
    hits = [
        (x, y, z)
        for x in range(21)
        for y in range(21)
        for z in range(21)
        if np.array_equal(case.images[:, x : x + 10, y : y + 10, z : z + 10], image)
    ]
    assert len(hits) == 1
    x, y, z = hits[0]
    np.testing.assert_array_equal(case.target[:, x : x + 10, y : y + 10, z : z + 10], target)


def test_flips_move_images_and_target_together() -> None:
    case = _case((16, 16, 16))
    for seed in range(8):
        image, target = random_crop(case, (16, 16, 16), np.random.default_rng(seed))
        flipped = [
            axes
            for axes in [(), (1,), (2,), (3,), (1, 2), (1, 3), (2, 3), (1, 2, 3)]
            if np.array_equal(np.flip(case.images, axes), image)
        ]
        assert len(flipped) == 1
        np.testing.assert_array_equal(np.flip(case.target, flipped[0]), target)


@pytest.mark.parametrize("seed", [0, 7])
def test_same_seed_same_crop(seed: int) -> None:
    case = _case()
    first = random_crop(case, (8, 8, 8), np.random.default_rng(seed))
    second = random_crop(case, (8, 8, 8), np.random.default_rng(seed))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])

"""Cross-centre shifts: seeded, background-preserving, MONAI-compatible contrast."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mri_bench.shifts import Shift, adjust_contrast, bias_field

Array = np.ndarray[Any, np.dtype[np.float64]]


def _images(rng: np.random.Generator) -> dict[str, Array]:
    shape = (24, 20, 32)
    brain = np.zeros(shape, dtype=bool)
    brain[4:-4, 4:-4, 3:-3] = True
    return {key: np.where(brain, rng.uniform(100, 1000, shape), 0.0) for key in ("t1n", "t2w")}


def test_identity_shift_changes_nothing() -> None:
    images = _images(np.random.default_rng(0))
    shifted = Shift().apply(images, (1.0, 1.0, 1.0), np.random.default_rng(1))
    for key, image in images.items():
        np.testing.assert_allclose(shifted[key], image, rtol=1e-6)


@pytest.mark.parametrize("gamma", [0.5, 1.0, 1.7])
def test_contrast_matches_monai_adjust_contrast(gamma: float) -> None:
    import monai.transforms.intensity.array as transforms
    import torch

    image = _images(np.random.default_rng(2))["t1n"]
    expected = transforms.AdjustContrast(gamma)(torch.as_tensor(image, dtype=torch.float64))
    np.testing.assert_allclose(adjust_contrast(image, gamma), np.asarray(expected), rtol=1e-10)


def test_scale_and_slice_blur_act_as_specified() -> None:
    images = _images(np.random.default_rng(3))
    shift = Shift(scale=2.5, slice_thickness=5.0, slice_axis=2)
    shifted = shift.apply(images, (1.0, 1.0, 1.0), np.random.default_rng(4))
    brain = images["t1n"] > 0
    # Blur along the slice axis only: a single slab stays a slab in-plane, spreads across z.
    assert np.all(shifted["t1n"][~brain] == 0)
    inside = (slice(8, -8), slice(8, -8), slice(12, -12))  # > 4 slice sigmas from the edges
    expected = images["t1n"][inside].mean() * 2.5
    assert shifted["t1n"][inside].mean() == pytest.approx(expected, rel=0.03)
    z_var = np.var(np.diff(shifted["t1n"][inside], axis=2))
    x_var = np.var(np.diff(shifted["t1n"][inside], axis=0))
    assert z_var < 0.2 * x_var


def test_bias_noise_are_seeded_and_shared_bias_across_sequences() -> None:
    images = _images(np.random.default_rng(5))
    images["t2w"] = images["t1n"].copy()
    shift = Shift(bias=0.3, noise=0.0)
    a = shift.apply(images, (1.0, 1.0, 1.0), np.random.default_rng(6))
    b = shift.apply(images, (1.0, 1.0, 1.0), np.random.default_rng(6))
    np.testing.assert_array_equal(a["t1n"], b["t1n"])
    # One coil: identical inputs get the identical field.
    np.testing.assert_allclose(a["t1n"], a["t2w"])
    noisy = Shift(noise=0.05).apply(images, (1.0, 1.0, 1.0), np.random.default_rng(7))
    brain = images["t1n"] > 0
    residual = noisy["t1n"][brain] - images["t1n"][brain]
    sigma = 0.05 * np.percentile(images["t1n"][brain], 99)
    assert np.std(residual) == pytest.approx(sigma, rel=0.15)
    assert np.all(noisy["t1n"][~brain] == 0)


def test_bias_field_is_smooth_zero_mean_unit_variance() -> None:
    field = bias_field((32, 28, 20), np.random.default_rng(8))
    assert field.shape == (32, 28, 20)
    assert field.mean() == pytest.approx(0.0, abs=1e-9)
    assert field.std() == pytest.approx(1.0, rel=1e-9)
    # White noise of unit variance has neighbour differences of std sqrt(2); a smooth field
    # varies over the 8-voxel spacing of its control points.
    for axis in range(3):
        assert np.diff(field, axis=axis).std() < 0.35


def test_bad_shift_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="gamma must be > 0"):
        Shift(gamma=0)
    with pytest.raises(ValueError, match="scenario 'x': unknown shift fields \\['blur'\\]"):
        Shift.from_json({"blur": 1}, "x")

"""Parity with MONAI, MedPy and DeepMind surface-distance on random and adversarial masks.

Each peer's own variant is compared with the matching method here: MedPy ``hd95``/``hd``/``assd``
(pooled, border voxels), MONAI (max of directed percentiles, pooled ASSD and NSD on border voxels;
area-weighted NSD with ``use_subvoxels=True``) and surface-distance (surfels, area-weighted).
MONAI returns float32, so it is compared to 1e-6 relative; the float64 peers to 1e-9.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import monai.metrics as monai_metrics
import numpy as np
import numpy.typing as npt
import pytest
import surface_distance as sdist
import torch
from medpy.metric import binary
from scipy import ndimage

from mri_metrics.surface import surface_distances

BoolArray = npt.NDArray[np.bool_]
Case = tuple[BoolArray, BoolArray, tuple[float, ...]]


def _random(seed: int, shape: tuple[int, ...], spacing: tuple[float, ...]) -> Case:
    rng = np.random.default_rng(seed)
    a = ndimage.gaussian_filter(rng.random(shape), 2.0) > 0.5
    b = ndimage.gaussian_filter(rng.random(shape), 2.0) > 0.5
    return a, b, spacing


def _single_voxels() -> Case:
    a = np.zeros((12, 14, 10), dtype=bool)
    b = np.zeros_like(a)
    a[2, 3, 4] = True
    b[9, 11, 1] = True
    return a, b, (1.0, 1.0, 3.0)


def _touching() -> Case:
    a = np.zeros((16, 16, 12), dtype=bool)
    b = np.zeros_like(a)
    a[3:8, 4:12, 2:9] = True
    b[8:13, 4:12, 2:9] = True
    return a, b, (0.5, 0.8, 2.2)


def _on_volume_border() -> Case:
    a = np.zeros((14, 12, 10), dtype=bool)
    b = np.zeros_like(a)
    a[:5, :, 0:4] = True
    b[:7, 3:, :3] = True
    return a, b, (1.0, 1.0, 3.0)


def _thin_structures() -> Case:
    a = np.zeros((20, 20, 8), dtype=bool)
    b = np.zeros_like(a)
    a[2:18, 10, 4] = True
    b[3:17, 11, 3:5] = True
    a[5, 2:18, 2] = True
    return a, b, (0.5, 0.8, 2.2)


def _nested() -> Case:
    a = np.zeros((18, 18, 14), dtype=bool)
    a[2:16, 2:16, 2:12] = True
    b = ndimage.binary_erosion(a, iterations=3)
    return a, b, (1.0, 1.0, 3.0)


def _random_2d() -> Case:
    a, b, _ = _random(11, (40, 36), (1.0, 1.0))
    return a, b, (0.7, 1.9)


CASES: dict[str, Callable[[], Case]] = {
    "random-iso": lambda: _random(0, (24, 26, 20), (1.0, 1.0, 1.0)),
    "random-113": lambda: _random(1, (24, 22, 18), (1.0, 1.0, 3.0)),
    "random-aniso": lambda: _random(2, (26, 24, 16), (0.5, 0.8, 2.2)),
    "random-sparse": lambda: _random(3, (28, 24, 20), (0.5, 0.8, 2.2)),
    "single-voxels": _single_voxels,
    "touching": _touching,
    "volume-border": _on_volume_border,
    "thin": _thin_structures,
    "nested": _nested,
    "2d": _random_2d,
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]()


def test_medpy(case: Case) -> None:
    pred, ref, spacing = case
    d = surface_distances(pred, ref, spacing=spacing)
    assert d.hausdorff(95) == pytest.approx(binary.hd95(pred, ref, voxelspacing=spacing), rel=1e-9)
    assert d.hausdorff(100) == pytest.approx(binary.hd(pred, ref, voxelspacing=spacing), rel=1e-9)
    assert d.assd() == pytest.approx(binary.assd(pred, ref, voxelspacing=spacing), rel=1e-9)


def test_surface_distance(case: Case) -> None:
    pred, ref, spacing = case
    d = surface_distances(pred, ref, spacing=spacing, surface="surfel")
    theirs = sdist.compute_surface_distances(ref, pred, spacing)
    np.testing.assert_allclose(np.sort(d.ref_to_pred), theirs["distances_gt_to_pred"], rtol=1e-12)
    np.testing.assert_allclose(np.sort(d.pred_to_ref), theirs["distances_pred_to_gt"], rtol=1e-12)
    np.testing.assert_allclose(d.ref_weights.sum(), theirs["surfel_areas_gt"].sum(), rtol=1e-12)
    for percent in (50.0, 95.0, 100.0):
        assert d.hausdorff(percent, "surfel") == pytest.approx(
            sdist.compute_robust_hausdorff(theirs, percent), rel=1e-9
        )
    for tolerance in (0.5, 1.0, 2.0, 2.2):
        assert d.nsd(tolerance) == pytest.approx(
            sdist.compute_surface_dice_at_tolerance(theirs, tolerance), rel=1e-9
        )
    gt_to_pred, pred_to_gt = sdist.compute_average_surface_distance(theirs)
    assert d.assd("surfel") == pytest.approx(0.5 * (gt_to_pred + pred_to_gt), rel=1e-9)


def _check_monai_float32_quantile(
    forward: npt.NDArray[np.float64],
    backward: npt.NDArray[np.float64],
    percentile: float,
    ours: float,
    theirs: float,
) -> None:
    """MONAI's percentile HD differs from the float64 value by its float32 ``torch.quantile``.

    MONAI calls ``torch.quantile`` on float32 distances, which computes the interpolation
    position ``q * (n - 1)`` and weight in float32: with thousands of surface voxels the position
    is off by up to ~1e-4 voxel ranks, so the result moves by that fraction of the gap between
    neighbouring sorted distances (observed: 3e-6 relative). We check that MONAI's number is
    exactly that float32 quantile of our distances, and ours the float64 one.
    """
    as_float32 = [
        torch.quantile(torch.from_numpy(x).float(), percentile / 100).item()
        for x in (forward, backward)
    ]
    assert theirs == pytest.approx(max(as_float32), rel=1e-7)
    float64 = max(np.percentile(forward, percentile), np.percentile(backward, percentile))
    assert ours == float64
    assert ours == pytest.approx(theirs, rel=1e-4)


def test_monai(case: Case) -> None:
    pred, ref, spacing = case
    p = torch.from_numpy(pred)[None, None].float()
    r = torch.from_numpy(ref)[None, None].float()
    d = surface_distances(pred, ref, spacing=spacing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for percentile in (95.0, 100.0):
            theirs = monai_metrics.compute_hausdorff_distance(
                p, r, include_background=True, percentile=percentile, spacing=spacing
            ).item()
            ours = d.hausdorff(percentile, "max-directed")
            if percentile == 100.0:
                assert ours == pytest.approx(theirs, rel=1e-6)
            else:
                _check_monai_float32_quantile(
                    d.pred_to_ref, d.ref_to_pred, percentile, ours, theirs
                )
        theirs = monai_metrics.compute_average_surface_distance(
            p, r, include_background=True, symmetric=True, spacing=spacing
        ).item()
        assert d.assd("pooled") == pytest.approx(theirs, rel=1e-6)
        surfels = surface_distances(pred, ref, spacing=spacing, surface="surfel")
        for tolerance in (1.0, 2.0):
            theirs = monai_metrics.compute_surface_dice(
                p, r, [tolerance], include_background=True, spacing=spacing
            ).item()
            assert d.nsd(tolerance) == pytest.approx(theirs, rel=1e-6)
            theirs = monai_metrics.compute_surface_dice(
                p, r, [tolerance], include_background=True, spacing=spacing, use_subvoxels=True
            ).item()
            assert surfels.nsd(tolerance) == pytest.approx(theirs, rel=1e-6)

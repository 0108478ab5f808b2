"""Surface distances against brute force (all pairs, float64) and their mathematical properties."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

from mri_metrics.errors import MetricInputError, NotBinaryError, ShapeMismatchError
from mri_metrics.surface import (
    Surface,
    SurfaceDistances,
    assd,
    hausdorff,
    hd95,
    nsd,
    surface_distances,
)

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


def _brute_directed(a: BoolArray, b: BoolArray, spacing: tuple[float, ...]) -> FloatArray:
    """Distance from each border voxel of ``a`` to the nearest border voxel of ``b``, all pairs."""
    structure = ndimage.generate_binary_structure(a.ndim, 1)
    border_a = a ^ ndimage.binary_erosion(a, structure)
    border_b = b ^ ndimage.binary_erosion(b, structure)
    pa = np.argwhere(border_a) * np.asarray(spacing)
    pb = np.argwhere(border_b) * np.asarray(spacing)
    pairwise = np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(axis=-1))
    return np.asarray(pairwise.min(axis=1))


def _blobs(seed: int, shape: tuple[int, ...], sigma: float = 2.0) -> tuple[BoolArray, BoolArray]:
    rng = np.random.default_rng(seed)
    a = ndimage.gaussian_filter(rng.random(shape), sigma) > 0.5
    b = ndimage.gaussian_filter(rng.random(shape), sigma) > 0.5
    return a, b


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (1.0, 1.0, 3.0), (0.5, 0.8, 2.2)])
@pytest.mark.parametrize("seed", range(3))
def test_voxel_distances_equal_brute_force(seed: int, spacing: tuple[float, ...]) -> None:
    pred, ref = _blobs(seed, (18, 20, 14))
    d = surface_distances(pred, ref, spacing=spacing)
    np.testing.assert_allclose(
        np.sort(d.pred_to_ref), np.sort(_brute_directed(pred, ref, spacing)), rtol=1e-12
    )
    np.testing.assert_allclose(
        np.sort(d.ref_to_pred), np.sort(_brute_directed(ref, pred, spacing)), rtol=1e-12
    )
    pooled = np.concatenate([d.pred_to_ref, d.ref_to_pred])
    assert d.hausdorff(100) == pytest.approx(max(pooled.max(), 0.0), rel=1e-12)
    assert hd95(pred, ref, spacing=spacing) == pytest.approx(np.percentile(pooled, 95), rel=1e-12)
    assert assd(pred, ref, spacing=spacing) == pytest.approx(pooled.mean(), rel=1e-12)


def test_far_apart_single_voxels_2d() -> None:
    """Two single pixels: every distance is the one between them, along an anisotropic grid."""
    pred = np.zeros((40, 30), dtype=bool)
    ref = np.zeros_like(pred)
    pred[0, 0] = True
    ref[39, 29] = True
    expected = math.hypot(39 * 0.5, 29 * 2.0)
    for method in ("pooled", "max-directed", "surfel"):
        assert hausdorff(pred, ref, spacing=(0.5, 2.0), method=method) == pytest.approx(
            expected, rel=1e-12
        )
    assert nsd(pred, ref, expected - 1e-9, spacing=(0.5, 2.0)) == 0.0
    assert nsd(pred, ref, expected, spacing=(0.5, 2.0)) == 1.0


def test_crop_equals_full_volume_transform() -> None:
    """The union-box crop changes no distance: compare with transforms of the full volume."""
    pred, ref = _blobs(7, (30, 26, 22), sigma=1.5)
    pred[:, :, 12:] = False
    ref[:, :, :14] = False
    spacing = (0.9, 1.1, 2.5)
    structure = ndimage.generate_binary_structure(3, 1)
    border_p = pred ^ ndimage.binary_erosion(pred, structure)
    border_r = ref ^ ndimage.binary_erosion(ref, structure)
    full_r = ndimage.distance_transform_edt(~border_r, sampling=spacing)
    full_p = ndimage.distance_transform_edt(~border_p, sampling=spacing)
    d = surface_distances(pred, ref, spacing=spacing)
    np.testing.assert_array_equal(np.sort(d.pred_to_ref), np.sort(full_r[border_p]))
    np.testing.assert_array_equal(np.sort(d.ref_to_pred), np.sort(full_p[border_r]))


def test_surfel_areas_of_a_box_sum_to_its_surface_area() -> None:
    """A 4x5x6-voxel box at spacing (1, 2, 3): marching cubes cuts its edges and corners.

    Faces lose a half-voxel band at each edge, which is replaced by chamfers; the total is checked
    against the closed form of the chamfered box rather than the raw face area.
    """
    mask = np.zeros((10, 10, 10), dtype=bool)
    mask[2:6, 2:7, 2:8] = True
    d = surface_distances(mask, mask, surface="surfel")
    assert d.pred_to_ref.max() == 0.0
    # Isotropic: flat faces shrink by half a voxel per side; edges become 45-degree strips of width
    # sqrt(2)/2; corners become triangles of area sqrt(3)/8.
    a, b, c = 4, 5, 6
    faces = 2 * ((a - 1) * (b - 1) + (a - 1) * (c - 1) + (b - 1) * (c - 1))
    edges = 4 * (a - 1 + b - 1 + c - 1) * math.sqrt(2) / 2
    corners = 8 * math.sqrt(3) / 8
    assert d.pred_weights.sum() == pytest.approx(faces + edges + corners, rel=1e-12)


def test_empty_masks() -> None:
    empty = np.zeros((8, 8, 8), dtype=bool)
    some = empty.copy()
    some[3:5, 3:5, 3:5] = True
    for method in ("pooled", "max-directed", "surfel"):
        assert math.isnan(hausdorff(empty, empty, method=method))
        assert math.isnan(hausdorff(some, empty, method=method))
        assert math.isnan(hausdorff(empty, some, method=method))
    for surface in ("voxel", "surfel"):
        for nsd_method in ("pooled", "mean-directed"):
            assert math.isnan(nsd(empty, empty, 1.0, method=nsd_method, surface=surface))
            assert nsd(some, empty, 1.0, method=nsd_method, surface=surface) == 0.0
    d = surface_distances(some, empty)
    assert d.ref_to_pred.size == 0
    assert np.all(np.isinf(d.pred_to_ref))
    assert d.pred_to_ref.size == 8
    assert math.isnan(d.assd())
    assert math.isnan(assd(empty, empty, method="surfel"))


def test_bad_arguments() -> None:
    mask = np.zeros((6, 6, 6), dtype=bool)
    mask[2:4, 2:4, 2:4] = True
    with pytest.raises(NotBinaryError, match=r"^pred: "):
        hd95(mask * 2, mask)
    with pytest.raises(ShapeMismatchError):
        hd95(mask, mask[:5])
    with pytest.raises(MetricInputError, match="spacing"):
        hd95(mask, mask, spacing=(1.0, 1.0))
    with pytest.raises(MetricInputError, match="percentile"):
        hausdorff(mask, mask, percentile=101.0)
    with pytest.raises(MetricInputError, match="tolerance"):
        nsd(mask, mask, -1.0)
    with pytest.raises(MetricInputError, match="2D and 3D"):
        surface_distances(mask[None], mask[None], surface="surfel")
    voxel = surface_distances(mask, mask)
    with pytest.raises(MetricInputError, match="'surfel' surface"):
        voxel.hausdorff(95, "surfel")
    with pytest.raises(MetricInputError, match="'voxel' surface"):
        surface_distances(mask, mask, surface="surfel").hausdorff(95, "pooled")


def test_four_dimensional_voxel_surface() -> None:
    pred, ref = _blobs(3, (6, 7, 8, 5), sigma=1.0)
    d = surface_distances(pred, ref, spacing=(1.0, 2.0, 1.0, 0.5))
    np.testing.assert_allclose(
        np.sort(d.pred_to_ref), np.sort(_brute_directed(pred, ref, (1.0, 2.0, 1.0, 0.5)))
    )


shapes = st.tuples(st.integers(3, 10), st.integers(3, 10), st.integers(1, 6))
spacings = st.tuples(*[st.sampled_from([0.5, 0.8, 1.0, 2.2, 3.0])] * 3)


@st.composite
def mask_pairs(draw: st.DrawFn) -> tuple[BoolArray, BoolArray, tuple[float, float, float]]:
    shape = draw(shapes)
    pred = draw(hnp.arrays(np.bool_, shape))
    ref = draw(hnp.arrays(np.bool_, shape))
    pred.flat[draw(st.integers(0, pred.size - 1))] = True
    ref.flat[draw(st.integers(0, ref.size - 1))] = True
    return pred, ref, draw(spacings)


def _all_summaries(d: SurfaceDistances) -> list[float]:
    if d.surface == "surfel":
        return [d.hausdorff(100, "surfel"), d.hausdorff(95, "surfel"), d.assd("surfel")]
    return [d.hausdorff(100), d.hausdorff(95), d.hausdorff(95, "max-directed"), d.assd()]


@settings(max_examples=40, deadline=None)
@given(mask_pairs(), st.sampled_from(["voxel", "surfel"]))
def test_symmetry_identity_and_bounds(
    case: tuple[BoolArray, BoolArray, tuple[float, float, float]], kind: Surface
) -> None:
    """HD, pooled HD95, max-directed HD95, surfel HD95, ASSD and NSD are all symmetric."""
    pred, ref, spacing = case
    forward = surface_distances(pred, ref, spacing=spacing, surface=kind)
    backward = surface_distances(ref, pred, spacing=spacing, surface=kind)
    assert _all_summaries(forward) == pytest.approx(_all_summaries(backward), rel=1e-12)
    for tolerance in (0.0, 1.0, 2.5):
        for method in ("pooled", "mean-directed"):
            value = forward.nsd(tolerance, method)
            assert 0.0 <= value <= 1.0
            assert value == pytest.approx(backward.nsd(tolerance, method), rel=1e-12)
    same = surface_distances(pred, pred, spacing=spacing, surface=kind)
    assert all(v == 0.0 for v in _all_summaries(same))
    assert same.nsd(0.0) == 1.0
    # Percentiles never exceed the Hausdorff distance.
    assert _all_summaries(forward)[1] <= _all_summaries(forward)[0]


@settings(max_examples=30, deadline=None)
@given(mask_pairs(), st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 3)))
def test_translation_invariance(
    case: tuple[BoolArray, BoolArray, tuple[float, float, float]], shift: tuple[int, int, int]
) -> None:
    """Moving both masks inside a larger volume (even onto its border) changes nothing."""
    pred, ref, spacing = case
    big = tuple(n + 4 for n in pred.shape)
    moved = []
    for mask in (pred, ref):
        canvas = np.zeros(big, dtype=bool)
        canvas[tuple(slice(s, s + n) for s, n in zip(shift, mask.shape, strict=True))] = mask
        moved.append(canvas)
    kinds: tuple[Surface, ...] = ("voxel", "surfel")
    for kind in kinds:
        here = surface_distances(pred, ref, spacing=spacing, surface=kind)
        there = surface_distances(moved[0], moved[1], spacing=spacing, surface=kind)
        assert _all_summaries(here) == _all_summaries(there)
        assert here.nsd(1.0) == there.nsd(1.0)

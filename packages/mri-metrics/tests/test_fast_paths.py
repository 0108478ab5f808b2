"""The fast paths equal the slow definitions they replace, bit for bit.

Local nearest-surface search against brute force, shifted-OR dilation against scipy's, and
scoring on a cropped box against scoring the same case embedded in a larger volume.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from mri_metrics import surface as surface_module
from mri_metrics.lesion import _dilate_edges
from mri_metrics.scoring import score_segmentation
from mri_metrics.surface import (
    _MAP_RATIO,
    _nearest_distances,
    _offsets_by_length,
    _search_reach,
    surface_distances,
)

BoolArray = npt.NDArray[np.bool_]


def brute_force_distances(
    target: BoolArray, queries: BoolArray, spacing: tuple[float, ...]
) -> npt.NDArray[np.float64]:
    """Every query against every target, from integer offsets scaled to mm (EDT's arithmetic)."""
    scale = np.asarray(spacing)
    t = np.argwhere(target)
    q = np.argwhere(queries)
    if len(t) == 0:
        return np.full(len(q), math.inf)
    scaled = (q[:, None, :] - t[None, :, :]) * scale
    return np.asarray(np.sqrt((scaled * scaled).sum(-1)).min(axis=1))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    density=st.sampled_from([0.002, 0.02, 0.2]),
    spacing=st.sampled_from([(1.0, 1.0, 1.0), (0.7, 1.0, 2.5), (3.0, 0.5, 1.0)]),
    query_density=st.sampled_from([0.05, 0.4]),
)
def test_local_search_equals_brute_force(
    seed: int, density: float, spacing: tuple[float, float, float], query_density: float
) -> None:
    rng = np.random.default_rng(seed)
    shape = (17, 19, 13)
    target = rng.random(shape) < density
    queries = rng.random(shape) < query_density
    # The search needs its reach of background around both sets, as surface_distances pads.
    margin = [(r, r) for r in _search_reach(spacing)]
    padded_target, padded_queries = np.pad(target, margin), np.pad(queries, margin)
    ours = _nearest_distances(
        padded_target, np.flatnonzero(padded_target), np.flatnonzero(padded_queries), spacing
    )
    expected = brute_force_distances(target, queries, spacing)
    # Sparse targets send queries to the k-d tree fallback, dense ones resolve locally, and
    # many queries far from sparse targets go to the distance map.
    np.testing.assert_array_equal(ours, expected)


def _count_distance_maps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record each call of the search's whole-array distance map (one entry per call)."""
    calls: list[int] = []
    real = surface_module._distance_map

    def counted(target: BoolArray, sampling: tuple[float, ...]) -> npt.NDArray[np.float64]:
        calls.append(target.size)
        return real(target, sampling)

    monkeypatch.setattr(surface_module, "_distance_map", counted)
    return calls


def test_many_far_queries_take_the_distance_map_and_agree_with_brute_force(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    maps = _count_distance_maps(monkeypatch)
    rng = np.random.default_rng(3)
    shape = (30, 28, 20)
    target = np.zeros(shape, dtype=bool)
    target[2:5, 3:6, 2:4] = True  # one small structure in a corner
    queries = rng.random(shape) < 0.3  # a scattered false-positive cloud
    spacing = (0.7, 1.0, 2.5)
    margin = [(r, r) for r in _search_reach(spacing)]
    padded_target, padded_queries = np.pad(target, margin), np.pad(queries, margin)
    found, remaining = np.flatnonzero(padded_target), np.flatnonzero(padded_queries)
    # The search's work left after its first offset exceeds the map's by far.
    assert remaining.size * _offsets_by_length(spacing)[0].shape[0] > (
        _MAP_RATIO * padded_target.size
    )
    ours = _nearest_distances(padded_target, found, remaining, spacing)
    np.testing.assert_array_equal(ours, brute_force_distances(target, queries, spacing))
    assert len(maps) == 1


def test_close_surfaces_are_searched_locally_without_a_distance_map(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two segmentations of one lesion, a voxel or two apart: nearly every element finds its
    partner within the first offsets, so no whole-array distance map may be built (judged on
    all elements before searching, the map was built for every such pair and cost five times
    the search at BraTS size)."""
    maps = _count_distance_maps(monkeypatch)
    grid = np.ogrid[:48, :46, :40]

    def ellipsoid(centre: tuple[int, ...], radii: tuple[int, ...]) -> BoolArray:
        scaled = (((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True))
        return np.asarray(sum(scaled) < 1)

    ref = ellipsoid((24, 23, 20), (15, 13, 11))
    pred = ellipsoid((25, 22, 20), (14, 14, 12))
    for surface in ("voxel", "surfel"):
        distances = surface_distances(pred, ref, surface=surface)
        assert distances.pred_to_ref.size > 1000
        assert distances.pred_to_ref.max() <= 3.0
    assert maps == []


@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
@pytest.mark.parametrize("iterations", [0, 1, 2, 3])
def test_edge_dilation_equals_scipy(ndim: int, iterations: int) -> None:
    rng = np.random.default_rng(ndim * 10 + iterations)
    mask = rng.random((7,) * ndim) < 0.06
    mask[(0,) * ndim] = True  # on the border: the dilation is clipped there
    structure = ndimage.generate_binary_structure(ndim, min(2, ndim))
    expected = (
        ndimage.binary_dilation(mask, structure=structure, iterations=iterations)
        if iterations
        else mask
    )
    np.testing.assert_array_equal(_dilate_edges(mask, iterations), expected)


@pytest.mark.parametrize("profile", ["mri-suite", "brats2023-met", "brats-evaluation", "monai"])
def test_scores_do_not_depend_on_the_empty_volume_around_the_case(profile: str) -> None:
    rng = np.random.default_rng(7)
    shape = (20, 18, 16)
    ref = np.zeros(shape, dtype=np.int64)
    ref[4:14, 3:12, 5:12] = 2
    ref[6:11, 5:10, 7:10] = 3
    ref[15:17, 14:16, 1:3] = 3  # a satellite near the border
    pred = np.roll(ref, (1, -1, 0), axis=(0, 1, 2))
    pred[rng.random(shape) < 0.02] = 1
    spacing = (1.0, 1.2, 2.0)
    small = score_segmentation(pred, ref, profile, spacing=spacing)
    big_pred = np.zeros((40, 30, 26), dtype=np.int64)
    big_ref = np.zeros_like(big_pred)
    big_pred[10:30, 6:24, 5:21] = pred
    big_ref[10:30, 6:24, 5:21] = ref
    big = score_segmentation(big_pred, big_ref, profile, spacing=spacing)
    for region, scores in small.items():
        for key, value in scores.items():
            other = big[region][key]
            assert value == other or (math.isnan(value) and math.isnan(other)), (region, key)

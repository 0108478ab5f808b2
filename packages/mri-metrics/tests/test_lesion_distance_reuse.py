"""Whole-region surface distances reused for a lesion that is the whole region: exactly equal."""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mri_metrics import lesion
from mri_metrics.lesion import brats2023_lesion_scores, brats_mets_scores, matched_lesion_scores
from mri_metrics.scoring import score_segmentation
from mri_metrics.surface import SurfaceDistances, surface_distances

Mask = npt.NDArray[np.bool_]
SPACINGS = [(1.0, 1.0, 1.0), (1.0, 1.0, 2.5), (0.7, 1.3, 1.0)]


def _blobs(seed: int, n_ref: int, n_extra: int) -> tuple[Mask, Mask]:
    """Reference of ``n_ref`` random boxes; prediction shifted, thinned, plus extra boxes."""
    rng = np.random.default_rng(seed)
    shape = (22, 20, 18)
    ref = np.zeros(shape, dtype=bool)
    for _ in range(n_ref):
        lo = rng.integers(0, [n - 4 for n in shape])
        hi = lo + rng.integers(2, 8, size=3)
        ref[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))] = True
    pred = np.roll(ref, tuple(rng.integers(-2, 3, size=3)), axis=(0, 1, 2))
    pred &= rng.random(shape) < 0.9
    for _ in range(n_extra):
        lo = rng.integers(0, [n - 3 for n in shape])
        pred[tuple(slice(a, a + 2) for a in lo)] = True
    return pred, ref


def _fields(result: object) -> tuple[object, ...]:
    """A result's fields, nested tuples of plain values (NaN compares equal under assert_equal)."""
    return dataclasses.astuple(result)  # type: ignore[call-overload, no-any-return]


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 2),
    st.integers(0, 1),
    st.sampled_from(SPACINGS),
)
def test_reuse_changes_no_result(
    seed: int, n_ref: int, n_extra: int, spacing: tuple[float, float, float]
) -> None:
    pred, ref = _blobs(seed, n_ref, n_extra)
    surfels = surface_distances(pred, ref, spacing=spacing, surface="surfel")
    voxels = surface_distances(pred, ref, spacing=spacing, surface="voxel")
    for iterations in (1, 3):
        fresh = brats2023_lesion_scores(pred, ref, spacing=spacing, dilation_iterations=iterations)
        reused = brats2023_lesion_scores(
            pred, ref, spacing=spacing, dilation_iterations=iterations, region_distances=surfels
        )
        np.testing.assert_equal(_fields(reused), _fields(fresh))
    for method, given_distances in (
        ("pooled", voxels),
        ("max-directed", voxels),
        ("surfel", surfels),
    ):
        kwargs = {"spacing": spacing, "hd95_method": method, "nsd_tolerance_mm": 1.0}
        fresh_m = matched_lesion_scores(pred, ref, **kwargs)  # type: ignore[arg-type]
        reused_m = matched_lesion_scores(
            pred,
            ref,
            region_distances=given_distances,
            **kwargs,  # type: ignore[arg-type]
        )
        np.testing.assert_equal(_fields(reused_m), _fields(fresh_m))
    np.testing.assert_equal(
        _fields(brats_mets_scores(pred, ref, spacing=spacing, region_distances=voxels)),
        _fields(brats_mets_scores(pred, ref, spacing=spacing)),
    )


def _single_lesion() -> tuple[Mask, Mask]:
    ref = np.zeros((20, 20, 20), dtype=bool)
    ref[4:12, 5:14, 6:11] = True
    pred = np.roll(ref, (1, -2, 1), axis=(0, 1, 2))
    pred[4:6, 5:7, 13:15] = True  # a second predicted component inside the dilation
    return pred, ref


def _forbid_recomputation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> SurfaceDistances:
        raise AssertionError("per-lesion distances recomputed")

    monkeypatch.setattr(lesion, "surface_distances", refuse)


def test_whole_region_lesion_reuses_the_distances(monkeypatch: pytest.MonkeyPatch) -> None:
    pred, ref = _single_lesion()
    spacing = (1.0, 1.0, 2.5)
    surfels = surface_distances(pred, ref, spacing=spacing, surface="surfel")
    fresh = brats2023_lesion_scores(pred, ref, spacing=spacing)
    assert len(fresh.lesions) == 1
    assert fresh.lesions[0].matched == (1, 2)
    assert fresh.lesions[0].hd95 == surfels.hausdorff(95.0, "surfel")
    _forbid_recomputation(monkeypatch)
    assert brats2023_lesion_scores(pred, ref, spacing=spacing, region_distances=surfels) == fresh


def test_distances_of_another_kind_are_not_reused() -> None:
    """Distances measured with another spacing or surface are recomputed, not trusted."""
    pred, ref = _single_lesion()
    spacing = (1.0, 1.0, 2.5)
    fresh = brats2023_lesion_scores(pred, ref, spacing=spacing)
    for other in (
        surface_distances(pred, ref, spacing=(1.0, 1.0, 1.0), surface="surfel"),
        surface_distances(pred, ref, spacing=spacing, surface="voxel"),
    ):
        assert brats2023_lesion_scores(pred, ref, spacing=spacing, region_distances=other) == fresh
    one_pred = np.roll(ref, (1, -2, 1), axis=(0, 1, 2))
    expected = matched_lesion_scores(one_pred, ref, spacing=spacing, hd95_method="pooled")
    isotropic = surface_distances(one_pred, ref, spacing=(1.0, 1.0, 1.0), surface="voxel")
    reused = matched_lesion_scores(
        one_pred, ref, spacing=spacing, hd95_method="pooled", region_distances=isotropic
    )
    assert reused.hd95 == expected.hd95
    assert reused.hd95 != isotropic.hausdorff(95.0, "pooled")


@pytest.mark.parametrize("profile", ["brats2023-gli", "brats-evaluation", "mri-suite"])
def test_scoring_passes_its_distances_to_the_lesion_step(
    profile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One lesion, one predicted component, 1 mm voxels: no per-lesion distance computation."""
    ref_mask = np.zeros((20, 20, 20), dtype=bool)
    ref_mask[4:12, 5:14, 6:11] = True
    labels_ref = ref_mask.astype(np.uint8) * 2
    labels_pred = np.roll(labels_ref, (1, -2, 1), axis=(0, 1, 2))
    expected = score_segmentation(labels_pred, labels_ref, profile=profile)
    _forbid_recomputation(monkeypatch)
    np.testing.assert_equal(score_segmentation(labels_pred, labels_ref, profile=profile), expected)

"""Lesion-wise algorithms on hand-built cases whose answers are known, and brute-force matching."""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mri_metrics.errors import NotBinaryError, ShapeMismatchError
from mri_metrics.lesion import brats2023_lesion_scores, connected_components, matched_lesion_scores


def empty() -> npt.NDArray[np.bool_]:
    return np.zeros((24, 24, 24), dtype=bool)


def test_missed_lesion_and_false_positive_are_penalised() -> None:
    ref, pred = empty(), empty()
    ref[2:7, 2:7, 2:7] = True  # 125 mm^3, matched exactly
    ref[14:19, 14:19, 14:19] = True  # 125 mm^3, missed
    pred[2:7, 2:7, 2:7] = True
    pred[14:16, 2:4, 18:20] = True  # false positive far from both
    result = brats2023_lesion_scores(pred, ref)
    assert [lesion.dice for lesion in result.lesions] == [1.0, 0.0]
    assert [lesion.hd95 for lesion in result.lesions] == [0.0, 374.0]
    assert result.false_positives == (2,)
    assert result.dice == pytest.approx(1 / 3, rel=1e-15)
    assert result.hd95 == pytest.approx(2 * 374 / 3, rel=1e-15)


def test_lesions_whose_dilations_touch_are_merged_and_scored_together() -> None:
    ref, pred = empty(), empty()
    ref[3:8, 3:8, 3:8] = True
    ref[10:15, 3:8, 3:8] = True  # 2-voxel gap: 3 dilations merge them
    pred[3:15, 3:8, 3:8] = True
    merged = brats2023_lesion_scores(pred, ref, dilation_iterations=3)
    assert len(merged.lesions) == 1
    assert merged.lesions[0].volume_mm3 == 250.0
    assert merged.lesions[0].dice == pytest.approx(2 * 250 / (250 + 300), rel=1e-15)
    separate = brats2023_lesion_scores(pred, ref, dilation_iterations=0)
    assert len(separate.lesions) == 2
    assert all(lesion.matched == (1,) for lesion in separate.lesions)


def test_small_lesions_are_dropped_but_false_positives_never() -> None:
    ref, pred = empty(), empty()
    ref[2:5, 2:5, 2:5] = True  # 27 mm^3 at 1 mm, 216 mm^3 at 2 mm
    pred[15:17, 15:17, 15:17] = True
    small = brats2023_lesion_scores(pred, ref, volume_threshold_mm3=50.0)
    assert not small.lesions[0].counted
    assert (small.dice, small.hd95) == (0.0, 374.0)
    large = brats2023_lesion_scores(pred, ref, spacing=2.0, volume_threshold_mm3=50.0)
    assert large.lesions[0].counted
    assert large.lesions[0].volume_mm3 == 216.0
    assert (large.dice, large.hd95) == (0.0, 374.0)
    nothing = brats2023_lesion_scores(empty(), ref)
    assert (nothing.dice, nothing.hd95) == (1.0, 0.0)


def test_components_connect_through_corners() -> None:
    mask = empty()
    mask[1, 1, 1] = mask[2, 2, 2] = mask[5, 5, 5] = True
    labels, count = connected_components(mask)
    assert count == 2
    assert labels[1, 1, 1] == labels[2, 2, 2] != labels[5, 5, 5]


def test_inputs_are_checked() -> None:
    with pytest.raises(NotBinaryError, match="pred"):
        brats2023_lesion_scores(np.full((4, 4, 4), 2), np.zeros((4, 4, 4)))
    with pytest.raises(ShapeMismatchError):
        matched_lesion_scores(np.zeros((4, 4, 4)), np.zeros((4, 4, 5)))


def brute_force_matching(pred: npt.NDArray[np.bool_], ref: npt.NDArray[np.bool_]) -> float:
    """Largest summed DSC over all one-to-one assignments of overlapping components."""
    ref_cc, n_ref = connected_components(ref)
    pred_cc, n_pred = connected_components(pred)
    dsc = np.zeros((n_ref, n_pred))
    for i, j in itertools.product(range(n_ref), range(n_pred)):
        r, p = ref_cc == i + 1, pred_cc == j + 1
        dsc[i, j] = 2 * (r & p).sum() / (r.sum() + p.sum())
    best = 0.0
    for perm in itertools.permutations(range(max(n_ref, n_pred)), n_ref):
        best = max(best, sum(dsc[i, j] for i, j in enumerate(perm) if j < n_pred))
    return best


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_matching_maximises_summed_dice(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pred = rng.random((10, 10, 3)) < 0.25
    ref = rng.random((10, 10, 3)) < 0.25
    pred[:, :, 1] = ref[:, :, 1] = False  # keep the component count small for brute force
    if connected_components(pred)[1] > 6 or connected_components(ref)[1] > 6:
        return
    result = matched_lesion_scores(pred, ref)
    assert sum(pair.dice for pair in result.pairs) == pytest.approx(
        brute_force_matching(pred, ref), abs=1e-12
    )
    assert result.tp + result.fn == connected_components(ref)[1]
    assert result.tp + result.fp == connected_components(pred)[1]
    if result.tp:
        assert result.dice == pytest.approx(np.mean([p.dice for p in result.pairs]), rel=1e-12)
    else:
        assert math.isnan(result.dice)

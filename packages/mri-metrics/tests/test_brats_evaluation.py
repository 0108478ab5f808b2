"""The brats-evaluation profiles: panoptica set up as brats-evaluation 0.0.10, and the mets parser.

``brats-evaluation`` is compared with panoptica itself, configured with the matcher, metrics and
zero-true-positive answers of brats-evaluation 0.0.10's ``gli`` configuration.
``brats-evaluation-mets`` is checked on hand-built cases whose answers are worked out below.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings

import numpy as np
import numpy.typing as npt
import pytest
from scipy import ndimage

from mri_metrics.lesion import brats_mets_scores
from mri_metrics.scoring import score_segmentation
from mri_metrics.surface import hd95

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
REGIONS = {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,), "NETC": (1,), "SNFH": (2,), "RC": (4,)}


def panoptica_gli(pred: BoolArray, ref: BoolArray, spacing: tuple[float, ...]) -> dict[str, float]:
    """panoptica with brats-evaluation 0.0.10's ``gli`` settings, on one region."""
    from panoptica import (
        ConnectedComponentsInstanceApproximator,
        InputType,
        MaxBipartiteMatching,
        Metric,
        Panoptica_Evaluator,
    )
    from panoptica.utils.edge_case_handling import (
        EdgeCaseHandler,
        EdgeCaseResult,
        MetricZeroTPEdgeCaseHandling,
    )

    def zero_tp(value: EdgeCaseResult) -> MetricZeroTPEdgeCaseHandling:
        return MetricZeroTPEdgeCaseHandling(
            no_instances_result=EdgeCaseResult.NAN, default_result=value
        )

    handler = EdgeCaseHandler(
        listmetric_zeroTP_handling={
            Metric.DSC: zero_tp(EdgeCaseResult.ZERO),
            Metric.NSD: zero_tp(EdgeCaseResult.ZERO),
            Metric.HD95: zero_tp(EdgeCaseResult.INF),
        },
        empty_list_std=EdgeCaseResult.NAN,
    )
    metrics = [Metric.DSC, Metric.NSD, Metric.HD95]
    evaluator = Panoptica_Evaluator(
        expected_input=InputType.SEMANTIC,
        instance_approximator=ConnectedComponentsInstanceApproximator(),
        instance_matcher=MaxBipartiteMatching(matching_metric=Metric.DSC, matching_threshold=1e-6),
        instance_metrics=metrics,
        global_metrics=metrics,
        edge_case_handler=handler,
        log_times=False,
        verbose=False,
    )
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluator.evaluate(
            pred.astype(np.uint8), ref.astype(np.uint8), voxelspacing=spacing, verbose=False
        )["ungrouped"]
    return dict(result.to_dict())


def glioma(rng: np.random.Generator, shape: tuple[int, int, int]) -> IntArray:
    """Nested labels (edema, enhancing rim, necrosis) plus a few enhancing satellites."""
    grid = np.indices(shape).astype(np.float64)
    centre = (
        rng.uniform(0.35, 0.65, size=3)[:, None, None, None] * np.array(shape)[:, None, None, None]
    )
    radius = np.sqrt(((grid - centre) ** 2).sum(0))
    radius += ndimage.gaussian_filter(rng.normal(size=shape), 1.5) * 4
    out = np.zeros(shape, dtype=np.int64)
    out[radius < 9] = 2
    out[radius < 6] = 3
    out[radius < 3.5] = 1
    for _ in range(int(rng.integers(0, 4))):
        x, y, z = (int(rng.integers(1, n - 3)) for n in shape)
        out[x : x + 2, y : y + 2, z : z + int(rng.integers(1, 3))] = 3
    if rng.random() < 0.3:
        out[:3, :3, :3] = 4
    return out


def assert_same(ours: float, theirs: float, rel: float) -> None:
    if math.isnan(theirs) or math.isinf(theirs):
        assert ours == theirs or (math.isnan(ours) and math.isnan(theirs))
    else:
        assert ours == pytest.approx(theirs, rel=rel, abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_brats_evaluation_profile_equals_panoptica_with_the_gli_config(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    shape = (36, 34, 30)
    ref = glioma(rng, shape)
    pred = np.roll(ref, tuple(rng.integers(-2, 3, size=3)), axis=(0, 1, 2))
    pred[rng.random(shape) < 0.01] = 3
    if seed == 0:
        pred[pred == 1] = 0  # NETC missed: an empty prediction region
    if seed == 1:
        pred[pred == 2] = 0
        pred[:4, -4:, -4:] = 2  # SNFH predicted only far from the reference: disjoint masks
    spacing = (1.0, 1.0, 1.0) if seed % 2 else (1.0, 1.2, 2.0)
    ours = score_segmentation(pred, ref, "brats-evaluation", spacing=spacing)
    assert list(ours) == list(REGIONS)
    for region, labels in REGIONS.items():
        theirs = panoptica_gli(np.isin(pred, labels), np.isin(ref, labels), spacing[::-1])
        mine = ours[region]
        # The seg parser reports an infinite global HD95 as 373.
        global_hd95 = 373.0 if math.isinf(theirs["global_bin_hd95"]) else theirs["global_bin_hd95"]
        assert_same(mine["dice"], theirs["global_bin_dsc"], 1e-12)
        assert_same(mine["hd95"], global_hd95, 1e-9)
        assert_same(mine["nsd@0.5"], theirs["global_bin_nsd"], 1e-9)
        assert (mine["lesion_tp"], mine["lesion_fp"], mine["lesion_fn"]) == (
            theirs["tp"],
            theirs["fp"],
            theirs["fn"],
        )
        assert_same(mine["lesion_dice"], theirs["sq_dsc"], 1e-12)
        assert_same(mine["lesion_hd95"], theirs["sq_hd95"], 1e-9)
        assert_same(mine["lesion_nsd"], theirs["sq_nsd"], 1e-9)
        assert_same(mine["lesion_f1"], theirs["rq"], 1e-12)


def cube(mask: BoolArray, corner: tuple[int, int, int], side: int) -> None:
    x, y, z = corner
    mask[x : x + side, y : y + side, z : z + side] = True


def test_mets_large_hit_small_missed_and_a_false_positive() -> None:
    ref = np.zeros((30, 30, 30), dtype=bool)
    cube(ref, (2, 2, 2), 3)  # 27 voxels = 27 mm^3: large (the threshold is inclusive)
    cube(ref, (20, 20, 20), 2)  # 8 mm^3: small
    pred = np.zeros_like(ref)
    cube(pred, (2, 2, 2), 3)  # the large lesion exactly: DSC 1, HD95 0, NSD 1
    pred[10, 25, 5] = True  # a false positive
    result = brats_mets_scores(pred, ref, spacing=1.0)
    # Large-lesion list: [1 (hit), 0 (FP)]; HD95 [0, 373]; NSD [1, 0].
    assert (result.dice, result.hd95, result.nsd) == (0.5, 186.5, 0.5)
    # Large detection: tp 1, fp 1, fn 0 -> F1 = 2 / (2 + 1) ; small: tp 0, fn 1, fp 1 -> 0.
    assert (result.large_tp, result.large_fp, result.large_fn) == (1.0, 1.0, 0.0)
    assert result.large_f1 == 2 / 3
    assert (result.small_tp, result.small_fp, result.small_fn, result.small_f1) == (0, 1, 1, 0)


def test_mets_weak_match_counts_its_dice_but_is_not_detected() -> None:
    ref = np.zeros((30, 30, 30), dtype=bool)
    cube(ref, (2, 2, 2), 4)  # 64 mm^3, large
    cube(ref, (20, 20, 2), 4)  # 64 mm^3, large, missed
    pred = np.zeros_like(ref)
    pred[5, 2:6, 2:27] = True  # 100 voxels, 16 of them inside the first lesion
    result = brats_mets_scores(pred, ref, spacing=1.0)
    weak = 2 * 16 / (64 + 100)
    assert weak < 0.2
    pair_hd95 = hd95(pred, ref & (np.indices(ref.shape)[0] < 10), method="pooled")
    assert result.dice == pytest.approx((weak + 0) / 2, rel=1e-15)
    assert result.hd95 == pytest.approx((pair_hd95 + 373) / 2, rel=1e-15)
    # Both large lesions are false negatives (one weak, one missed); there is no FP.
    assert (result.large_tp, result.large_fp, result.large_fn, result.large_f1) == (0, 0, 2, 0)
    assert math.isnan(result.small_f1)


def test_mets_without_large_lesions_reports_no_segmentation_score() -> None:
    ref = np.zeros((20, 20, 20), dtype=bool)
    cube(ref, (3, 3, 3), 2)  # 8 mm^3 at 1 mm, small
    pred = ref.copy()
    small_only = brats_mets_scores(pred, ref, spacing=1.0)
    assert math.isnan(small_only.dice)
    assert math.isnan(small_only.hd95)
    assert (small_only.small_tp, small_only.small_f1) == (1, 1.0)
    assert math.isnan(small_only.large_f1)
    # The same lesion at 1.5 mm isotropic holds 27 mm^3: large.
    coarse = brats_mets_scores(pred, ref, spacing=1.5)
    assert (coarse.dice, coarse.hd95, coarse.nsd, coarse.large_f1) == (1.0, 0.0, 1.0, 1.0)


def test_mets_profile_keys_and_empty_reference() -> None:
    ref = np.zeros((24, 24, 24), dtype=np.int64)
    ref[2:6, 2:6, 2:6] = 3
    pred = ref.copy()
    pred[15:17, 15:17, 15:17] = 3  # a false positive
    scores = score_segmentation(pred, ref, "brats-evaluation-mets")
    assert list(scores) == ["WT", "TC", "ET", "RC"]
    et = scores["ET"]
    assert (et["lesion_dice"], et["lesion_hd95"], et["lesion_nsd"]) == (0.5, 186.5, 0.5)
    assert (et["lesion_tp"], et["lesion_fp"], et["lesion_fn"]) == (1.0, 1.0, 0.0)
    # No resection cavity anywhere: everything undefined, as the parser leaves it.
    assert all(math.isnan(v) for v in scores["RC"].values())

"""Lesion-wise parity: BraTS 2023 algorithm against an independent reference, and one-to-one
matching against panoptica configured as brats-evaluation configures it.

The BraTS 2023 script is not on PyPI, so the reference below re-implements its documented steps
the plain way (full-volume cc3d labelling and scipy dilation, one dilation per lesion, DeepMind
surface-distance for the surfel HD95), sharing no code with :mod:`mri_metrics.lesion`.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings

import cc3d
import numpy as np
import numpy.typing as npt
import pytest
import surface_distance
from scipy import ndimage

from mri_metrics.lesion import brats2023_lesion_scores, matched_lesion_scores

BoolArray = npt.NDArray[np.bool_]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def reference_brats2023(
    pred: BoolArray,
    ref: BoolArray,
    spacing: tuple[float, float, float],
    dilation: int,
    threshold: float,
) -> tuple[float, float, int]:
    """The BraTS 2023 lesion-wise score, step by step on the full volume."""
    if not pred.any() and not ref.any():
        return 1.0, 0.0, 0
    structure = ndimage.generate_binary_structure(3, 2)
    dilated = ndimage.binary_dilation(ref, structure=structure, iterations=dilation)
    merged = cc3d.connected_components(dilated, connectivity=26) * ref
    pred_cc = cc3d.connected_components(pred, connectivity=26)
    voxel = float(np.prod(spacing))
    dices, hds, tps = [], [], set()
    for lesion in np.unique(merged)[1:]:
        gt = merged == lesion
        zone = ndimage.binary_dilation(gt, structure=structure, iterations=dilation)
        hits = [int(c) for c in np.unique(pred_cc[zone]) if c]
        tps.update(hits)
        if gt.sum() * voxel <= threshold:
            continue
        if not hits:
            dices.append(0.0)
            hds.append(374.0)
            continue
        seg = np.isin(pred_cc, hits)
        dices.append(2 * float((seg & gt).sum()) / float(seg.sum() + gt.sum()))
        sd = surface_distance.compute_surface_distances(gt, seg, spacing)
        hds.append(float(surface_distance.compute_robust_hausdorff(sd, 95)))
    n_fp = len(set(np.unique(pred_cc[pred_cc > 0]).tolist()) - tps)
    n = len(dices) + n_fp
    if n == 0:
        return 1.0, 0.0, n_fp
    return sum(dices) / n, (sum(hds) + 374.0 * n_fp) / n, n_fp


def blobs(rng: np.random.Generator, shape: tuple[int, int, int], count: int) -> BoolArray:
    """Random ellipsoids of a few voxels' radius, some touching each other or the border."""
    grid = np.indices(shape).astype(np.float64)
    mask = np.zeros(shape, dtype=bool)
    for _ in range(count):
        centre = rng.uniform(0, np.array(shape))[:, None, None, None]
        radii = rng.uniform(0.6, 4.5, size=3)[:, None, None, None]
        mask |= (((grid - centre) / radii) ** 2).sum(axis=0) <= 1.0
    return mask


def perturbed(rng: np.random.Generator, mask: BoolArray) -> BoolArray:
    """A plausible prediction: shifted, partly eroded or dilated, with spurious blobs."""
    out = np.roll(mask, tuple(rng.integers(-1, 2, size=3)), axis=(0, 1, 2))
    grow = rng.random() < 0.5
    out = ndimage.binary_dilation(out) if grow else ndimage.binary_erosion(out)
    extra = blobs(rng, (mask.shape[0], mask.shape[1], mask.shape[2]), int(rng.integers(0, 3)))
    return np.asarray(out | extra, dtype=bool)


CASES = [(seed, dil, thr) for seed in range(12) for dil, thr in ((3, 50.0), (1, 2.0))]


@pytest.mark.parametrize(("seed", "dilation", "threshold"), CASES)
def test_brats2023_matches_reference_on_random_cases(
    seed: int, dilation: int, threshold: float
) -> None:
    rng = np.random.default_rng(seed)
    shape = (40, 36, 28)
    ref = blobs(rng, shape, int(rng.integers(0, 6)))
    pred = perturbed(rng, ref)
    spacing = (1.0, 1.0, 1.0) if seed % 3 else (0.9, 1.2, 2.5)
    ours = brats2023_lesion_scores(
        pred, ref, spacing=spacing, dilation_iterations=dilation, volume_threshold_mm3=threshold
    )
    dice, hd, n_fp = reference_brats2023(pred, ref, spacing, dilation, threshold)
    assert ours.dice == dice
    assert ours.hd95 == pytest.approx(hd, rel=1e-6)
    assert len(ours.false_positives) == n_fp


@pytest.mark.parametrize(
    "case",
    ["single_voxels", "touching", "border", "pred_empty", "ref_empty", "both_empty", "small_only"],
)
def test_brats2023_matches_reference_on_adversarial_cases(case: str) -> None:
    shape = (24, 24, 24)
    pred = np.zeros(shape, dtype=bool)
    ref = np.zeros(shape, dtype=bool)
    if case == "single_voxels":
        ref[5, 5, 5] = ref[15, 15, 15] = True
        pred[5, 5, 6] = pred[20, 2, 2] = True
    elif case == "touching":
        ref[4:10, 4:10, 4:10] = True
        ref[11:16, 4:10, 4:10] = True  # a 1-voxel gap: dilations merge the two lesions
        pred[5:15, 5:9, 5:9] = True
    elif case == "border":
        ref[:5, :6, -4:] = True
        pred[:6, :5, -5:] = True
        pred[-3:, -3:, :3] = True
    elif case == "pred_empty":
        ref[3:9, 3:9, 3:9] = True
    elif case == "ref_empty":
        pred[3:9, 3:9, 3:9] = True
    elif case == "small_only":
        ref[2:4, 2:4, 2:4] = True  # 8 mm^3, below the 50 mm^3 threshold
        pred[2:4, 2:4, 2:5] = True
    ours = brats2023_lesion_scores(pred, ref, spacing=(1.0, 1.0, 1.0))
    dice, hd, n_fp = reference_brats2023(pred, ref, (1.0, 1.0, 1.0), 3, 50.0)
    assert (ours.dice, len(ours.false_positives)) == (dice, n_fp)
    assert ours.hd95 == pytest.approx(hd, rel=1e-6)


def panoptica_brats_evaluation(
    pred: BoolArray, ref: BoolArray, spacing: tuple[float, float, float]
) -> dict[str, float]:
    """panoptica with brats-evaluation's matcher: Hungarian on DSC, any overlap eligible."""
    from panoptica import (
        ConnectedComponentsInstanceApproximator,
        InputType,
        MaxBipartiteMatching,
        Metric,
        Panoptica_Evaluator,
    )

    evaluator = Panoptica_Evaluator(
        expected_input=InputType.SEMANTIC,
        instance_approximator=ConnectedComponentsInstanceApproximator(),
        instance_matcher=MaxBipartiteMatching(matching_metric=Metric.DSC, matching_threshold=0.0),
        instance_metrics=[Metric.DSC, Metric.IOU, Metric.HD95],
        global_metrics=[Metric.DSC],
        log_times=False,
        verbose=False,
    )
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluator.evaluate(
            pred.astype(np.uint8), ref.astype(np.uint8), voxelspacing=spacing, verbose=False
        )["ungrouped"]
    return dict(result.to_dict())


@pytest.mark.parametrize("seed", range(10))
def test_matched_matches_panoptica(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    shape = (36, 32, 28)
    ref = blobs(rng, shape, int(rng.integers(1, 6)))
    pred = perturbed(rng, ref)
    if not pred.any():
        pred[0, 0, 0] = True
    spacing = (1.0, 1.0, 1.0) if seed % 2 else (1.0, 1.5, 2.0)
    ours = matched_lesion_scores(pred, ref, spacing=spacing)
    theirs = panoptica_brats_evaluation(pred, ref, spacing)
    assert (ours.tp, ours.fp, ours.fn) == (theirs["tp"], theirs["fp"], theirs["fn"])
    assert ours.f1 == pytest.approx(theirs["rq"], rel=1e-12)
    if ours.tp:
        assert ours.dice == pytest.approx(theirs["sq_dsc"], rel=1e-12)
        assert ours.panoptic_quality == pytest.approx(theirs["pq"], rel=1e-12)
        assert ours.hd95 == pytest.approx(theirs["sq_hd95"], rel=1e-6)
    else:
        assert math.isnan(ours.dice)

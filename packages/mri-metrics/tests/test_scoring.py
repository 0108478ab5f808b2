"""score_segmentation against the peers each profile names, on seeded random label maps."""

from __future__ import annotations

import math
import warnings

import numpy as np
import numpy.typing as npt
import pytest
from scipy import ndimage

from mri_metrics.errors import ShapeMismatchError, UnknownLabelError
from mri_metrics.lesion import matched_lesion_scores
from mri_metrics.profiles import EmptyMaskError
from mri_metrics.scoring import score_segmentation

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
IntArray = npt.NDArray[np.int64]


def label_map(
    rng: np.random.Generator, shape: tuple[int, int, int], labels: tuple[int, ...]
) -> IntArray:
    """Nested blobs: edema around a core of necrosis and enhancing tumour, like a glioma."""
    grid = np.indices(shape).astype(np.float64)
    centre = (
        rng.uniform(0.3, 0.7, size=3)[:, None, None, None] * np.array(shape)[:, None, None, None]
    )
    radius = np.sqrt(
        (((grid - centre) / rng.uniform(0.8, 1.2, size=3)[:, None, None, None]) ** 2).sum(0)
    )
    noise = ndimage.gaussian_filter(rng.normal(size=shape), 1.5) * 4
    out = np.zeros(shape, dtype=np.int64)
    out[radius + noise < 9] = labels[1]
    out[radius + noise < 6] = labels[2]
    out[radius + noise < 3.5] = labels[0]
    return out


SHAPE = (40, 36, 32)


def cases(seed: int, labels: tuple[int, ...] = (1, 2, 3)) -> tuple[IntArray, IntArray]:
    rng = np.random.default_rng(seed)
    return label_map(rng, SHAPE, labels), label_map(rng, SHAPE, labels)


REGIONS = {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)}


@pytest.mark.parametrize("seed", range(4))
def test_monai_profile_equals_monai(seed: int) -> None:
    import monai.metrics as metrics
    import torch

    pred, ref = cases(seed)
    spacing = (1.0, 1.0, 1.0) if seed % 2 else (1.0, 0.8, 2.0)
    ours = score_segmentation(pred, ref, "monai", spacing=spacing)
    for region, labels in REGIONS.items():
        p = torch.tensor(np.isin(pred, labels)[None, None].astype(np.float64))
        r = torch.tensor(np.isin(ref, labels)[None, None].astype(np.float64))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dice = metrics.DiceMetric(include_background=True, reduction="none")
            dice(p, r)
            hd = metrics.compute_hausdorff_distance(
                p, r, include_background=True, percentile=95, spacing=list(spacing)
            )
            nsd = metrics.compute_surface_dice(
                p, r, [1.0], include_background=True, spacing=list(spacing)
            )
        # MONAI's DiceMetric rounds its result to float32; ours is the exact float64 ratio.
        assert ours[region]["dice"] == pytest.approx(dice.aggregate().item(), rel=1e-7)
        assert ours[region]["hd95"] == pytest.approx(hd.item(), rel=1e-6)
        assert ours[region]["nsd@1"] == pytest.approx(nsd.item(), rel=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_medpy_profile_equals_medpy(seed: int) -> None:
    from medpy.metric import binary

    pred, ref = cases(10 + seed)
    spacing = (1.0, 1.0, 1.0) if seed % 2 else (0.7, 1.0, 1.8)
    ours = score_segmentation(pred, ref, "medpy", spacing=spacing)
    for region, labels in REGIONS.items():
        p, r = np.isin(pred, labels), np.isin(ref, labels)
        assert ours[region]["dice"] == pytest.approx(binary.dc(p, r), rel=1e-12)
        assert ours[region]["hd95"] == pytest.approx(
            binary.hd95(p, r, voxelspacing=spacing), rel=1e-6
        )
        assert set(ours[region]) == {"dice", "hd95"}


@pytest.mark.parametrize("seed", range(4))
def test_surface_distance_and_brats2023_profiles_equal_surface_distance(seed: int) -> None:
    import surface_distance as sd

    pred, ref = cases(20 + seed)
    spacing = (1.0, 1.0, 1.0) if seed % 2 else (1.2, 1.0, 3.0)
    ours = score_segmentation(pred, ref, "surface-distance", spacing=spacing)
    brats = score_segmentation(pred, ref, "brats2023-gli", spacing=spacing)
    for region, labels in REGIONS.items():
        p, r = np.isin(pred, labels), np.isin(ref, labels)
        dist = sd.compute_surface_distances(r, p, spacing)
        hd = sd.compute_robust_hausdorff(dist, 95)
        assert ours[region]["hd95"] == pytest.approx(hd, rel=1e-6)
        assert brats[region]["hd95"] == pytest.approx(hd, rel=1e-6)
        for tol in (1, 2):
            nsd = sd.compute_surface_dice_at_tolerance(dist, float(tol))
            assert ours[region][f"nsd@{tol}"] == pytest.approx(nsd, rel=1e-6)
        assert ours[region]["dice"] == pytest.approx(sd.compute_dice_coefficient(r, p), rel=1e-12)


def test_brats2021_labels_score_like_relabelled_brats2023() -> None:
    pred, ref = cases(30, labels=(4, 2, 1))
    old = score_segmentation(pred, ref, labels="brats2021")
    relabel = np.array([0, 1, 2, 0, 3])
    new = score_segmentation(relabel[pred], relabel[ref])
    assert old == new


def test_empty_regions_follow_each_profile_policy() -> None:
    ref = np.zeros(SHAPE, dtype=np.int64)
    ref[5:15, 5:15, 5:15] = 2  # edema only: TC and ET empty in the reference
    pred = ref.copy()
    pred[20:24, 20:24, 20:24] = 3  # a false-positive enhancing blob
    default = score_segmentation(pred, ref)
    assert default["TC"]["dice"] == 0.0
    assert math.isnan(default["TC"]["hd95"])
    brats = score_segmentation(pred, ref, "brats2023-gli")
    assert (brats["ET"]["dice"], brats["ET"]["hd95"]) == (0.0, 374.0)
    assert (brats["ET"]["lesion_dice"], brats["ET"]["lesion_hd95"]) == (0.0, 374.0)
    monai = score_segmentation(pred, ref, "monai")
    assert math.isnan(monai["ET"]["dice"])
    assert math.isnan(monai["ET"]["hd95"])
    both_empty = score_segmentation(ref, ref, "brats2023-gli")["ET"]
    assert (both_empty["dice"], both_empty["hd95"], both_empty["lesion_dice"]) == (1.0, 0.0, 1.0)
    with pytest.raises(EmptyMaskError, match=r"^TC: HD95"):
        score_segmentation(pred, ref, "medpy")


def test_brats_evaluation_reads_spacing_reversed_and_global_distances_in_voxels() -> None:
    pred, ref = cases(40)
    spacing = (1.0, 1.0, 3.0)
    flawed = score_segmentation(pred, ref, "brats-evaluation", spacing=spacing)
    in_voxels = score_segmentation(pred, ref, "brats-evaluation", spacing=(1.0, 1.0, 1.0))
    assert flawed["WT"]["hd95"] == in_voxels["WT"]["hd95"]
    assert flawed["WT"]["dice"] == in_voxels["WT"]["dice"]
    wt_pred, wt_ref = pred > 0, ref > 0
    reversed_axes = matched_lesion_scores(wt_pred, wt_ref, spacing=(3.0, 1.0, 1.0))
    true_axes = matched_lesion_scores(wt_pred, wt_ref, spacing=spacing)
    assert flawed["WT"]["lesion_hd95"] == reversed_axes.hd95
    assert reversed_axes.hd95 != true_axes.hd95


def test_bad_inputs_raise_specific_errors() -> None:
    pred, ref = cases(50)
    with pytest.raises(ShapeMismatchError):
        score_segmentation(pred[:-1], ref)
    with pytest.raises(UnknownLabelError, match="4"):
        score_segmentation(np.where(pred == 3, 4, pred), ref)

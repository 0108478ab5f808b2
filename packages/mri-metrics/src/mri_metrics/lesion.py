"""Lesion-wise scoring: the BraTS 2023 dilation-matching algorithm and one-to-one matching.

Two published algorithms decide which predicted connected component belongs to which reference
lesion, and they disagree on many realistic cases:

* **BraTS 2023** (the challenge's lesion-wise script): reference lesions are 26-connected
  components, merged when their dilations (18-connected structure, a few iterations) touch; every
  predicted component touching a lesion's dilation is matched to it, so one lesion can own many
  components and one component can serve several lesions. Each lesion is scored against the union
  of its components; a missed lesion scores Dice 0 / HD95 374 mm; lesions at or below a volume
  threshold are dropped, false positives never are and also score 0 / 374. The case score divides
  by (kept lesions + false positives), so false positives pull the mean down.
* **One-to-one matching** (panoptica, engine of brats-evaluation): components of both masks are
  paired by the Hungarian algorithm on ``1 - DSC`` among pairs whose DSC reaches a threshold;
  segmentation quality is the mean over true-positive pairs only, and detection is reported
  separately as TP/FP/FN counts, F1 (recognition quality) and panoptic quality.

Both work on the bounding box of the two masks (plus the dilation reach), never the full volume,
and the per-lesion distances come from :func:`mri_metrics.surface.hd95` on a crop around the
lesion (it pads the crop with background, so a lesion on the volume border keeps its surface).
A case with a dozen metastases thus costs little more than one with a single tumour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from mri_metrics._inputs import as_mask, as_spacing, check_same_shape
from mri_metrics.surface import HausdorffMethod, hd95

__all__ = [
    "BRATS2023_HD95_PENALTY",
    "BratsLesionResult",
    "LesionScore",
    "MatchedLesionResult",
    "MatchedPair",
    "brats2023_lesion_scores",
    "connected_components",
    "matched_lesion_scores",
]

#: HD95 (mm) the BraTS 2023 script gives a missed lesion or a false positive: the diagonal of
#: the 240 x 240 x 155 mm SRI24 volume, rounded up.
BRATS2023_HD95_PENALTY = 374.0

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
Slices = tuple[slice, ...]


@dataclass(frozen=True)
class LesionScore:
    """One reference lesion under the BraTS 2023 algorithm.

    Attributes:
        lesion_id: label of the (dilation-merged) lesion, numbered in raster order from 1.
        volume_mm3: reference voxels of the lesion times the voxel volume.
        matched: labels of the predicted components touching the lesion's dilation.
        dice: Dice of the lesion against the union of ``matched`` (0 when nothing matched).
        hd95: surfel-weighted robust HD95 in mm (the penalty when nothing matched).
        counted: False when the lesion is at or below the volume threshold and so dropped.
    """

    lesion_id: int
    volume_mm3: float
    matched: tuple[int, ...]
    dice: float
    hd95: float
    counted: bool


@dataclass(frozen=True)
class BratsLesionResult:
    """Case-level BraTS 2023 lesion-wise score with the per-lesion detail behind it.

    ``dice`` and ``hd95`` are ``sum / (counted lesions + false positives)`` with each false
    positive contributing 0 and the penalty; with nothing to count they are 1.0 and 0.0.
    """

    dice: float
    hd95: float
    lesions: tuple[LesionScore, ...]
    false_positives: tuple[int, ...]


@dataclass(frozen=True)
class MatchedPair:
    """A reference lesion paired one-to-one with a predicted component."""

    ref_id: int
    pred_id: int
    volume_mm3: float
    dice: float
    iou: float
    hd95: float


@dataclass(frozen=True)
class MatchedLesionResult:
    """One-to-one lesion matching: segmentation quality over true positives, detection counts.

    ``dice``, ``iou`` and ``hd95`` are means over the true-positive pairs (NaN when there are
    none: undefined, not zero). ``f1`` is recognition quality ``tp / (tp + (fp + fn) / 2)`` and
    ``panoptic_quality`` its product with the mean IoU; both are NaN when neither mask has a
    lesion and 0 when one has lesions but nothing matched.
    """

    pairs: tuple[MatchedPair, ...]
    unmatched_ref: tuple[int, ...]
    unmatched_pred: tuple[int, ...]
    dice: float
    iou: float
    hd95: float
    f1: float
    panoptic_quality: float

    @property
    def tp(self) -> int:
        return len(self.pairs)

    @property
    def fp(self) -> int:
        return len(self.unmatched_pred)

    @property
    def fn(self) -> int:
        return len(self.unmatched_ref)


def connected_components(mask: BoolArray) -> tuple[IntArray, int]:
    """Label the fully connected components (26-connected in 3D) of ``mask`` in raster order.

    Both reference implementations use cc3d's default 26-connectivity; scipy's labelling with
    the full structure yields the same components in the same raster numbering.
    """
    structure = ndimage.generate_binary_structure(mask.ndim, mask.ndim)
    labels, count = ndimage.label(mask, structure=structure, output=np.int64)
    return labels, int(count)


def _inputs(
    pred: npt.ArrayLike, ref: npt.ArrayLike, spacing: float | Sequence[float] | None
) -> tuple[BoolArray, BoolArray, tuple[float, ...]]:
    p = as_mask(pred, "pred")
    r = as_mask(ref, "ref")
    check_same_shape(p, r, ("pred", "ref"))
    return p, r, as_spacing(spacing, p.ndim)


def _crop_box(mask: BoolArray, margin: int) -> Slices | None:
    """Bounding box of ``mask`` grown by ``margin`` voxels, clipped to the array; None if empty."""
    if not mask.any():
        return None
    box = []
    for axis in range(mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(mask.any(axis=others))
        box.append(
            slice(max(int(hits[0]) - margin, 0), min(int(hits[-1]) + margin + 1, mask.shape[axis]))
        )
    return tuple(box)


def _union_box(a: Slices | None, b: Slices | None) -> Slices:
    if a is None or b is None:
        known = a if b is None else b
        assert known is not None
        return known
    pairs = zip(a, b, strict=True)
    return tuple(slice(min(x.start, y.start), max(x.stop, y.stop)) for x, y in pairs)


def brats2023_lesion_scores(
    pred: npt.ArrayLike,
    ref: npt.ArrayLike,
    *,
    spacing: float | Sequence[float] | None = None,
    dilation_iterations: int = 3,
    volume_threshold_mm3: float = 50.0,
    penalty_hd95: float = BRATS2023_HD95_PENALTY,
) -> BratsLesionResult:
    """Score ``pred`` against ``ref`` with the BraTS 2023 lesion-wise algorithm.

    Args:
        pred, ref: boolean masks of one region (WT, TC or ET).
        spacing: voxel size in mm per axis; volumes and distances are in mm.
        dilation_iterations: 3 for GLI, SSA and PED; 1 for MEN and MET.
        volume_threshold_mm3: lesions with a volume at or below this are dropped
            (50 for GLI, SSA, PED and MEN; 2 for MET).
        penalty_hd95: HD95 of a missed lesion or a false positive.
    """
    p, r, sp = _inputs(pred, ref, spacing)
    if dilation_iterations < 0:
        raise ValueError(f"dilation_iterations must be >= 0, got {dilation_iterations}")
    voxel_volume = math.prod(sp)
    box = _crop_box(p | r, dilation_iterations)
    if box is None:
        return BratsLesionResult(dice=1.0, hd95=0.0, lesions=(), false_positives=())
    # Dilation cannot leave the box: it was grown by the dilation reach (or hits the volume
    # border, beyond which scipy's dilation also stops).
    p, r = p[box], r[box]
    pred_cc, n_pred = connected_components(p)
    structure = ndimage.generate_binary_structure(r.ndim, min(2, r.ndim))
    dilated = (
        ndimage.binary_dilation(r, structure=structure, iterations=dilation_iterations)
        if dilation_iterations
        else r
    )
    # A component of the dilated mask is exactly the dilation of the reference voxels inside
    # it (each voxel's dilation is connected), so it is both the merged lesion's extent and the
    # zone in which a predicted component counts as matched.
    zone_cc, n_zones = connected_components(dilated)
    lesion_cc = np.where(r, zone_cc, 0)
    lesion_voxels = np.bincount(lesion_cc.ravel(), minlength=n_zones + 1)
    touching = (pred_cc > 0) & (zone_cc > 0)
    pairs = np.unique(zone_cc[touching] * (n_pred + 1) + pred_cc[touching])
    matched: dict[int, list[int]] = {}
    for code in pairs.tolist():
        matched.setdefault(code // (n_pred + 1), []).append(code % (n_pred + 1))
    zone_boxes = ndimage.find_objects(zone_cc)
    pred_boxes = ndimage.find_objects(pred_cc)

    lesions = []
    for lesion_id in range(1, n_zones + 1):
        volume = float(lesion_voxels[lesion_id]) * voxel_volume
        comps = tuple(matched.get(lesion_id, ()))
        if not comps:
            lesions.append(
                LesionScore(lesion_id, volume, (), 0.0, penalty_hd95, volume > volume_threshold_mm3)
            )
            continue
        zone_box = zone_boxes[lesion_id - 1]
        assert zone_box is not None
        for comp in comps:
            comp_box = pred_boxes[comp - 1]
            assert comp_box is not None
            zone_box = _union_box(zone_box, comp_box)
        lesion = lesion_cc[zone_box] == lesion_id
        union = np.isin(pred_cc[zone_box], comps)
        inter = int(np.count_nonzero(lesion & union))
        dice = 2 * inter / (int(lesion_voxels[lesion_id]) + int(np.count_nonzero(union)))
        distance = hd95(union, lesion, spacing=sp, method="surfel")
        lesions.append(
            LesionScore(lesion_id, volume, comps, dice, distance, volume > volume_threshold_mm3)
        )
    used = {c for comps in matched.values() for c in comps}
    false_positives = tuple(c for c in range(1, n_pred + 1) if c not in used)
    counted = [lesion for lesion in lesions if lesion.counted]
    n = len(counted) + len(false_positives)
    if n == 0:
        return BratsLesionResult(1.0, 0.0, tuple(lesions), false_positives)
    dice_score = sum(lesion.dice for lesion in counted) / n
    hd_score = (sum(lesion.hd95 for lesion in counted) + penalty_hd95 * len(false_positives)) / n
    return BratsLesionResult(dice_score, hd_score, tuple(lesions), false_positives)


def matched_lesion_scores(
    pred: npt.ArrayLike,
    ref: npt.ArrayLike,
    *,
    spacing: float | Sequence[float] | None = None,
    matching_threshold: float = 0.0,
    hd95_method: HausdorffMethod = "pooled",
) -> MatchedLesionResult:
    """Pair lesions one-to-one (Hungarian on ``1 - DSC``) and score the true positives.

    A pair is eligible when the components overlap and their DSC is at least
    ``matching_threshold`` (panoptica's non-strict comparison); among eligible pairs the
    assignment maximises the summed DSC, as panoptica's ``MaxBipartiteMatching`` does.

    Args:
        pred, ref: boolean masks of one region.
        spacing: voxel size in mm per axis, used for volumes and HD95.
        matching_threshold: minimum DSC of an eligible pair.
        hd95_method: HD95 variant of each pair (see :func:`mri_metrics.surface.hd95`);
            panoptica uses ``"pooled"`` on border voxels.
    """
    p, r, sp = _inputs(pred, ref, spacing)
    voxel_volume = math.prod(sp)
    box = _crop_box(p | r, 0)
    if box is None:
        nan = math.nan
        return MatchedLesionResult((), (), (), nan, nan, nan, nan, nan)
    p, r = p[box], r[box]
    pred_cc, n_pred = connected_components(p)
    ref_cc, n_ref = connected_components(r)
    pred_size = np.bincount(pred_cc.ravel(), minlength=n_pred + 1)
    ref_size = np.bincount(ref_cc.ravel(), minlength=n_ref + 1)
    both = (pred_cc > 0) & (ref_cc > 0)
    codes, inter = np.unique(ref_cc[both] * (n_pred + 1) + pred_cc[both], return_counts=True)
    ref_idx, pred_idx = codes // (n_pred + 1), codes % (n_pred + 1)
    dsc = 2 * inter / (ref_size[ref_idx] + pred_size[pred_idx])
    # Same cost matrix as panoptica: ineligible pairs cost just above 1 and are discarded.
    cost = np.full((n_ref, n_pred), 1.0 + 1e-6)
    eligible = dsc >= matching_threshold
    cost[ref_idx[eligible] - 1, pred_idx[eligible] - 1] = 1.0 - dsc[eligible]
    rows, cols = linear_sum_assignment(cost) if n_ref and n_pred else ((), ())
    ref_boxes = ndimage.find_objects(ref_cc)
    pred_boxes = ndimage.find_objects(pred_cc)
    pairs = []
    for i, j in zip(rows, cols, strict=True):
        if cost[i, j] >= 1.0:
            continue
        rid, pid = int(i) + 1, int(j) + 1
        pair_box = _union_box(ref_boxes[rid - 1], pred_boxes[pid - 1])
        overlap = int(inter[(ref_idx == rid) & (pred_idx == pid)][0])
        total = int(ref_size[rid]) + int(pred_size[pid])
        distance = hd95(
            pred_cc[pair_box] == pid, ref_cc[pair_box] == rid, spacing=sp, method=hd95_method
        )
        pairs.append(
            MatchedPair(
                ref_id=rid,
                pred_id=pid,
                volume_mm3=float(ref_size[rid]) * voxel_volume,
                dice=2 * overlap / total,
                iou=overlap / (total - overlap),
                hd95=distance,
            )
        )
    matched_ref = {pair.ref_id for pair in pairs}
    matched_pred = {pair.pred_id for pair in pairs}
    unmatched_ref = tuple(i for i in range(1, n_ref + 1) if i not in matched_ref)
    unmatched_pred = tuple(j for j in range(1, n_pred + 1) if j not in matched_pred)
    tp = len(pairs)
    f1 = tp / (tp + 0.5 * (len(unmatched_ref) + len(unmatched_pred)))
    if tp:
        mean_dice = float(np.mean([pair.dice for pair in pairs]))
        mean_iou = float(np.mean([pair.iou for pair in pairs]))
        mean_hd95 = float(np.mean([pair.hd95 for pair in pairs]))
    else:
        mean_dice = mean_iou = mean_hd95 = math.nan
    pq = f1 * mean_iou if tp else 0.0
    return MatchedLesionResult(
        tuple(pairs), unmatched_ref, unmatched_pred, mean_dice, mean_iou, mean_hd95, f1, pq
    )

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

Both work on the bounding box of the two masks, never the full volume; inside it, components
are labelled (and the BraTS 2023 dilation computed) only in the boxes that hold voxels
(:mod:`mri_metrics._boxes`, :mod:`mri_metrics._components`), so far-apart lesions do not make
the empty space between them cost anything. The per-lesion distances come from
:func:`mri_metrics.surface.surface_distances` on a crop around the lesion (it pads the crop with
background, so a lesion on the volume border keeps its surface). A case with a dozen metastases
thus costs little more than one with a single tumour.

When one lesion is scored against the whole prediction (a single reference lesion whose
matched components are all the predicted ones; a single one-to-one pair of single components),
its masks are the whole region's masks, and distances already computed for the whole region
(``region_distances``, same surface and spacing) are the lesion's, to the last bit: surface
distances depend only on the masks, not on the crop they are computed in. They are reused then.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from mri_metrics._boxes import bounding_box, box_union, separated_boxes
from mri_metrics._components import Components, label_pieces
from mri_metrics._inputs import as_mask, as_spacing, check_same_shape
from mri_metrics.surface import HausdorffMethod, Surface, SurfaceDistances, surface_distances

__all__ = [
    "BRATS2023_HD95_PENALTY",
    "BRATS_EVALUATION_HD95_PENALTY",
    "BratsLesionResult",
    "LesionScore",
    "MatchedLesionResult",
    "MatchedPair",
    "MetsLesionResult",
    "brats2023_lesion_scores",
    "brats_mets_scores",
    "connected_components",
    "matched_lesion_scores",
]

#: HD95 (mm) the BraTS 2023 script gives a missed lesion or a false positive: the diagonal of
#: the 240 x 240 x 155 mm SRI24 volume, rounded up.
BRATS2023_HD95_PENALTY = 374.0
#: HD95 (mm) brats-evaluation's result parsers put in place of infinity (a distance to an empty
#: mask) and give a missed large lesion or a false positive in the ``mets`` parser.
BRATS_EVALUATION_HD95_PENALTY = 373.0

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int32]
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
    nsd: float = math.nan


@dataclass(frozen=True)
class MatchedLesionResult:
    """One-to-one lesion matching: segmentation quality over true positives, detection counts.

    ``dice``, ``iou``, ``hd95`` and ``nsd`` are means over the true-positive pairs (NaN when
    there are none: undefined, not zero; ``nsd`` is NaN unless a tolerance was asked for).
    ``ref_volumes_mm3[i - 1]`` is the volume of reference lesion ``i``. ``f1`` is recognition
    quality ``tp / (tp + (fp + fn) / 2)`` and ``panoptic_quality`` its product with the mean
    IoU; both are NaN when neither mask has a lesion and 0 when one has lesions but nothing
    matched.
    """

    pairs: tuple[MatchedPair, ...]
    unmatched_ref: tuple[int, ...]
    unmatched_pred: tuple[int, ...]
    dice: float
    iou: float
    hd95: float
    f1: float
    panoptic_quality: float
    nsd: float = math.nan
    ref_volumes_mm3: tuple[float, ...] = ()

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
    the full structure yields the same components in the same raster numbering, whether it
    labels the whole mask or, as here, each occupied box of it.
    """
    components = _components(mask)
    return components.labels, components.count


def _components(mask: BoolArray) -> Components:
    """:func:`connected_components` with each component's bounding box, box by occupied box."""
    structure = ndimage.generate_binary_structure(mask.ndim, mask.ndim)
    return label_pieces(mask.shape, separated_boxes(mask), mask.__getitem__, structure)


def _dilation_zones(ref: BoolArray, iterations: int) -> Components:
    """Components of ``_dilate_edges(ref, iterations)``, dilating only around ``ref``'s voxels.

    Reference voxels more than ``2 * iterations + 1`` apart along some axis have dilations
    that neither overlap nor touch, so each box of :func:`separated_boxes` with that gap,
    grown by the dilation's reach, is dilated and labelled alone.
    """
    structure = ndimage.generate_binary_structure(ref.ndim, ref.ndim)

    def grown(box: Slices) -> Slices:
        pairs = zip(box, ref.shape, strict=True)
        return tuple(
            slice(max(s.start - iterations, 0), min(s.stop + iterations, n)) for s, n in pairs
        )

    boxes = [grown(box) for box in separated_boxes(ref, gap=2 * iterations)]
    return label_pieces(
        ref.shape, boxes, lambda box: _dilate_edges(ref[box], iterations), structure
    )


def _shift_or(mask: BoolArray, axis: int) -> BoolArray:
    """``mask`` dilated by one voxel along ``axis`` only, with background beyond the array."""
    out = mask.copy()
    head = [slice(None)] * mask.ndim
    tail = [slice(None)] * mask.ndim
    head[axis], tail[axis] = slice(1, None), slice(None, -1)
    out[tuple(head)] |= mask[tuple(tail)]
    out[tuple(tail)] |= mask[tuple(head)]
    return out


def _dilate_edges(mask: BoolArray, iterations: int) -> BoolArray:
    """Binary dilation with the edge-connected structure (18-connected in 3D), ``iterations`` times.

    Equal to ``scipy.ndimage.binary_dilation(mask, generate_binary_structure(ndim, 2),
    iterations)``, the BraTS 2023 script's dilation, but several times faster: that structure
    is the union over axis pairs of the 3x3 square in their plane, and each square is two
    one-voxel dilations along an axis, so one iteration is a handful of shifted ORs.
    """
    out = mask
    for _ in range(iterations):
        if out.ndim == 1:
            out = _shift_or(out, 0)
            continue
        grown = np.zeros_like(out)
        for first in range(out.ndim - 1):
            along_first = _shift_or(out, first)
            for second in range(first + 1, out.ndim):
                grown |= _shift_or(along_first, second)
        out = grown
    return out


def _inputs(
    pred: npt.ArrayLike, ref: npt.ArrayLike, spacing: float | Sequence[float] | None
) -> tuple[BoolArray, BoolArray, tuple[float, ...]]:
    p = as_mask(pred, "pred")
    r = as_mask(ref, "ref")
    check_same_shape(p, r, ("pred", "ref"))
    return p, r, as_spacing(spacing, p.ndim)


def _reusable(
    region_distances: SurfaceDistances | None, surface: Surface, spacing: tuple[float, ...]
) -> SurfaceDistances | None:
    """``region_distances`` if they were measured on ``surface`` with ``spacing``, else None."""
    if region_distances is None:
        return None
    if region_distances.surface != surface or region_distances.spacing != spacing:
        return None
    return region_distances


def brats2023_lesion_scores(
    pred: npt.ArrayLike,
    ref: npt.ArrayLike,
    *,
    spacing: float | Sequence[float] | None = None,
    dilation_iterations: int = 3,
    volume_threshold_mm3: float = 50.0,
    penalty_hd95: float = BRATS2023_HD95_PENALTY,
    region_distances: SurfaceDistances | None = None,
) -> BratsLesionResult:
    """Score ``pred`` against ``ref`` with the BraTS 2023 lesion-wise algorithm.

    Args:
        pred, ref: boolean masks of one region (WT, TC or ET).
        spacing: voxel size in mm per axis; volumes and distances are in mm.
        dilation_iterations: 3 for GLI, SSA and PED; 1 for MEN and MET.
        volume_threshold_mm3: lesions with a volume at or below this are dropped
            (50 for GLI, SSA, PED and MEN; 2 for MET).
        penalty_hd95: HD95 of a missed lesion or a false positive.
        region_distances: ``surface_distances(pred, ref, spacing=spacing, surface="surfel")``
            if the caller has it already; a lesion whose masks are the whole masks reuses it.
            Distances measured on another surface or with another spacing are ignored.
    """
    p, r, sp = _inputs(pred, ref, spacing)
    whole = _reusable(region_distances, "surfel", sp)
    if dilation_iterations < 0:
        raise ValueError(f"dilation_iterations must be >= 0, got {dilation_iterations}")
    voxel_volume = math.prod(sp)
    box = bounding_box(p | r)
    if box is None:
        return BratsLesionResult(dice=1.0, hd95=0.0, lesions=(), false_positives=())
    # The dilation may be clipped to the bounding box of both masks without changing a result.
    # Clamping a voxel into the box moves it no farther from any reference voxel along any
    # axis, so the clamped voxel lies in the dilation of every reference voxel whose dilation
    # held the original, and clamping keeps 26-neighbours 26-adjacent (or equal): two lesions'
    # dilations that touch or connect outside the box also do so inside it. Predicted voxels
    # all lie inside, so matching is unchanged too.
    p, r = p[box], r[box]
    preds = _components(p)
    pred_cc, n_pred, pred_boxes = preds.labels, preds.count, preds.boxes
    # A component of the dilated mask is exactly the dilation of the reference voxels inside
    # it (each voxel's dilation is connected), so it is both the merged lesion's extent and the
    # zone in which a predicted component counts as matched.
    zones = _dilation_zones(r, dilation_iterations)
    zone_cc, n_zones, zone_boxes = zones.labels, zones.count, zones.boxes
    zone_flat, pred_flat = zone_cc.ravel(), pred_cc.ravel()
    lesion_voxels = np.bincount(zone_flat[np.flatnonzero(r)], minlength=n_zones + 1)
    touching = np.flatnonzero(p & (zone_cc > 0))
    pairs = np.unique(zone_flat[touching].astype(np.int64) * (n_pred + 1) + pred_flat[touching])
    matched: dict[int, list[int]] = {}
    for code in pairs.tolist():
        matched.setdefault(code // (n_pred + 1), []).append(code % (n_pred + 1))

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
        for comp in comps:
            zone_box = box_union(zone_box, pred_boxes[comp - 1])
        lesion = (zone_cc[zone_box] == lesion_id) & r[zone_box]
        union = np.isin(pred_cc[zone_box], comps)
        inter = int(np.count_nonzero(lesion & union))
        dice = 2 * inter / (int(lesion_voxels[lesion_id]) + int(np.count_nonzero(union)))
        if whole is not None and n_zones == 1 and len(comps) == n_pred:
            # The only lesion holds every reference voxel and its components every predicted
            # one: its masks are the region's, and so are its distances.
            distance = whole.hausdorff(95.0, "surfel")
        else:
            distance = surface_distances(union, lesion, spacing=sp, surface="surfel").hausdorff(
                95.0, "surfel"
            )
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
    nsd_tolerance_mm: float | None = None,
    region_distances: SurfaceDistances | None = None,
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
        nsd_tolerance_mm: also score each pair's normalised surface Dice at this tolerance
            (mean of the two directed fractions on border voxels, as panoptica computes it).
        region_distances: ``surface_distances(pred, ref, spacing=spacing, surface=...)`` on
            the surface ``hd95_method`` needs, if the caller has it already; reused when the
            only pair is the only reference lesion with the only predicted component.
    """
    p, r, sp = _inputs(pred, ref, spacing)
    surface: Surface = "surfel" if hd95_method == "surfel" else "voxel"
    whole = _reusable(region_distances, surface, sp)
    voxel_volume = math.prod(sp)
    box = bounding_box(p | r)
    if box is None:
        nan = math.nan
        return MatchedLesionResult((), (), (), nan, nan, nan, nan, nan, nan, ())
    p, r = p[box], r[box]
    preds, refs = _components(p), _components(r)
    pred_cc, n_pred, pred_boxes = preds.labels, preds.count, preds.boxes
    ref_cc, n_ref, ref_boxes = refs.labels, refs.count, refs.boxes
    pred_size = np.array([0, *preds.sizes], dtype=np.int64)
    ref_size = np.array([0, *refs.sizes], dtype=np.int64)
    both = np.flatnonzero(p & r)
    codes, inter = np.unique(
        ref_cc.ravel()[both].astype(np.int64) * (n_pred + 1) + pred_cc.ravel()[both],
        return_counts=True,
    )
    ref_idx, pred_idx = codes // (n_pred + 1), codes % (n_pred + 1)
    dsc = 2 * inter / (ref_size[ref_idx] + pred_size[pred_idx])
    # Same cost matrix as panoptica: ineligible pairs cost just above 1 and are discarded.
    cost = np.full((n_ref, n_pred), 1.0 + 1e-6)
    eligible = dsc >= matching_threshold
    cost[ref_idx[eligible] - 1, pred_idx[eligible] - 1] = 1.0 - dsc[eligible]
    rows, cols = linear_sum_assignment(cost) if n_ref and n_pred else ((), ())
    pairs = []
    for i, j in zip(rows, cols, strict=True):
        if cost[i, j] >= 1.0:
            continue
        rid, pid = int(i) + 1, int(j) + 1
        pair_box = box_union(ref_boxes[rid - 1], pred_boxes[pid - 1])
        overlap = int(inter[(ref_idx == rid) & (pred_idx == pid)][0])
        total = int(ref_size[rid]) + int(pred_size[pid])
        if whole is not None and n_ref == 1 and n_pred == 1:
            distances = whole
        else:
            distances = surface_distances(
                pred_cc[pair_box] == pid, ref_cc[pair_box] == rid, spacing=sp, surface=surface
            )
        pairs.append(
            MatchedPair(
                ref_id=rid,
                pred_id=pid,
                volume_mm3=float(ref_size[rid]) * voxel_volume,
                dice=2 * overlap / total,
                iou=overlap / (total - overlap),
                hd95=distances.hausdorff(95.0, hd95_method),
                nsd=(
                    math.nan
                    if nsd_tolerance_mm is None
                    else distances.nsd(nsd_tolerance_mm, "mean-directed")
                ),
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
        mean_nsd = float(np.mean([pair.nsd for pair in pairs]))
    else:
        mean_dice = mean_iou = mean_hd95 = mean_nsd = math.nan
    pq = f1 * mean_iou if tp else 0.0
    volumes = tuple(float(v) * voxel_volume for v in ref_size[1:].tolist())
    return MatchedLesionResult(
        tuple(pairs),
        unmatched_ref,
        unmatched_pred,
        mean_dice,
        mean_iou,
        mean_hd95,
        f1,
        pq,
        nsd=mean_nsd,
        ref_volumes_mm3=volumes,
    )


@dataclass(frozen=True)
class MetsLesionResult:
    """brats-evaluation's ``mets`` scoring: one-to-one matching, split by lesion size.

    Reference lesions with a volume of at least the threshold are *large*. The segmentation
    scores average over a list holding each matched large lesion's DSC / HD95 / NSD, and a
    0 / penalty / 0 entry for every missed large lesion and for every false positive (any
    size); HD95 averages only its finite entries. They are NaN when the reference has no
    large lesion. Detection: a matched lesion is a true positive when its DSC reaches the
    overlap threshold, otherwise a false negative, like a missed one; the F1 scores are
    ``2 tp / (2 tp + fp + fn)`` (0 when that is 0/0), computed separately for large and small
    lesions with all false positives in both, and NaN when there are no lesions of that size.
    """

    matched: MatchedLesionResult
    dice: float
    hd95: float
    nsd: float
    large_tp: float
    large_fp: float
    large_fn: float
    large_f1: float
    small_tp: float
    small_fp: float
    small_fn: float
    small_f1: float


def _detection(tp: int, fp: int, fn: int, present: bool) -> tuple[float, float, float, float]:
    if not present:
        return math.nan, math.nan, math.nan, math.nan
    denominator = 2 * tp + fp + fn
    return float(tp), float(fp), float(fn), (2 * tp / denominator if denominator else 0.0)


def brats_mets_scores(
    pred: npt.ArrayLike,
    ref: npt.ArrayLike,
    *,
    spacing: float | Sequence[float] | None = None,
    volume_threshold_mm3: float = 27.0,
    overlap_threshold: float = 0.2,
    penalty_hd95: float = BRATS_EVALUATION_HD95_PENALTY,
    matching_threshold: float = 1e-6,
    nsd_tolerance_mm: float | None = None,
    region_distances: SurfaceDistances | None = None,
) -> MetsLesionResult:
    """Score one region as brats-evaluation's ``mets`` result parser does.

    Args:
        pred, ref: boolean masks of one region.
        spacing: voxel size in mm per axis.
        volume_threshold_mm3: reference lesions of at least this volume are large (27 in the
            BraTS metastasis challenge's scorer).
        overlap_threshold: minimum DSC of a matched lesion to count as detected (0.2 there).
        penalty_hd95: HD95 of a missed large lesion or a false positive.
        matching_threshold: minimum DSC of a matchable pair (brats-evaluation 0.0.10's
            configurations use ``1e-6``).
        nsd_tolerance_mm: NSD tolerance per lesion; default the finest voxel spacing, which is
            what panoptica uses when given the spacing.
        region_distances: border-voxel distances of the whole masks, if the caller has them
            (see :func:`matched_lesion_scores`).
    """
    p, r, sp = _inputs(pred, ref, spacing)
    tolerance = min(sp) if nsd_tolerance_mm is None else nsd_tolerance_mm
    matched = matched_lesion_scores(
        p,
        r,
        spacing=sp,
        matching_threshold=matching_threshold,
        hd95_method="pooled",
        nsd_tolerance_mm=tolerance,
        region_distances=region_distances,
    )
    by_ref = {pair.ref_id: pair for pair in matched.pairs}
    dices: list[float] = []
    distances: list[float] = []
    nsds: list[float] = []
    large = {"tp": 0, "fn": 0, "present": False}
    small = {"tp": 0, "fn": 0, "present": False}
    for ref_id, volume in enumerate(matched.ref_volumes_mm3, start=1):
        is_large = volume >= volume_threshold_mm3
        counts = large if is_large else small
        counts["present"] = True
        pair = by_ref.get(ref_id)
        detected = pair is not None and pair.dice >= overlap_threshold
        counts["tp" if detected else "fn"] += 1
        if is_large:
            dices.append(pair.dice if pair else 0.0)
            distances.append(pair.hd95 if pair else penalty_hd95)
            nsds.append(pair.nsd if pair else 0.0)
    dices += [0.0] * matched.fp
    distances += [penalty_hd95] * matched.fp
    nsds += [0.0] * matched.fp
    if large["present"]:
        finite = [d for d in distances if math.isfinite(d)]
        dice = float(np.mean(dices))
        hd = float(np.mean(finite)) if finite else penalty_hd95
        nsd = float(np.mean(nsds))
    else:
        dice = hd = nsd = math.nan
    return MetsLesionResult(
        matched,
        dice,
        hd,
        nsd,
        *_detection(int(large["tp"]), matched.fp, int(large["fn"]), bool(large["present"])),
        *_detection(int(small["tp"]), matched.fp, int(small["fn"]), bool(small["present"])),
    )

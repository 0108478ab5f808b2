"""Score a label map against a reference under a named profile: the one call most users need.

For each region of the profile's label convention the result holds

* ``dice``: full-region Dice;
* ``hd95``: full-region 95th-percentile Hausdorff distance (mm; voxels for a profile that
  ignores spacing);
* ``nsd@<t>``: normalised surface Dice at tolerance ``t`` mm, one key per profile tolerance
  (``nsd@1``, ``nsd@2`` for most profiles);
* with a lesion-wise algorithm, ``lesion_dice`` and ``lesion_hd95``, plus ``lesion_tp``,
  ``lesion_fp`` and ``lesion_fn`` (counted lesions detected / false-positive components /
  counted lesions missed); the one-to-one algorithm adds ``lesion_f1`` and ``lesion_pq``,
  the brats-evaluation profiles ``lesion_nsd``, and the ``mets`` parser ``lesion_f1`` for large
  lesions and ``small_lesion_tp``, ``_fp``, ``_fn``, ``_f1``.

Empty masks get the profile's :class:`~mri_metrics.profiles.EmptyPolicy` answers. One surface
distance computation per region feeds HD95 and every NSD tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from mri_metrics._boxes import bounding_box
from mri_metrics._inputs import as_spacing, check_same_shape
from mri_metrics.lesion import brats2023_lesion_scores, brats_mets_scores, matched_lesion_scores
from mri_metrics.profiles import EmptyMaskError, EmptyPolicy, LesionSettings, Profile, get_profile
from mri_metrics.regions import LabelConvention, region_masks
from mri_metrics.surface import SurfaceDistances, surface_distances

__all__ = ["score_region", "score_segmentation"]


def _nsd_key(tolerance: float) -> str:
    return f"nsd@{tolerance:g}"


def _empty_value(value: float | None, what: str, region: str, profile: Profile) -> float:
    if value is None:
        raise EmptyMaskError(
            f"{region}: {what} with an empty mask is undefined under profile {profile.name!r} "
            "(the peer raises); choose another profile to score empty regions"
        )
    return value


def _empty_scores(
    n_pred: int, n_ref: int, policy: EmptyPolicy, profile: Profile, region: str
) -> dict[str, float]:
    """The policy's answers for an empty mask (or, where the policy says so, disjoint masks)."""
    both = n_pred == 0 and n_ref == 0
    if both:
        dice = policy.dice_both
    elif n_ref == 0:
        dice = policy.dice_ref_empty
    elif n_pred == 0:
        dice = policy.dice_pred_empty
    else:
        dice = 0.0
    hd = _empty_value(policy.hd95_both if both else policy.hd95_one, "HD95", region, profile)
    scores = {"dice": dice, "hd95": hd}
    for tol in profile.nsd_tolerances_mm:
        scores[_nsd_key(tol)] = policy.nsd_both if both else policy.nsd_one
    return scores


def _lesion_scores(
    pred: npt.NDArray[np.bool_],
    ref: npt.NDArray[np.bool_],
    spacing: tuple[float, ...],
    settings: LesionSettings,
    region_distances: SurfaceDistances | None,
) -> dict[str, float]:
    if settings.algorithm == "brats2023":
        result = brats2023_lesion_scores(
            pred,
            ref,
            spacing=spacing,
            dilation_iterations=settings.dilation_iterations,
            volume_threshold_mm3=settings.volume_threshold_mm3,
            penalty_hd95=settings.penalty_hd95,
            region_distances=region_distances,
        )
        counted = [lesion for lesion in result.lesions if lesion.counted]
        detected = sum(1 for lesion in counted if lesion.matched)
        return {
            "lesion_dice": result.dice,
            "lesion_hd95": result.hd95,
            "lesion_tp": float(detected),
            "lesion_fp": float(len(result.false_positives)),
            "lesion_fn": float(len(counted) - detected),
        }
    if settings.algorithm == "mets":
        mets = brats_mets_scores(
            pred,
            ref,
            spacing=spacing,
            volume_threshold_mm3=settings.volume_threshold_mm3,
            overlap_threshold=settings.overlap_threshold,
            penalty_hd95=settings.penalty_hd95,
            matching_threshold=settings.matching_threshold,
            region_distances=region_distances,
        )
        return {
            "lesion_dice": mets.dice,
            "lesion_hd95": mets.hd95,
            "lesion_nsd": mets.nsd,
            "lesion_tp": mets.large_tp,
            "lesion_fp": mets.large_fp,
            "lesion_fn": mets.large_fn,
            "lesion_f1": mets.large_f1,
            "small_lesion_tp": mets.small_tp,
            "small_lesion_fp": mets.small_fp,
            "small_lesion_fn": mets.small_fn,
            "small_lesion_f1": mets.small_f1,
        }
    matched = matched_lesion_scores(
        pred,
        ref,
        spacing=spacing,
        matching_threshold=settings.matching_threshold,
        hd95_method=settings.hd95_method,
        nsd_tolerance_mm=min(spacing) if settings.lesion_nsd else None,
        region_distances=region_distances,
    )
    no_tp = matched.tp == 0 and matched.fp + matched.fn > 0
    scores = {
        "lesion_dice": settings.no_tp_dice if no_tp else matched.dice,
        "lesion_hd95": settings.no_tp_hd95 if no_tp else matched.hd95,
    }
    if settings.lesion_nsd:
        scores["lesion_nsd"] = settings.no_tp_nsd if no_tp else matched.nsd
    scores.update(
        {
            "lesion_tp": float(matched.tp),
            "lesion_fp": float(matched.fp),
            "lesion_fn": float(matched.fn),
            "lesion_f1": matched.f1,
            "lesion_pq": matched.panoptic_quality,
        }
    )
    return scores


def score_region(
    pred: npt.NDArray[np.bool_],
    ref: npt.NDArray[np.bool_],
    *,
    spacing: tuple[float, ...],
    profile: Profile,
    region: str = "region",
) -> dict[str, float]:
    """Score one region's boolean masks under ``profile`` (spacing already in array axis order).

    ``spacing`` is used as given for lesion-wise distances and for the full-region ones unless
    the profile measures those in voxels.
    """
    global_spacing = spacing if profile.global_spacing else (1.0,) * pred.ndim
    n_pred, n_ref = int(np.count_nonzero(pred)), int(np.count_nonzero(ref))
    inter = int(np.count_nonzero(pred & ref))
    disjoint = inter == 0 and profile.empty.disjoint_as_one_empty
    distances = None
    if n_pred == 0 or n_ref == 0 or disjoint:
        scores = _empty_scores(n_pred, n_ref, profile.empty, profile, region)
    else:
        distances = surface_distances(pred, ref, spacing=global_spacing, surface=profile.surface)
        scores = {
            "dice": 2 * inter / (n_pred + n_ref),
            "hd95": distances.hausdorff(95.0, profile.hd95_method),
        }
        for tol in profile.nsd_tolerances_mm:
            scores[_nsd_key(tol)] = distances.nsd(tol, profile.nsd_method)
    if profile.lesion is not None:
        # A lesion that is the whole region reuses these distances where surface and spacing
        # agree (see mri_metrics.lesion).
        scores.update(_lesion_scores(pred, ref, spacing, profile.lesion, distances))
    return scores


def score_segmentation(
    pred: npt.ArrayLike,
    ref: npt.ArrayLike,
    profile: str | Profile = "mri-suite",
    spacing: float | Sequence[float] | None = None,
    labels: str | LabelConvention | None = None,
) -> dict[str, dict[str, float]]:
    """Score label map ``pred`` against label map ``ref``, region by region.

    Args:
        pred, ref: integer label maps of the same shape.
        profile: a profile name from :data:`mri_metrics.profiles.PROFILES` or a
            :class:`~mri_metrics.profiles.Profile`.
        spacing: voxel size in mm per array axis (e.g. the reference header's zooms);
            1 mm isotropic when None.
        labels: label convention overriding the profile's (e.g. ``"brats2021"`` for 1/2/4 maps).

    Returns:
        ``{region: {metric: value}}`` with the keys described in this module's docstring.

    Raises:
        ShapeMismatchError, UnknownLabelError, MetricInputError: bad inputs.
        EmptyMaskError: an empty region under a profile whose peer refuses empty masks.
    """
    prof = get_profile(profile)
    pred_map, ref_map = np.asarray(pred), np.asarray(ref)
    check_same_shape(pred_map, ref_map, ("pred", "ref"))
    sp = as_spacing(spacing, ref_map.ndim)
    if prof.reverse_spacing:
        sp = sp[::-1]
    convention = prof.convention if labels is None else labels
    # Every metric is unchanged by cropping both maps to the bounding box of their labelled
    # voxels: surfaces are padded with background and lesion dilations clipped to a box that
    # holds every reference voxel still touch and merge exactly where they did (see
    # mri_metrics.lesion). Outside the box both maps are 0, so label checks lose nothing either.
    box = bounding_box((pred_map != 0) | (ref_map != 0)) or (slice(0, 1),) * ref_map.ndim
    pred_regions = region_masks(pred_map[box], convention, name="pred", regions=prof.regions)
    ref_regions = region_masks(ref_map[box], convention, name="ref", regions=prof.regions)
    return {
        region: score_region(
            pred_regions[region], ref_regions[region], spacing=sp, profile=prof, region=region
        )
        for region in prof.regions
    }

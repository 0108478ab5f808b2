"""Named scoring profiles: the settings under which a peer implementation scores a case.

Published BraTS numbers come from different tools that disagree on the HD95 variant, the NSD
variant, the surface (border voxels or surfels), the lesion-wise algorithm, how spacing is read,
and above all on what an empty mask scores. A profile pins all of these as data, so
``score_segmentation(..., profile="monai")`` reproduces MONAI's numbers and
``profile="brats2023-met"`` the BraTS 2023 metastasis leaderboard, while the default
``"mri-suite"`` is the combination we consider correct. Adding a profile never adds a code path.

A scoring profile is not a label convention: which labels form which region is mri-io's
(:data:`mri_io.LABEL_CONVENTIONS`), which a scoring profile names in its ``convention`` field.

Empty-mask answers are written as the peer gives them. ``None`` means the peer raises (MedPy's
``hd95``); :func:`mri_metrics.scoring.score_segmentation` then raises :class:`EmptyMaskError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from mri_metrics.errors import EmptyMaskError, MetricInputError
from mri_metrics.lesion import BRATS2023_HD95_PENALTY, BRATS_EVALUATION_HD95_PENALTY
from mri_metrics.surface import HausdorffMethod, NsdMethod, Surface

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "EmptyMaskError",
    "EmptyPolicy",
    "LesionSettings",
    "Profile",
    "get_profile",
]

DEFAULT_PROFILE = "mri-suite"
NAN = math.nan
INF = math.inf


@dataclass(frozen=True)
class EmptyPolicy:
    """What a region scores when one or both masks are empty (``None``: the peer raises).

    Attributes:
        dice_both: Dice when prediction and reference are both empty.
        dice_ref_empty: Dice when only the reference is empty (MONAI ignores such cases: NaN).
        dice_pred_empty: Dice when only the prediction is empty.
        hd95_both, hd95_one: HD95 when both / exactly one mask is empty.
        nsd_both, nsd_one: NSD when both / exactly one mask is empty.
        disjoint_as_one_empty: score two non-empty masks that share no voxel like one empty
            mask (Dice 0, ``hd95_one``, ``nsd_one``) instead of measuring their distance, as
            panoptica's zero-true-positive handling does for its global metrics.
    """

    dice_both: float
    dice_ref_empty: float
    dice_pred_empty: float
    hd95_both: float | None
    hd95_one: float | None
    nsd_both: float
    nsd_one: float
    disjoint_as_one_empty: bool = False


@dataclass(frozen=True)
class LesionSettings:
    """Lesion-wise algorithm and its parameters.

    Attributes:
        algorithm: ``"brats2023"`` (dilation matching, penalised mean), ``"matched"``
            (one-to-one Hungarian matching, true-positive means) or ``"mets"``
            (brats-evaluation's metastasis parser on top of one-to-one matching).
        dilation_iterations: BraTS 2023 dilation.
        volume_threshold_mm3: BraTS 2023: lesions at or below it are dropped; ``"mets"``:
            lesions at or above it are large.
        penalty_hd95: HD95 of a missed lesion or a false positive (``"brats2023"``, ``"mets"``).
        matching_threshold: minimum DSC of a matchable pair (``"matched"``, ``"mets"``).
        overlap_threshold: minimum DSC of a detected lesion (``"mets"``).
        no_tp_dice, no_tp_hd95, no_tp_nsd: ``"matched"`` scores when lesions exist but none
            matched (panoptica's zero-true-positive edge case).
        lesion_nsd: also report ``lesion_nsd``, per-lesion NSD at the finest voxel spacing
            (panoptica's tolerance when it is given the spacing).
        hd95_method: HD95 variant per lesion.
    """

    algorithm: Literal["brats2023", "matched", "mets"]
    dilation_iterations: int = 3
    volume_threshold_mm3: float = 50.0
    penalty_hd95: float = BRATS2023_HD95_PENALTY
    matching_threshold: float = 0.0
    overlap_threshold: float = 0.0
    no_tp_dice: float = NAN
    no_tp_hd95: float = NAN
    no_tp_nsd: float = NAN
    lesion_nsd: bool = False
    hd95_method: HausdorffMethod = "surfel"


@dataclass(frozen=True)
class Profile:
    """Every setting behind one peer's numbers.

    Attributes:
        name: registry key.
        description: one line for ``--help`` and reports.
        convention: label convention (see :mod:`mri_metrics.regions`).
        regions: regions scored, in output order.
        hd95_method: ``"pooled"``, ``"max-directed"`` or ``"surfel"``.
        nsd_method: ``"pooled"`` or ``"mean-directed"``.
        surface: surface of the full-region distances; ``"surfel"`` when ``hd95_method`` is.
        nsd_tolerances_mm: NSD tolerances reported as ``nsd@<tol>``; empty for peers without NSD.
        reverse_spacing: read the spacing in reversed axis order (brats-evaluation's flaw,
            visible only for anisotropic voxels).
        global_spacing: use the spacing for full-region distances (brats-evaluation does not:
            its global HD95/NSD are in voxels).
        empty: empty-mask answers.
        lesion: lesion-wise algorithm, or None for peers without one.
    """

    name: str
    description: str
    hd95_method: HausdorffMethod
    nsd_method: NsdMethod
    surface: Surface
    empty: EmptyPolicy
    lesion: LesionSettings | None = None
    convention: str = "brats2023"
    regions: tuple[str, ...] = ("WT", "TC", "ET")
    nsd_tolerances_mm: tuple[float, ...] = (1.0, 2.0)
    reverse_spacing: bool = False
    global_spacing: bool = True


#: The BraTS 2023 script: full-region Dice 1 / HD95 0 for two empty masks, HD95 374 for one.
_BRATS2023_EMPTY = EmptyPolicy(
    dice_both=1.0,
    dice_ref_empty=0.0,
    dice_pred_empty=0.0,
    hd95_both=0.0,
    hd95_one=BRATS2023_HD95_PENALTY,
    nsd_both=NAN,
    nsd_one=0.0,
)


def _brats2023(challenge: str, dilation: int, threshold: float) -> Profile:
    return Profile(
        name=f"brats2023-{challenge}",
        description=(
            f"BraTS 2023 {challenge.upper()} lesion-wise script: dilation {dilation}, "
            f"lesions <= {threshold:g} mm^3 dropped, surfel HD95"
        ),
        hd95_method="surfel",
        nsd_method="pooled",
        surface="surfel",
        empty=_BRATS2023_EMPTY,
        lesion=LesionSettings(
            algorithm="brats2023",
            dilation_iterations=dilation,
            volume_threshold_mm3=threshold,
        ),
    )


def _brats_evaluation(
    name: str, description: str, lesion: LesionSettings, regions: tuple[str, ...]
) -> Profile:
    """What brats-evaluation 0.0.10's configurations and parsers share (sources in the docs).

    Global metrics are measured without spacing (HD95 in voxels, NSD at panoptica's default
    tolerance 0.5), NSD is the mean of directed fractions on border voxels, empty or disjoint
    masks get panoptica's zero-true-positive answers (Dice 0, HD95 infinite, NSD 0; NaN when
    both are empty) with the parsers' 373 in place of an infinite global HD95, and the spacing
    is read in reversed axis order.
    """
    return Profile(
        name=name,
        description=description,
        hd95_method="pooled",
        nsd_method="mean-directed",
        surface="voxel",
        empty=EmptyPolicy(
            dice_both=NAN,
            dice_ref_empty=0.0,
            dice_pred_empty=0.0,
            hd95_both=NAN,
            hd95_one=BRATS_EVALUATION_HD95_PENALTY,
            nsd_both=NAN,
            nsd_one=0.0,
            disjoint_as_one_empty=True,
        ),
        lesion=lesion,
        convention="brats2024-post",
        regions=regions,
        nsd_tolerances_mm=(0.5,),
        reverse_spacing=True,
        global_spacing=False,
    )


PROFILES: Mapping[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name=DEFAULT_PROFILE,
            description=(
                "default: surfel HD95 and pooled surfel NSD in mm from the header spacing, "
                "BraTS 2023 lesion-wise (GLI parameters); empty pairs agree perfectly, "
                "a distance to an empty mask is undefined (NaN)"
            ),
            hd95_method="surfel",
            nsd_method="pooled",
            surface="surfel",
            empty=EmptyPolicy(
                dice_both=1.0,
                dice_ref_empty=0.0,
                dice_pred_empty=0.0,
                hd95_both=0.0,
                hd95_one=NAN,
                nsd_both=1.0,
                nsd_one=0.0,
            ),
            lesion=LesionSettings(algorithm="brats2023"),
        ),
        _brats2023("gli", 3, 50.0),
        _brats2023("men", 1, 50.0),
        _brats2023("met", 1, 2.0),
        _brats2023("ped", 3, 50.0),
        _brats2023("ssa", 3, 50.0),
        _brats_evaluation(
            "brats-evaluation",
            "brats-evaluation 0.0.10 `gli` config + `seg` parser (panoptica): one-to-one "
            "matching on DSC >= 1e-6, TP-only lesion means; global HD95 and NSD@0.5 in voxels, "
            "spacing reversed",
            LesionSettings(
                algorithm="matched",
                matching_threshold=1e-6,
                no_tp_dice=0.0,
                no_tp_hd95=INF,
                no_tp_nsd=0.0,
                lesion_nsd=True,
                hd95_method="pooled",
            ),
            ("WT", "TC", "ET", "NETC", "SNFH", "RC"),
        ),
        _brats_evaluation(
            "brats-evaluation-mets",
            "brats-evaluation 0.0.10 `mets` config + `mets` parser as the metastasis scorer "
            "runs it: large lesions >= 27 mm^3, detected at DSC >= 0.2, missed large lesions "
            "and false positives 0 / 373",
            LesionSettings(
                algorithm="mets",
                volume_threshold_mm3=27.0,
                penalty_hd95=BRATS_EVALUATION_HD95_PENALTY,
                matching_threshold=1e-6,
                overlap_threshold=0.2,
                lesion_nsd=True,
                hd95_method="pooled",
            ),
            ("WT", "TC", "ET", "RC"),
        ),
        Profile(
            name="monai",
            description=(
                "MONAI 1.x: DiceMetric (empty reference ignored: NaN), "
                "compute_hausdorff_distance (max of directed 95th percentiles), "
                "compute_surface_dice on border voxels"
            ),
            hd95_method="max-directed",
            nsd_method="pooled",
            surface="voxel",
            empty=EmptyPolicy(
                dice_both=NAN,
                dice_ref_empty=NAN,
                dice_pred_empty=0.0,
                hd95_both=NAN,
                hd95_one=NAN,
                nsd_both=NAN,
                nsd_one=0.0,
            ),
        ),
        Profile(
            name="medpy",
            description="MedPy 0.5: dc and hd95 (pooled border-voxel distances); no NSD",
            hd95_method="pooled",
            nsd_method="pooled",
            surface="voxel",
            empty=EmptyPolicy(
                dice_both=1.0,
                dice_ref_empty=0.0,
                dice_pred_empty=0.0,
                hd95_both=None,
                hd95_one=None,
                nsd_both=NAN,
                nsd_one=NAN,
            ),
            nsd_tolerances_mm=(),
        ),
        Profile(
            name="surface-distance",
            description=(
                "DeepMind surface-distance: compute_robust_hausdorff and "
                "compute_surface_dice_at_tolerance on surfels"
            ),
            hd95_method="surfel",
            nsd_method="pooled",
            surface="surfel",
            empty=EmptyPolicy(
                dice_both=NAN,
                dice_ref_empty=0.0,
                dice_pred_empty=0.0,
                hd95_both=INF,
                hd95_one=INF,
                nsd_both=NAN,
                nsd_one=0.0,
            ),
        ),
    )
}


def get_profile(profile: str | Profile) -> Profile:
    """Return ``profile`` itself or the registered profile of that name.

    Raises:
        MetricInputError: unknown name (the message lists the known ones).
    """
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        known = ", ".join(PROFILES)
        raise MetricInputError(f"unknown profile {profile!r}; known: {known}") from None

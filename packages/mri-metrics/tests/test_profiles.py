"""Profiles and label conventions are consistent data, and lookups fail with useful messages."""

from __future__ import annotations

import numpy as np
import pytest

from mri_metrics.errors import MetricInputError, UnknownLabelError
from mri_metrics.profiles import DEFAULT_PROFILE, PROFILES, get_profile
from mri_metrics.regions import LABEL_CONVENTIONS, region_masks

EXPECTED = {
    "brats2023-gli": (3, 50.0),
    "brats2023-men": (1, 50.0),
    "brats2023-met": (1, 2.0),
    "brats2023-ped": (3, 50.0),
    "brats2023-ssa": (3, 50.0),
}


def test_every_promised_profile_is_registered() -> None:
    assert set(PROFILES) == {
        DEFAULT_PROFILE,
        *EXPECTED,
        "brats-evaluation",
        "brats-evaluation-mets",
        "monai",
        "medpy",
        "surface-distance",
    }


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_brats2023_profiles_carry_the_challenge_parameters(name: str) -> None:
    profile = get_profile(name)
    assert profile.lesion is not None
    assert profile.lesion.algorithm == "brats2023"
    dilation, threshold = EXPECTED[name]
    assert profile.lesion.dilation_iterations == dilation
    assert profile.lesion.volume_threshold_mm3 == threshold
    assert (profile.hd95_method, profile.surface) == ("surfel", "surfel")
    assert (profile.empty.hd95_both, profile.empty.hd95_one) == (0.0, 374.0)


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
def test_profiles_are_coherent(profile: object) -> None:
    p = get_profile(profile)  # type: ignore[arg-type]
    assert p.convention in LABEL_CONVENTIONS
    assert set(p.regions) <= set(LABEL_CONVENTIONS[p.convention].regions)
    assert (p.hd95_method == "surfel") == (p.surface == "surfel")
    assert p.empty.dice_pred_empty == 0.0


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(MetricInputError, match="monai"):
        get_profile("brats2019")


def test_regions_are_unions_of_labels() -> None:
    labels = np.array([0, 1, 2, 3, 4])
    masks = region_masks(labels, "brats2024-post-treatment")
    assert masks["WT"].tolist() == [False, True, True, True, False]
    assert masks["RC"].tolist() == [False, False, False, False, True]
    old = region_masks(np.array([0, 1, 2, 4]), "brats2021")
    assert old["ET"].tolist() == [False, False, False, True]
    with pytest.raises(UnknownLabelError, match="4"):
        region_masks(labels, "brats2023", name="case.nii.gz")
    with pytest.raises(UnknownLabelError, match=r"2\.5"):
        region_masks(np.array([0.0, 2.5]), "brats2023")

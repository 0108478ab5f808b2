"""mri-metrics scores regions from mri-io's label profiles: one source of truth for label maps."""

from __future__ import annotations

import numpy as np
import pytest

import mri_io
import mri_metrics
from mri_metrics.errors import MetricInputError
from mri_metrics.profiles import PROFILES
from mri_metrics.regions import CONVENTION_ALIASES, get_convention, region_masks


def test_the_conventions_are_mri_io_label_profiles() -> None:
    assert mri_metrics.CONVENTIONS is mri_io.LABEL_PROFILES
    assert mri_metrics.LabelConvention is mri_io.LabelProfile
    for name, profile in mri_io.LABEL_PROFILES.items():
        assert get_convention(name) is profile


def test_every_scoring_profile_names_an_mri_io_label_profile() -> None:
    for profile in PROFILES.values():
        assert profile.convention in mri_io.LABEL_PROFILES, profile.name
        regions = mri_io.get_label_profile(profile.convention).regions
        assert set(profile.regions) <= set(regions), profile.name


def test_old_names_are_aliases_of_mri_io_profiles() -> None:
    for old, new in CONVENTION_ALIASES.items():
        assert old not in mri_io.LABEL_PROFILES
        assert get_convention(old) is mri_io.LABEL_PROFILES[new]
    labels = np.array([0, 1, 2, 3, 4])
    masks = region_masks(labels, "brats2024-post-treatment")
    assert masks.keys() == mri_io.LABEL_PROFILES["brats2024-post"].regions.keys()


def test_regions_follow_mri_io_for_every_profile() -> None:
    for name, profile in mri_io.LABEL_PROFILES.items():
        labels = np.array([0, *sorted(profile.labels)])
        masks = region_masks(labels, name)
        for region, members in profile.regions.items():
            assert set(labels[masks[region]].tolist()) == set(members), (name, region)


def test_an_unknown_convention_lists_mri_io_names() -> None:
    with pytest.raises(MetricInputError, match="brats2024-men-rt"):
        get_convention("brats2019")

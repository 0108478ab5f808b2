"""mri-metrics scores regions from mri-io's label conventions: one source of truth for labels."""

from __future__ import annotations

import numpy as np
import pytest

import mri_io
import mri_metrics
from mri_io.labels import LABEL_CONVENTION_ALIASES
from mri_metrics.errors import MetricInputError
from mri_metrics.profiles import PROFILES
from mri_metrics.regions import region_masks


def test_the_conventions_are_mri_io_label_conventions() -> None:
    assert mri_metrics.LABEL_CONVENTIONS is mri_io.LABEL_CONVENTIONS
    assert mri_metrics.LabelConvention is mri_io.LabelConvention
    for name, convention in mri_io.LABEL_CONVENTIONS.items():
        labels = np.array([0, *sorted(convention.labels)])
        by_name = region_masks(labels, name)
        by_object = region_masks(labels, convention)
        assert by_name.keys() == by_object.keys() == convention.regions.keys()
        for region in by_name:
            np.testing.assert_array_equal(by_name[region], by_object[region])


def test_every_scoring_profile_names_an_mri_io_label_convention() -> None:
    for profile in PROFILES.values():
        assert profile.convention in mri_io.LABEL_CONVENTIONS, profile.name
        regions = mri_io.get_label_convention(profile.convention).regions
        assert set(profile.regions) <= set(regions), profile.name


def test_old_names_are_aliases_of_mri_io_conventions() -> None:
    for old, new in LABEL_CONVENTION_ALIASES.items():
        assert old not in mri_io.LABEL_CONVENTIONS
        assert mri_io.get_label_convention(old) is mri_io.LABEL_CONVENTIONS[new]
    labels = np.array([0, 1, 2, 3, 4])
    masks = region_masks(labels, "brats2024-post-treatment")
    assert masks.keys() == mri_io.LABEL_CONVENTIONS["brats2024-post"].regions.keys()


def test_regions_follow_mri_io_for_every_convention() -> None:
    for name, convention in mri_io.LABEL_CONVENTIONS.items():
        labels = np.array([0, *sorted(convention.labels)])
        masks = region_masks(labels, name)
        for region, members in convention.regions.items():
            assert set(labels[masks[region]].tolist()) == set(members), (name, region)


def test_an_unknown_convention_is_a_metric_input_error_listing_mri_io_names() -> None:
    expected = r"unknown label convention 'brats2019'.*brats2024-men-rt"
    with pytest.raises(MetricInputError, match=expected):
        region_masks(np.zeros(3, dtype=np.uint8), "brats2019")

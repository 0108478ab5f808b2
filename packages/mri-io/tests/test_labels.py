"""Label conventions: data integrity, conversions, regions and checks against brute force."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mri_io.errors import LabelError, UnknownNameError
from mri_io.labels import (
    LABEL_CONVENTIONS,
    LabelConvention,
    check_labels,
    convert_labels,
    get_label_convention,
    guess_label_convention,
    region_mask,
)

segs_2021 = hnp.arrays(np.uint8, hnp.array_shapes(min_dims=3, max_dims=3, max_side=6),
                       elements=st.sampled_from([0, 1, 2, 4]))  # fmt: skip


def test_brats_profiles_hold_the_documented_conventions() -> None:
    assert dict(get_label_convention("brats2023").labels) == {1: "NETC", 2: "SNFH", 3: "ET"}
    assert dict(get_label_convention("brats2023").regions) == {
        "WT": {1, 2, 3}, "TC": {1, 3}, "ET": {3}
    }  # fmt: skip
    assert dict(get_label_convention("brats2021").regions) == {
        "WT": {1, 2, 4}, "TC": {1, 4}, "ET": {4}
    }  # fmt: skip
    post = get_label_convention("brats2024-post")
    assert post.labels[4] == "RC"
    assert all(4 not in post.regions[name] for name in ("WT", "TC", "ET"))
    ped = get_label_convention("brats2024-ped")
    assert ped.regions["ET"] == {1}
    assert ped.regions["TC"] == {1, 2, 3}
    for name, convention in LABEL_CONVENTIONS.items():
        assert convention.name == name
        assert 0 not in convention.labels


def test_a_profile_with_regions_of_undefined_labels_is_refused() -> None:
    with pytest.raises(ValueError, match="undefined labels"):
        LabelConvention("bad", {1: "A"}, {"WT": frozenset({1, 2})})
    with pytest.raises(UnknownNameError, match="unknown label convention 'brats1999'"):
        get_label_convention("brats1999")


@settings(max_examples=50, deadline=None)
@given(seg=segs_2021)
def test_conversion_2021_to_2023_keeps_every_region(seg: npt.NDArray[np.integer[Any]]) -> None:
    converted = convert_labels(seg, "brats2021", "brats2023")
    assert converted.dtype == seg.dtype
    assert set(np.unique(converted)) <= {0, 1, 2, 3}
    for region in ("WT", "TC", "ET"):
        np.testing.assert_array_equal(
            region_mask(converted, "brats2023", region), region_mask(seg, "brats2021", region)
        )
    np.testing.assert_array_equal(convert_labels(converted, "brats2023", "brats2021"), seg)


@settings(max_examples=50, deadline=None)
@given(seg=hnp.arrays(np.int16, (4, 5, 3), elements=st.sampled_from([0, 1, 2, 3, 4])))
def test_region_masks_match_brute_force(seg: npt.NDArray[np.integer[Any]]) -> None:
    convention = get_label_convention("brats2024-post")
    for region, members in convention.regions.items():
        expected = np.zeros(seg.shape, dtype=bool)
        for index in np.ndindex(*seg.shape):
            expected[index] = int(seg[index]) in members
        np.testing.assert_array_equal(region_mask(seg, convention, region), expected)
    np.testing.assert_array_equal(region_mask(seg, convention, "RC"), seg == 4)


def test_check_labels_names_file_and_unexpected_labels() -> None:
    seg = np.array([[[0, 1, 2, 4, 7]]], dtype=np.uint8)
    with pytest.raises(LabelError, match=r"case/seg\.nii\.gz: labels \[4, 7\] are not in"):
        check_labels(seg, "brats2023", "case/seg.nii.gz")
    check_labels(seg[..., :3], "brats2023")
    with pytest.raises(LabelError, match="non-integer"):
        check_labels(np.array([[[0.0, 1.5]]]), "brats2023")


def test_convert_checks_the_source_and_knows_its_limits() -> None:
    with pytest.raises(LabelError, match=r"\[3\]"):
        convert_labels(np.array([[[3]]]), "brats2021", "brats2023")
    with pytest.raises(UnknownNameError, match="no label conversion"):
        convert_labels(np.array([[[1]]]), "brats2024-ped", "brats2023")
    same = np.array([[[1, 2, 3]]])
    np.testing.assert_array_equal(convert_labels(same, "brats2023", "brats2023-met"), same)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([0], "brats2023"),
        ([0, 1, 2, 3], "brats2023"),
        ([0, 2, 4], "brats2021"),
        ([0, 1, 2, 4], "brats2021"),
        ([0, 3, 4], "brats2024-post"),
    ],
)
def test_guess_label_convention(labels: list[int], expected: str) -> None:
    assert guess_label_convention(np.array(labels, dtype=np.uint8).reshape(1, 1, -1)) == expected


def test_guess_refuses_unknown_labels() -> None:
    with pytest.raises(LabelError, match=r"\[1, 9\] match no known"):
        guess_label_convention(np.array([[[0, 1, 9]]]))


def test_region_by_label_name_and_unknown_region() -> None:
    seg = np.array([[[0, 1, 2, 3]]])
    np.testing.assert_array_equal(region_mask(seg, "brats2023", "SNFH"), seg == 2)
    with pytest.raises(UnknownNameError, match="no region or label 'XX'"):
        region_mask(seg, "brats2023", "XX")

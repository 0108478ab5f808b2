"""Input validation: what is accepted, what is refused, and that messages name the input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mri_metrics._inputs import as_mask, as_spacing, check_finite, check_same_shape
from mri_metrics.errors import (
    MetricInputError,
    NonFiniteError,
    NotBinaryError,
    ShapeMismatchError,
)


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int16, np.int64, np.float32, np.float64])
def test_as_mask_accepts_zero_one_of_any_numeric_dtype(dtype: type[np.generic]) -> None:
    values = np.array([[0, 1, 1], [0, 0, 1]]).astype(dtype)
    mask = as_mask(values, "pred")
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(mask, [[False, True, True], [False, False, True]])


def test_as_mask_returns_bool_input_without_copy() -> None:
    values = np.zeros((4, 4), dtype=bool)
    assert as_mask(values, "ref") is values


@pytest.mark.parametrize("bad", [2, -1, 0.5, math.nan, 4])
def test_as_mask_refuses_other_values_and_names_the_input(bad: float) -> None:
    values = np.zeros((5, 5))
    values[2, 3] = bad
    with pytest.raises(NotBinaryError, match=r"^ref: .*1 voxels"):
        as_mask(values, "ref")


def test_as_mask_refuses_label_map_showing_the_labels() -> None:
    labels = np.array([0, 1, 2, 3, 3])
    with pytest.raises(NotBinaryError, match=r"e\.g\. 2, 3"):
        as_mask(labels, "pred")


def test_as_mask_refuses_scalars_and_strings() -> None:
    with pytest.raises(NotBinaryError, match="scalar"):
        as_mask(np.float64(1.0), "pred")
    with pytest.raises(NotBinaryError, match="dtype"):
        as_mask(np.array(["0", "1"]), "pred")


def test_check_same_shape() -> None:
    check_same_shape(np.zeros((3, 4)), np.ones((3, 4)), ("pred", "ref"))
    with pytest.raises(
        ShapeMismatchError, match=r"pred has shape \(3, 4\) but ref has shape \(4, 3\)"
    ):
        check_same_shape(np.zeros((3, 4)), np.zeros((4, 3)), ("pred", "ref"))


def test_as_spacing_forms() -> None:
    assert as_spacing(None, 3) == (1.0, 1.0, 1.0)
    assert as_spacing(0.5, 2) == (0.5, 0.5)
    assert as_spacing((1, 2, 3), 3) == (1.0, 2.0, 3.0)
    assert as_spacing(np.array([0.5, 0.8, 2.2]), 3) == (0.5, 0.8, 2.2)
    assert all(type(v) is float for v in as_spacing(np.array([1, 2], dtype=np.int32), 2))


@pytest.mark.parametrize(
    "spacing",
    [
        (1.0, 1.0),
        (1.0, 1.0, 1.0, 1.0),
        (1.0, 0.0, 1.0),
        (1.0, -2.0, 1.0),
        (1.0, math.inf, 1.0),
        (math.nan,) * 3,
    ],
)
def test_as_spacing_refuses_bad_values(spacing: tuple[float, ...]) -> None:
    with pytest.raises(MetricInputError, match=r"^spacing: "):
        as_spacing(spacing, 3)


def test_check_finite() -> None:
    check_finite(np.arange(5), "image")
    check_finite(np.array([0.0, 1.5]), "image")
    values = np.array([0.0, math.nan, math.inf, -math.inf, math.nan])
    with pytest.raises(
        NonFiniteError, match=r"^image: holds 4 non-finite values \(2 NaN, 2 infinite\)"
    ):
        check_finite(values, "image")


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="pred: a mask may hold only 0 and 1"):
        as_mask(np.array([3]), "pred")

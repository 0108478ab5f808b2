"""Valid-mode banded correlation against scipy's correlate1d, trimmed to the valid part."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from mri_metrics._banded import BLOCK, banded_operator, correlate_valid

Array = npt.NDArray[np.float64]


def _scipy_valid(array: Array, kernel: Array, axis: int) -> Array:
    full = ndimage.correlate1d(array, kernel, axis=axis, mode="constant")
    radius = kernel.size // 2
    keep = [slice(None)] * array.ndim
    keep[axis] = slice(radius, array.shape[axis] - radius)
    valid: Array = full[tuple(keep)]
    return valid


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 2 * BLOCK + 13), min_size=2, max_size=4),
    st.integers(0, 3),
    st.sampled_from([3, 5, 11]),
    st.integers(0, 2**32 - 1),
)
def test_equals_scipy_on_random_arrays(
    sides: list[int], axis_pick: int, width: int, seed: int
) -> None:
    axis = axis_pick % len(sides)
    sides[axis] = max(sides[axis], width)
    rng = np.random.default_rng(seed)
    array = rng.normal(0, 1000, sides)
    kernel = rng.random(width)
    result = correlate_valid(array, kernel, axis)
    expected = _scipy_valid(array, kernel, axis)
    assert result.shape == expected.shape
    assert result.flags.c_contiguous
    scale = np.abs(array).max() * kernel.sum()
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-13 * scale)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_impulse_gives_the_reversed_kernel(axis: int) -> None:
    kernel = np.array([0.1, 0.2, 0.4, 0.25, 0.05])
    array = np.zeros((40, 30, 24))
    index = [17, 13, 11]
    array[tuple(index)] = 1.0
    line = np.moveaxis(correlate_valid(array, kernel, axis), axis, -1)
    position = index.pop(axis)
    # Output i sees input i + k with weight kernel[k]: the impulse reaches outputs
    # position - 4 .. position, the last of them through kernel[0].
    expected = np.zeros(array.shape[axis] - kernel.size + 1)
    expected[position - kernel.size + 1 : position + 1] = kernel[::-1]
    np.testing.assert_array_equal(line[tuple(index)], expected)


def test_banded_operator_rows_are_shifted_kernels() -> None:
    kernel = np.array([1.0, 2.0, 3.0])
    expected = np.array([[1.0, 2.0, 3.0, 0.0], [0.0, 1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(banded_operator(kernel, 2), expected)

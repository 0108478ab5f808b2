"""Brain bounding boxes and centre crop/pad, each checked against its exact inverse."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray

from mri_io.geometry import UMMGAT_SHAPE, BoundingBox, CentreFit, brain_bounding_box

shapes = st.tuples(*[st.integers(1, 9)] * 3)


def _channels_at(index: tuple[int, ...]) -> tuple[Any, ...]:
    """Index of one voxel across the leading channel axis."""
    return (slice(None), *index)


def test_bounding_box_covers_every_channel_and_grows_by_margin() -> None:
    stack = np.zeros((2, 10, 12, 8))
    stack[0, 3, 4, 2] = 1.0
    stack[1, 6, 9, 5] = -2.0  # non-zero counts, whatever its sign
    box = brain_bounding_box(stack)
    assert box == BoundingBox((3, 4, 2), (7, 10, 6), (10, 12, 8))
    grown = brain_bounding_box(list(stack), margin=3)
    assert grown == BoundingBox((0, 1, 0), (10, 12, 8), (10, 12, 8))


def test_bounding_box_refuses_an_empty_volume_and_bad_boxes() -> None:
    with pytest.raises(ValueError, match="no non-zero voxel"):
        brain_bounding_box(np.zeros((4, 4, 4)))
    with pytest.raises(ValueError, match="margin"):
        brain_bounding_box(np.ones((4, 4, 4)), margin=-1)
    with pytest.raises(ValueError, match="outside its volume or empty"):
        BoundingBox((0, 2, 0), (4, 2, 4), (4, 4, 4))


@settings(max_examples=80, deadline=None)
@given(
    volume=arrays(np.float32, shapes, elements=st.sampled_from([0.0, 0.0, 0.0, 1.5, -3.0])),
    margin=st.integers(0, 3),
    fill=st.sampled_from([0.0, -1.0]),
)
def test_property_crop_then_uncrop_is_exact(
    volume: NDArray[np.float32], margin: int, fill: float
) -> None:
    if not volume.any():
        return
    box = brain_bounding_box(volume, margin)
    cropped = box.crop(volume)
    assert cropped.shape == box.size
    restored = box.uncrop(cropped, fill=fill)
    # Everything outside the box was zero, so with fill 0 the round trip is the identity.
    expected = volume if fill == 0.0 else np.where(_inside(box), volume, fill)
    np.testing.assert_array_equal(restored, expected)
    # Brute force: the box is the smallest holding every non-zero voxel (before the margin).
    tight = brain_bounding_box(volume)
    for axis in range(3):
        present = np.flatnonzero(
            np.moveaxis(volume, axis, 0).reshape(volume.shape[axis], -1).any(1)
        )
        assert (tight.start[axis], tight.stop[axis]) == (present[0], present[-1] + 1)


def _inside(box: BoundingBox) -> NDArray[np.bool_]:
    mask = np.zeros(box.shape, dtype=bool)
    mask[box.slices] = True
    return mask


def test_crop_keeps_leading_channel_axes() -> None:
    stack = np.arange(2 * 5 * 6 * 7, dtype=np.float32).reshape(2, 5, 6, 7)
    box = BoundingBox((1, 2, 3), (4, 6, 5), (5, 6, 7))
    np.testing.assert_array_equal(box.crop(stack), stack[:, 1:4, 2:6, 3:5])
    np.testing.assert_array_equal(
        box.uncrop(box.crop(stack))[:, 1:4, 2:6, 3:5], stack[:, 1:4, 2:6, 3:5]
    )
    with pytest.raises(ValueError, match="expected trailing axes"):
        box.crop(np.zeros((5, 6, 8)))


def test_ummgat_fit_crops_in_plane_and_keeps_the_axial_axis() -> None:
    fit = CentreFit((240, 240, 155), UMMGAT_SHAPE)
    assert fit.offset == (-32, -32, 0)
    volume = np.zeros((240, 240, 155), dtype=np.float32)
    volume[32:208, 32:208, :] = 1.0
    fitted = fit.apply(volume)
    assert fitted.shape == (176, 176, 155)
    assert fitted.all()


def test_155_to_240_pads_42_before_and_43_after() -> None:
    fit = CentreFit((240, 155), (240, 240))
    assert fit.offset == (0, 42)
    padded = fit.apply(np.ones((240, 155)), fill=-1.0)
    np.testing.assert_array_equal(padded[0], [-1.0] * 42 + [1.0] * 155 + [-1.0] * 43)
    np.testing.assert_array_equal(padded, np.broadcast_to(padded[0], (240, 240)))


@settings(max_examples=100, deadline=None)
@given(source=shapes, target=shapes, data=st.data())
def test_property_centre_fit_inverse(
    source: tuple[int, int, int], target: tuple[int, int, int], data: st.DataObject
) -> None:
    volume = data.draw(arrays(np.float64, (2, *source), elements=st.floats(-5, 5)))
    fit = CentreFit(source, target)
    fitted = fit.apply(volume, fill=np.nan)
    assert fitted.shape == (2, *target)
    restored = fit.invert(fitted, fill=7.0)
    # Brute force: a voxel survives iff its position shifted by the offset lands in the target.
    for index in np.ndindex(*source):
        moved = tuple(i + o for i, o in zip(index, fit.offset, strict=True))
        kept = all(0 <= m < t for m, t in zip(moved, target, strict=True))
        expected = volume[_channels_at(index)] if kept else np.full(2, 7.0)
        np.testing.assert_array_equal(restored[_channels_at(index)], expected)
        if kept:
            np.testing.assert_array_equal(fitted[_channels_at(moved)], volume[_channels_at(index)])
    # Padding is exactly the target voxels no source voxel reached.
    assert np.isnan(fitted).sum() == 2 * (np.prod(target) - np.prod(np.minimum(source, target)))
    # Fitting again what came back gives the same fitted volume: nothing kept was lost.
    np.testing.assert_array_equal(fit.apply(restored, fill=np.nan), fitted)


def test_centre_fit_refuses_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="differ in rank"):
        CentreFit((2, 3), (2, 3, 4))
    with pytest.raises(ValueError, match="positive"):
        CentreFit((0, 3), (2, 3))
    with pytest.raises(ValueError, match="expected trailing axes"):
        CentreFit((2, 3), (4, 4)).apply(np.zeros((3, 2)))

"""2D slicing, padding to squares, foreground filtering, batching and exact re-stacking."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray

from mri_io.slicing import (
    VIEWS,
    SliceLayout,
    View,
    background_majority,
    foreground_counts,
    iter_batches,
    select_slices,
    view_axis,
)


def _channels_at(index: tuple[int, ...]) -> tuple[Any, ...]:
    """Index of one voxel across the leading channel axis."""
    return (slice(None), *index)


def test_views_name_the_voxel_axes_with_axial_last() -> None:
    assert [view_axis(v) for v in ("sagittal", "coronal", "axial")] == [0, 1, 2]
    with pytest.raises(ValueError, match="unknown view"):
        view_axis("oblique")  # type: ignore[arg-type]


@pytest.mark.parametrize("view", ["sagittal", "coronal"])
def test_brats_slices_pad_155_to_240_with_42_before_and_43_after(view: View) -> None:
    layout = SliceLayout.square((240, 240, 155), view)
    assert layout.size == 240
    assert layout.count == 240
    assert layout.plane.offset == (0, 42)
    volume = np.ones((1, 240, 240, 155), dtype=np.float32)
    (one,) = layout.slices(volume, [17], pad=-1.0)[:, 0]
    assert one.shape == (240, 240)
    np.testing.assert_array_equal(one[0], [-1.0] * 42 + [1.0] * 155 + [-1.0] * 43)
    np.testing.assert_array_equal(one, np.broadcast_to(one[0], (240, 240)))


def test_axial_slices_are_the_last_axis_without_padding() -> None:
    rng = np.random.default_rng(0)
    stack = rng.random((4, 24, 24, 9)).astype(np.float32)
    layout = SliceLayout.square(stack.shape[1:], "axial")
    slices = layout.slices(stack, [0, 5])
    assert slices.shape == (2, 4, 24, 24)
    np.testing.assert_array_equal(slices[1], stack[:, :, :, 5])


def test_coronal_slice_keeps_voxel_order() -> None:
    stack = np.arange(3 * 4 * 5, dtype=np.int32).reshape(1, 3, 4, 5)
    layout = SliceLayout.square((3, 4, 5), "coronal")  # plane (3, 5) padded to 5x5
    (piece,) = layout.slices(stack, [2])[:, 0]
    np.testing.assert_array_equal(piece[1:4, :], stack[0, :, 2, :])
    np.testing.assert_array_equal(piece[[0, 4]], np.zeros((2, 5)))


@settings(max_examples=80, deadline=None)
@given(
    shape=st.tuples(*[st.integers(1, 8)] * 3),
    view=st.sampled_from(VIEWS),
    size_change=st.integers(-2, 3),
    data=st.data(),
)
def test_property_slicing_then_restacking_is_exact(
    shape: tuple[int, int, int], view: View, size_change: int, data: st.DataObject
) -> None:
    stack = data.draw(arrays(np.float32, (2, *shape), elements=st.floats(-3, 3, width=32)))
    axis = view_axis(view)
    plane = [n for a, n in enumerate(shape) if a != axis]
    size = max(1, max(plane) + size_change)
    layout = SliceLayout.square(shape, view, size)
    kept = data.draw(st.lists(st.integers(0, shape[axis] - 1), unique=True))
    slices = layout.slices(stack, kept, pad=np.nan)
    assert slices.shape == (len(kept), 2, size, size)
    restored = layout.restack(slices, kept, fill=-9.0)
    assert restored.shape == stack.shape
    # Brute force, voxel by voxel: a voxel comes back iff its slice was kept and its in-plane
    # position lies inside the square; everything else is the fill.
    offsets = layout.plane.offset
    for index in np.ndindex(*shape):
        in_plane = [i + o for i, o in zip(np.delete(index, axis), offsets, strict=True)]
        survives = index[axis] in kept and all(0 <= p < size for p in in_plane)
        expected = stack[_channels_at(index)] if survives else np.full(2, -9.0)
        np.testing.assert_array_equal(restored[_channels_at(index)], expected)
    # Square padding only ever adds voxels: a full round trip with the default size is identity.
    full = SliceLayout.square(shape, view)
    np.testing.assert_array_equal(full.restack(full.slices(stack)), stack)


def test_restack_of_single_channel_model_output() -> None:
    rng = np.random.default_rng(1)
    volume = rng.random((6, 7, 5))
    layout = SliceLayout.square(volume.shape, "sagittal")
    slices = layout.slices(volume)  # no leading axes: (n, size, size)
    assert slices.shape == (6, 7, 7)
    np.testing.assert_array_equal(layout.restack(slices), volume)
    with pytest.raises(ValueError, match="expected 6 slices"):
        layout.restack(slices[:3])
    with pytest.raises(ValueError, match="must lie in"):
        layout.slices(volume, [6])
    with pytest.raises(ValueError, match="must not repeat"):
        layout.slices(volume, [1, 1])


def brute_counts(stack: NDArray[np.float64], axis: int, background: float) -> NDArray[np.intp]:
    return np.array(
        [
            [
                np.count_nonzero(np.take(channel, k, axis=axis) != background)
                for k in range(channel.shape[axis])
            ]
            for channel in stack
        ]
    )


@pytest.mark.parametrize("view", VIEWS)
def test_foreground_counts_and_selection_match_brute_force(view: View) -> None:
    rng = np.random.default_rng(2)
    stack = np.where(rng.random((3, 9, 10, 11)) < 0.4, rng.random((3, 9, 10, 11)), 0.0)
    stack[1, 2:5] = 0.0  # a sequence empty over a few sagittal slices
    axis = view_axis(view)
    counts = foreground_counts(stack, view)
    np.testing.assert_array_equal(counts, brute_counts(stack, axis, 0.0))
    threshold = int(np.median(counts))
    every = select_slices(stack, view, threshold, "every")
    anyone = select_slices(stack, view, threshold, "any")
    np.testing.assert_array_equal(every, np.flatnonzero((counts >= threshold).all(axis=0)))
    np.testing.assert_array_equal(anyone, np.flatnonzero((counts >= threshold).any(axis=0)))
    # A missing sequence is not consulted: flagging sequence 1 absent can only keep more.
    without = select_slices(stack, view, threshold, "every", available=[True, False, True])
    np.testing.assert_array_equal(
        without, np.flatnonzero((counts[[0, 2]] >= threshold).all(axis=0))
    )
    assert set(every) <= set(without)


def test_selection_on_normalised_data_counts_non_background() -> None:
    stack = np.full((2, 4, 4, 3), -1.0)
    stack[:, :, :, 1] = 0.5
    stack[0, 0, 0, 2] = 0.0  # zero is brain after z-scoring
    assert select_slices(stack, "axial", 1, "any", background=-1.0).tolist() == [1, 2]
    assert select_slices(stack, "axial", 1, "every", background=-1.0).tolist() == [1]
    with pytest.raises(ValueError, match="at least one True"):
        select_slices(stack, "axial", available=[False, False])


def test_batches_cover_the_chosen_slices_in_order() -> None:
    rng = np.random.default_rng(3)
    stack = rng.random((4, 8, 8, 7)).astype(np.float32)
    layout = SliceLayout.square(stack.shape[1:], "axial")
    chosen = [0, 2, 3, 5, 6]
    batches = list(iter_batches(stack, layout, chosen, batch_size=2))
    assert [b.tolist() for b, _ in batches] == [[0, 2], [3, 5], [6]]
    joined = np.concatenate([s for _, s in batches])
    np.testing.assert_array_equal(joined, layout.slices(stack, chosen))
    np.testing.assert_array_equal(
        layout.restack(joined, chosen)[:, :, :, chosen], stack[..., chosen]
    )
    with pytest.raises(ValueError, match="batch_size"):
        next(iter_batches(stack, layout, batch_size=0))


@settings(max_examples=60, deadline=None)
@given(
    stack=arrays(
        np.int8, st.tuples(st.integers(1, 4), st.integers(1, 6)), elements=st.integers(0, 1)
    ),
    data=st.data(),
)
def test_property_background_majority_is_a_strict_majority(
    stack: NDArray[np.int8], data: st.DataObject
) -> None:
    available = data.draw(
        st.lists(st.booleans(), min_size=stack.shape[0], max_size=stack.shape[0]).filter(any)
    )
    background = background_majority(stack, available)
    for voxel in range(stack.shape[1]):
        votes = [stack[s, voxel] == 0 for s in range(stack.shape[0]) if available[s]]
        assert background[voxel] == (sum(votes) > len(votes) - sum(votes))


def test_background_majority_thesis_case_and_tie() -> None:
    # Three available inputs: two zeros make background (thesis 4.6); the missing one is ignored.
    three = np.array([[0, 0, 5], [0, 7, 5], [3, 7, 0], [0, 0, 0]], dtype=float)
    assert background_majority(three, [True, True, True, False]).tolist() == [True, False, False]
    # Two inputs: both zero is background; a tie (voxel 1: one zero, one not) keeps the voxel.
    assert background_majority(three[:2], [True, True]).tolist() == [True, False, False]

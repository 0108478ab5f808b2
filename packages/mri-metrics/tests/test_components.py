"""Box-by-box labelling and the far-query search equal their plain, whole-array references.

Lesion-wise scoring labels only the occupied boxes of a mask and dilates only around reference
voxels; surface distances resolve far surface elements by a pruned comparison. Each must give
exactly what ``ndimage.label``, ``ndimage.binary_dilation`` and a brute-force search give on
the whole array, on random sparse masks and on the awkward ones (empty, one voxel, voxels on
the array's edge, clusters just far enough apart to be cut or not).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from mri_metrics import surface
from mri_metrics._boxes import bounding_box, separated_boxes
from mri_metrics.lesion import _components, _dilation_zones, connected_components

BoolArray = npt.NDArray[np.bool_]


def sparse_mask(seed: int, shape: tuple[int, ...], clusters: int) -> BoolArray:
    """A few blobs of random size scattered over the array, some touching its edge."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, dtype=bool)
    for _ in range(clusters):
        centre = [int(rng.integers(0, n)) for n in shape]
        radius = int(rng.integers(0, 4))
        box = tuple(slice(max(c - radius, 0), c + radius + 1) for c in centre)
        mask[box] |= rng.random(mask[box].shape) < 0.6
    return mask


masks = st.builds(
    sparse_mask,
    seed=st.integers(0, 2**31 - 1),
    shape=st.sampled_from([(24, 30, 20), (40, 12, 33), (31, 45)]),
    clusters=st.integers(0, 9),
)


@settings(max_examples=60, deadline=None)
@given(mask=masks, gap=st.sampled_from([0, 1, 2, 6]))
def test_separated_boxes_cover_the_mask_and_keep_their_distance(mask: BoolArray, gap: int) -> None:
    boxes = separated_boxes(mask, gap)
    owner = np.full(mask.shape, -1)
    for index, box in enumerate(boxes):
        assert (owner[box] == -1).all(), "boxes overlap"
        owner[box] = index
        assert bounding_box(mask[box]) == tuple(slice(0, s.stop - s.start) for s in box)
    assert (owner[mask] >= 0).all(), "a voxel lies outside every box"
    points = np.argwhere(mask)
    labels = owner[mask]
    apart = labels[:, None] != labels[None, :]
    separation = np.abs(points[:, None, :] - points[None, :, :]).max(axis=2)
    assert (separation[apart] >= gap + 2).all()


def test_separated_boxes_of_nothing_and_of_one_voxel() -> None:
    assert separated_boxes(np.zeros((5, 6, 7), dtype=bool)) == []
    one = np.zeros((5, 6, 7), dtype=bool)
    one[4, 0, 6] = True
    assert separated_boxes(one) == [(slice(4, 5), slice(0, 1), slice(6, 7))]


def test_far_apart_clusters_are_labelled_in_separate_boxes() -> None:
    mask = np.zeros((120, 120, 90), dtype=bool)
    mask[10:40, 10:40, 10:40] = True
    mask[100:104, 100:104, 80:83] = True
    mask[5, 110, 2] = True
    assert len(separated_boxes(mask)) == 3
    labels, count = connected_components(mask)
    expected, expected_count = ndimage.label(mask, np.ones((3, 3, 3)))
    assert count == expected_count == 3
    np.testing.assert_array_equal(labels, expected)


@settings(max_examples=60, deadline=None)
@given(mask=masks)
def test_components_equal_one_scipy_labelling(mask: BoolArray) -> None:
    structure = ndimage.generate_binary_structure(mask.ndim, mask.ndim)
    expected, count = ndimage.label(mask, structure)
    components = _components(mask)
    assert components.count == count
    np.testing.assert_array_equal(components.labels, expected)
    assert components.boxes == ndimage.find_objects(expected)
    assert components.sizes == np.bincount(expected.ravel())[1:].tolist()


@settings(max_examples=60, deadline=None)
@given(mask=masks, iterations=st.integers(0, 3))
def test_dilation_zones_equal_labelling_the_whole_dilation(
    mask: BoolArray, iterations: int
) -> None:
    edges = ndimage.generate_binary_structure(mask.ndim, 2)
    dilated = ndimage.binary_dilation(mask, edges, iterations) if iterations else mask
    expected, count = ndimage.label(dilated, np.ones((3,) * mask.ndim))
    zones = _dilation_zones(mask, iterations)
    assert zones.count == count
    np.testing.assert_array_equal(zones.labels, expected)


def brute_force(
    targets: npt.NDArray[np.intp], queries: npt.NDArray[np.intp], scale: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    scaled = (queries[:, None, :] - targets[None, :, :]) * scale
    return np.asarray(np.sqrt((scaled * scaled).sum(-1)).min(axis=1))


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.7, 1.0, 2.5), (3.0, 0.5, 1.0)])
def test_far_distances_equal_brute_force(spacing: tuple[float, ...]) -> None:
    """A sphere's surface seen from a far cluster, a second one and a lone voxel inside it."""
    grid = np.indices((41, 41, 41)).reshape(3, -1).T
    radius = np.sqrt(((grid - 20) ** 2).sum(axis=1))
    targets = grid[(radius >= 14) & (radius < 15)] + 100
    rng = np.random.default_rng(3)
    queries = np.concatenate(
        [rng.integers(0, 6, size=(40, 3)), rng.integers(160, 170, size=(5, 3)), [[120, 120, 120]]]
    )
    scale = np.asarray(spacing)
    np.testing.assert_array_equal(
        surface._far_distances(targets, queries, scale), brute_force(targets, queries, scale)
    )


def test_far_distances_of_a_single_target() -> None:
    scale = np.array([1.0, 2.0, 0.5])
    targets = np.array([[3, 4, 5]])
    queries = np.array([[3, 4, 5], [30, 0, 0]])
    expected = [0.0, math.sqrt((27 * 1.0) ** 2 + (4 * 2.0) ** 2 + (5 * 0.5) ** 2)]
    np.testing.assert_array_equal(surface._far_distances(targets, queries, scale), expected)

"""Small-component removal per nested region."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from mri_seg.postprocess import remove_small_components


def _cube(labels: NDArray[np.uint8], corner: tuple[int, int, int], side: int, value: int) -> None:
    x, y, z = corner
    labels[x : x + side, y : y + side, z : z + side] = value


def test_small_whole_tumour_component_becomes_background() -> None:
    labels = np.zeros((40, 40, 40), dtype=np.uint8)
    _cube(labels, (2, 2, 2), 7, 2)  # 343 voxels: kept
    _cube(labels, (20, 20, 20), 6, 2)  # 216 voxels: removed (< 250)
    result = remove_small_components(labels)
    assert np.count_nonzero(result[2:9, 2:9, 2:9] == 2) == 343
    assert not result[20:26, 20:26, 20:26].any()


def test_small_core_becomes_edema_and_small_et_becomes_necrosis() -> None:
    labels = np.zeros((40, 40, 40), dtype=np.uint8)
    _cube(labels, (0, 0, 0), 20, 2)  # large edema
    _cube(labels, (2, 2, 2), 5, 1)  # TC of 125 voxels (< 150): becomes edema
    _cube(labels, (10, 10, 10), 6, 1)  # TC of 216 voxels with ET inside
    _cube(labels, (11, 11, 11), 4, 3)  # ET of 64 voxels (< 100): becomes NETC
    result = remove_small_components(labels)
    assert (result[2:7, 2:7, 2:7] == 2).all()
    assert (result[10:16, 10:16, 10:16] == 1).all()
    assert np.count_nonzero(result == 3) == 0
    assert np.count_nonzero(result) == np.count_nonzero(labels)


def test_diagonal_neighbours_are_connected() -> None:
    # 26-connectivity: two cubes touching at a corner form one component of 2 * 125 voxels.
    labels = np.zeros((20, 20, 20), dtype=np.uint8)
    _cube(labels, (0, 0, 0), 5, 2)
    _cube(labels, (5, 5, 5), 5, 2)
    kept = remove_small_components(labels, {"WT": 250})
    assert np.count_nonzero(kept) == 250
    removed = remove_small_components(labels, {"WT": 251})
    assert np.count_nonzero(removed) == 0


def test_unknown_region_refused() -> None:
    with pytest.raises(ValueError, match="no region"):
        remove_small_components(np.zeros((4, 4, 4), dtype=np.uint8), {"GTV": 3})

"""Axis codes and reorientation: compared with nibabel, checked in world space, undone exactly."""

from __future__ import annotations

import itertools
from typing import Any

import nibabel
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mri_io.nifti import BRATS_AFFINE, new_volume
from mri_io.orientation import axis_codes, reorient, undo_reorient

#: nibabel has no annotations; it is the reference here, strict typing covers our side.
nib: Any = nibabel

ALL_CODES = [
    tuple(letter for letter in choice)
    for permutation in itertools.permutations([("R", "L"), ("A", "P"), ("S", "I")])
    for choice in itertools.product(*permutation)
]


def oblique_affine(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    permutation = np.eye(3)[rng.permutation(3)] * rng.choice([-1.0, 1.0], size=3)
    affine = np.eye(4)
    affine[:3, :3] = (
        permutation
        @ (np.eye(3) + 0.15 * rng.normal(size=(3, 3)))
        @ np.diag(rng.uniform(0.5, 2.5, size=3))
    )
    affine[:3, 3] = rng.uniform(-100, 100, size=3)
    return affine


def test_brats_files_read_as_lps() -> None:
    assert axis_codes(BRATS_AFFINE) == ("L", "P", "S")
    assert axis_codes(np.eye(4)) == ("R", "A", "S")


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), target=st.sampled_from(ALL_CODES))
def test_reorient_moves_no_voxel_in_space_and_undo_is_exact(
    seed: int, target: tuple[str, str, str]
) -> None:
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(2, 7, size=3))
    volume = new_volume(rng.normal(size=shape), oblique_affine(rng))
    moved, record = reorient(volume, target)
    assert axis_codes(moved.affine) == target
    # Every voxel keeps its world position: look each one up through both affines.
    for index in np.ndindex(*shape):
        world = volume.affine @ np.array([*index, 1.0])
        new_index = np.rint(np.linalg.solve(moved.affine, world)[:3]).astype(int)
        assert moved.data[tuple(new_index)] == volume.data[index]
    restored = undo_reorient(moved, record)
    np.testing.assert_array_equal(restored.data, volume.data)
    np.testing.assert_array_equal(restored.affine, volume.affine)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_ras_matches_nibabel_closest_canonical(seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(3, 4, 5))
    volume = new_volume(data, oblique_affine(rng))
    moved, _ = reorient(volume)
    canonical = nib.as_closest_canonical(nib.Nifti1Image(data, volume.affine))
    np.testing.assert_array_equal(moved.data, canonical.get_fdata())
    np.testing.assert_allclose(moved.affine, canonical.affine, atol=1e-12)


def test_undo_applies_to_a_prediction_on_the_reoriented_grid() -> None:
    volume = new_volume(np.arange(24.0).reshape(2, 3, 4), BRATS_AFFINE)
    moved, record = reorient(volume, ("R", "A", "S"))
    prediction = moved.with_data((moved.data > 11).astype(np.uint8))
    back = undo_reorient(prediction, record)
    np.testing.assert_array_equal(back.data, (volume.data > 11).astype(np.uint8))
    with pytest.raises(ValueError, match="reoriented grid"):
        undo_reorient(
            volume.with_data(volume.data), reorient(new_volume(np.zeros((5, 3, 2)), np.eye(4)))[1]
        )


@pytest.mark.parametrize("codes", [("R", "L", "S"), ("R", "A"), ("X", "A", "S")])
def test_invalid_codes_are_refused(codes: tuple[str, str, str]) -> None:
    with pytest.raises(ValueError, match="axis codes"):
        reorient(new_volume(np.zeros((2, 2, 2)), np.eye(4)), codes)

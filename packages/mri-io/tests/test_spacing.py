"""Bringing a case to a model's voxel size and its outputs back: exact shapes, the same field
of view in world coordinates, labels kept labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mri_io.case import Case
from mri_io.errors import CorruptFileError
from mri_io.layouts import CaseFiles
from mri_io.nifti import Volume, new_volume, save_volume
from mri_io.orientation import axis_codes, reorient
from mri_io.spacing import (
    SPACING_TOLERANCE,
    case_at_spacing,
    model_orientation,
    model_spacing,
    resampling_for,
    training_orientation,
    training_spacing,
    zoom_factors,
)
from mri_io.synthetic import SyntheticCase


def _case(synthetic: SyntheticCase) -> Case:
    images = {
        name: new_volume(image.astype(np.float32), synthetic.affine)
        for name, image in synthetic.images.items()
    }
    seg = new_volume(synthetic.labels, synthetic.affine)
    return Case(synthetic.case_id, images, seg, ())


def _world(affine: np.ndarray, index: tuple[int, int, int]) -> np.ndarray:
    return (affine @ np.array([*index, 1.0]))[:3]


def test_zoom_factors() -> None:
    assert zoom_factors((1.0, 1.0, 1.0), None) is None
    assert zoom_factors((2.0, 2.0, 2.0), (2.0, 2.0, 2.0 * (1 + SPACING_TOLERANCE / 2))) is None
    assert zoom_factors((1.0, 1.0, 2.0), (2.0, 2.0, 2.0)) == (0.5, 0.5, 1.0)
    with pytest.raises(ValueError, match="positive"):
        zoom_factors((1.0, 1.0, 1.0), (0.0, 1.0, 1.0))


def test_model_spacing_is_checked() -> None:
    assert model_spacing(None) is None
    assert model_spacing([2, 2, 3]) == (2.0, 2.0, 3.0)
    for bad in ([1.0, 1.0], [1.0, -1.0, 1.0], [1.0, float("nan"), 1.0]):
        with pytest.raises(ValueError, match="spacing"):
            model_spacing(bad)


def test_a_case_at_its_own_spacing_is_left_untouched(
    synthetic_cases: dict[str, list[SyntheticCase]],
) -> None:
    case = _case(synthetic_cases["gbm"][0])
    spacing = next(iter(case.images.values())).spacing
    moved, resampling = case_at_spacing(case, spacing)
    assert moved is case
    assert resampling.identity
    array = np.zeros((3, *resampling.shape), dtype=np.float32)
    assert resampling.back(array) is array


def test_a_case_is_brought_to_the_model_spacing_over_the_same_field_of_view(
    synthetic_cases: dict[str, list[SyntheticCase]],
) -> None:
    case = _case(synthetic_cases["gbm"][0])  # 3 mm, 80 x 80 x 52
    reference = next(iter(case.images.values()))
    moved, resampling = case_at_spacing(case, (6.0, 6.0, 6.0))
    image = next(iter(moved.images.values()))
    assert resampling.shape == reference.shape == (80, 80, 52)
    assert resampling.model_shape == image.shape == (40, 40, 26)
    np.testing.assert_allclose(image.spacing, (6.0, 6.0, 6.0), rtol=0.05)
    # The first and the last voxel centres sit where the case's do.
    for corner in ((0, 0, 0), (79, 79, 51)):
        last = tuple(0 if c == 0 else n - 1 for c, n in zip(corner, image.shape, strict=True))
        np.testing.assert_allclose(
            _world(image.affine, last), _world(reference.affine, corner), atol=1e-6
        )
    # The segmentation is resampled by nearest neighbour: labels stay labels.
    assert moved.seg is not None
    assert case.seg is not None
    assert set(np.unique(moved.seg.data)) <= set(np.unique(case.seg.data))
    assert moved.seg.data.dtype == case.seg.data.dtype
    # The input case is not changed.
    assert next(iter(case.images.values())).shape == (80, 80, 52)


def test_outputs_go_back_to_the_exact_grid_and_smooth_ones_survive_the_trip(
    synthetic_cases: dict[str, list[SyntheticCase]],
) -> None:
    case = _case(synthetic_cases["none"][0])
    _, resampling = case_at_spacing(case, (4.5, 4.5, 4.5))
    x, y, z = np.meshgrid(*(np.linspace(0, 1, n) for n in resampling.shape), indexing="ij")
    smooth = np.stack([x + 2 * y - z, x * y]).astype(np.float32)
    down = resampling.forward(smooth)
    assert down.shape == (2, *resampling.model_shape)
    back = resampling.back(down)
    assert back.shape == smooth.shape
    # Linear interpolation is exact for functions linear along each axis.
    np.testing.assert_allclose(back, smooth, atol=1e-5)
    labels = (smooth[0] > 0.5).astype(np.uint8)
    assert resampling.back(resampling.forward(labels, order=0), order=0).dtype == np.uint8
    with pytest.raises(ValueError, match="model's grid"):
        resampling.back(smooth)


def test_the_training_spacing_is_the_median_voxel_size_of_the_cohort(tmp_path: Path) -> None:
    sizes = [(2.0, 2.0, 2.0), (2.0, 2.0, 3.0), (1.0, 2.0, 3.0)]
    cases = []
    for index, size in enumerate(sizes):
        folder = tmp_path / f"case-{index}"
        image = folder / "t1n.nii.gz"
        save_volume(new_volume(np.ones((4, 4, 4), np.float32), np.diag([*size, 1.0])), image)
        cases.append(CaseFiles(f"case-{index}", folder, "brats2023", {"t1n": image}, None, ()))
    assert training_spacing(cases) == (2.0, 2.0, 3.0)
    (tmp_path / "case-0" / "t1n.nii.gz").write_bytes(b"not a nifti")
    with pytest.raises(CorruptFileError, match="header"):
        training_spacing(cases)


def _grid(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> Volume:
    return new_volume(np.zeros(shape, np.float32), np.diag([*spacing, 1.0]))


def test_resampling_for_a_grid() -> None:
    assert resampling_for(_grid((80, 80, 52), (3.0, 3.0, 3.0)), None).identity
    assert resampling_for(_grid((80, 80, 52), (3.0, 3.0, 3.0)), (3.0, 3.0, 3.0)).identity
    halved = resampling_for(_grid((80, 80, 52), (3.0, 3.0, 3.0)), (6.0, 6.0, 6.0))
    assert (halved.shape, halved.model_shape) == ((80, 80, 52), (40, 40, 26))
    thin = _grid((1, 10, 10), (1.0, 1.0, 1.0))
    assert resampling_for(thin, (4.0, 2.0, 2.0)).model_shape == (1, 5, 5)
    # Already in the model's orientation: nothing to do.
    assert resampling_for(_grid((8, 6, 4), (1.0, 2.0, 3.0)), None, ("R", "A", "S")).identity


def test_model_orientation_is_checked() -> None:
    assert model_orientation(None) is None
    assert model_orientation(["l", "p", "s"]) == ("L", "P", "S")
    for bad in (["L", "R", "S"], ["L", "P"], ["X", "P", "S"]):
        with pytest.raises(ValueError, match="axis codes"):
            model_orientation(bad)


def _permuted_case(case: Case) -> Case:
    """``case`` with its axes permuted and flipped (I-L-A instead of L-P-S, say): the same
    anatomy in world terms, a different array."""
    images = {name: reorient(volume, ("I", "R", "P"))[0] for name, volume in case.images.items()}
    seg = None if case.seg is None else reorient(case.seg, ("I", "R", "P"))[0]
    return Case(case.case_id, images, seg, case.missing, case.label_convention)


def test_a_case_in_another_orientation_reaches_the_model_as_its_training_arrays(
    synthetic_cases: dict[str, list[SyntheticCase]],
) -> None:
    case = _case(synthetic_cases["gbm"][0])
    reference = next(iter(case.images.values()))
    codes = axis_codes(reference.affine)
    turned = _permuted_case(case)
    assert next(iter(turned.images.values())).shape != reference.shape
    moved, resampling = case_at_spacing(turned, reference.spacing, codes)
    assert resampling.transform is not None
    assert resampling.model_shape == reference.shape
    for name, volume in moved.images.items():
        np.testing.assert_array_equal(volume.data, case.images[name].data)
        np.testing.assert_allclose(volume.affine, reference.affine, atol=1e-9)
    assert moved.seg is not None
    assert case.seg is not None
    np.testing.assert_array_equal(moved.seg.data, case.seg.data)
    # Outputs (leading channel axis allowed) go back onto the permuted case's own grid.
    turned_seg = turned.seg
    assert turned_seg is not None
    np.testing.assert_array_equal(resampling.back(case.seg.data, order=0), turned_seg.data)
    stack = np.stack([case.images[n].data for n in sorted(case.images)])
    turned_stack = np.stack([turned.images[n].data for n in sorted(case.images)])
    np.testing.assert_array_equal(resampling.forward(turned_stack), stack)
    np.testing.assert_array_equal(resampling.back(stack), turned_stack)


def test_reorientation_and_resampling_combine_and_invert(
    synthetic_cases: dict[str, list[SyntheticCase]],
) -> None:
    case = _case(synthetic_cases["none"][0])
    reference = next(iter(case.images.values()))
    turned = _permuted_case(case)
    moved, resampling = case_at_spacing(turned, (6.0, 6.0, 6.0), axis_codes(reference.affine))
    direct, _ = case_at_spacing(case, (6.0, 6.0, 6.0))
    image = next(iter(moved.images.values()))
    assert image.shape == resampling.model_shape == (40, 40, 26)
    np.testing.assert_allclose(image.affine, next(iter(direct.images.values())).affine, atol=1e-6)
    np.testing.assert_allclose(image.data, next(iter(direct.images.values())).data, atol=1e-4)
    x, y, z = np.meshgrid(*(np.linspace(0, 1, n) for n in resampling.shape), indexing="ij")
    smooth = (x + 2 * y - z).astype(np.float32)
    np.testing.assert_allclose(resampling.back(resampling.forward(smooth)), smooth, atol=1e-5)
    with pytest.raises(ValueError, match="case's grid"):
        resampling.forward(np.zeros(resampling.model_shape, np.float32))


def test_the_training_orientation_is_the_one_every_case_shares(tmp_path: Path) -> None:
    cases = []
    for index, affine in enumerate([np.diag([-1.0, -1.0, 1.0, 1.0])] * 2 + [np.eye(4)]):
        folder = tmp_path / f"case-{index}"
        image = folder / "t1n.nii.gz"
        save_volume(new_volume(np.ones((4, 4, 4), np.float32), affine), image)
        cases.append(CaseFiles(f"case-{index}", folder, "brats2023", {"t1n": image}, None, ()))
    assert training_orientation(cases[:2]) == ("L", "P", "S")
    assert training_orientation(cases) is None

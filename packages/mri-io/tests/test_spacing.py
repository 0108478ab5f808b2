"""Bringing a case to a model's voxel size and its outputs back: exact shapes, the same field
of view in world coordinates, labels kept labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mri_io.case import Case
from mri_io.errors import CorruptFileError
from mri_io.layouts import CaseFiles
from mri_io.nifti import new_volume, save_volume
from mri_io.spacing import (
    SPACING_TOLERANCE,
    case_at_spacing,
    model_spacing,
    resampling_for,
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


def test_resampling_for_a_grid() -> None:
    assert resampling_for((80, 80, 52), (3.0, 3.0, 3.0), None).identity
    assert resampling_for((80, 80, 52), (3.0, 3.0, 3.0), (3.0, 3.0, 3.0)).identity
    halved = resampling_for((80, 80, 52), (3.0, 3.0, 3.0), (6.0, 6.0, 6.0))
    assert (halved.shape, halved.model_shape) == ((80, 80, 52), (40, 40, 26))
    assert resampling_for((1, 10, 10), (1.0, 1.0, 1.0), (4.0, 2.0, 2.0)).model_shape == (1, 5, 5)

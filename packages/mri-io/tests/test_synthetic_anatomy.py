"""Anatomy, grids, random fields and warps of the synthetic cohort."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from mri_io.nifti import BRATS_AFFINE
from mri_io.synthetic import FULL_GRID, HALF_GRID
from mri_io.synthetic.anatomy import procedural_anatomy
from mri_io.synthetic.fields import _upsample_linear, smooth_field
from mri_io.synthetic.warp import Push, undo_pushes


def test_half_grid_covers_the_brats_field_of_view() -> None:
    assert FULL_GRID.shape == (240, 240, 155)
    np.testing.assert_array_equal(FULL_GRID.affine, BRATS_AFFINE)
    assert HALF_GRID.shape == (120, 120, 78)
    np.testing.assert_allclose(HALF_GRID.spacing, [2.0, 2.0, 2.0])
    # Each half-grid voxel is centred on the full-grid voxels 2i and 2i+1.
    for i, j, k in [(0, 0, 0), (5, 17, 33), (119, 119, 77)]:
        centre = HALF_GRID.affine @ [i, j, k, 1]
        block = [
            FULL_GRID.affine @ [2 * i + a, 2 * j + b, 2 * k + c, 1]
            for a in (0, 1)
            for b in (0, 1)
            for c in (0, 1)
        ]
        np.testing.assert_allclose(centre, np.mean(block, axis=0))


@pytest.mark.parametrize("factor", [3, 5])
def test_procedural_brain_has_tissue_partial_volumes_at_any_size(factor: int) -> None:
    grid = FULL_GRID.coarsened(factor)
    anatomy = procedural_anatomy(grid, np.random.default_rng(0))
    total = anatomy.tissues.sum(axis=0)
    assert anatomy.tissues.dtype == np.float32
    assert total.max() <= 1.0 + 1e-5
    assert anatomy.tissues.min() >= 0
    volumes = anatomy.tissues.sum(axis=(1, 2, 3)) * np.prod(grid.spacing) / 1000  # millilitres
    csf, grey, white = volumes
    assert 900 < volumes.sum() < 1900  # an adult brain
    assert 0.3 < grey / (grey + white) < 0.6  # adults: about 0.45-0.55
    assert 100 < csf < 350
    # The brain stays within the field of view, with background on every side.
    assert not total[[0, -1]].any()
    assert not total[:, [0, -1]].any()
    # The interhemispheric fissure (CSF) lies on the reported midline, above the ventricles.
    middle = np.linalg.inv(grid.affine) @ [anatomy.midline_x, 0, 0, 1]
    plane = round(middle[0])
    upper = slice(grid.shape[2] * 2 // 3, None)
    off = round(12 / grid.spacing[0])
    fissure = anatomy.tissues[0, plane, :, upper].mean()
    assert fissure > 2 * anatomy.tissues[0, plane + off, :, upper].mean()
    assert fissure > 2 * anatomy.tissues[0, plane - off, :, upper].mean()


def test_mni_template_is_placed_on_the_brats_grid() -> None:
    from mri_io.synthetic.template import mni152_anatomy

    anatomy = mni152_anatomy()
    assert anatomy.tissues.shape == (3, 197, 233, 189)
    present = np.argwhere(anatomy.tissues.sum(axis=0) > 0.5)
    corners = np.c_[present.min(axis=0), present.max(axis=0)].T
    world = (anatomy.grid.affine @ np.c_[corners, np.ones(2)].T)[:3].T
    voxels = (np.linalg.inv(FULL_GRID.affine) @ np.c_[world, np.ones(2)].T)[:3].T
    low, high = voxels.min(axis=0), voxels.max(axis=0)
    assert np.all(low >= 0)
    assert np.all(high <= np.array(FULL_GRID.shape) - 1)
    np.testing.assert_allclose((low + high) / 2, (np.array(FULL_GRID.shape) - 1) / 2, atol=1.0)
    grey, white = anatomy.tissues[1].sum(), anatomy.tissues[2].sum()
    assert grey > white  # as in the template's probability maps


def test_mni_template_without_nilearn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from mri_io.synthetic import template

    template.mni152_anatomy.cache_clear()
    monkeypatch.setitem(sys.modules, "nilearn", None)
    try:
        with pytest.raises(ImportError, match=r'pip install "mri-io\[synthetic\]"'):
            template.mni152_anatomy()
    finally:
        template.mni152_anatomy.cache_clear()


def test_smooth_field_is_standardised_smooth_and_seeded() -> None:
    shape, spacing = (50, 40, 30), (2.0, 2.0, 2.0)
    field = smooth_field(np.random.default_rng(3), shape, spacing, 20.0)
    assert field.shape == shape
    assert field.dtype == np.float32
    assert field.mean() == pytest.approx(0, abs=1e-5)
    assert field.std() == pytest.approx(1, 1e-5)
    neighbours = np.corrcoef(field[1:].ravel(), field[:-1].ravel())[0, 1]
    assert neighbours > 0.9
    again = smooth_field(np.random.default_rng(3), shape, spacing, 20.0)
    np.testing.assert_array_equal(field, again)
    rough = smooth_field(np.random.default_rng(3), shape, spacing, 4.0)
    assert np.corrcoef(rough[1:].ravel(), rough[:-1].ravel())[0, 1] < neighbours


@settings(max_examples=30, deadline=None)
@given(m=st.integers(2, 12), n=st.integers(2, 40), axis=st.integers(0, 2), seed=st.integers(0, 99))
def test_linear_upsampling_matches_np_interp(m: int, n: int, axis: int, seed: int) -> None:
    shape = [3, 4, 5]
    shape[axis] = m
    values = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    result = _upsample_linear(values, axis, n)
    positions = np.linspace(0, m - 1, n)
    expected = np.apply_along_axis(lambda v: np.interp(positions, np.arange(m), v), axis, values)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(
    radius=st.floats(1.0, 15.0),
    distance=st.floats(0.0, 80.0),
    direction=st.tuples(st.floats(-1, 1), st.floats(-1, 1), st.floats(-1, 1)).filter(
        lambda d: np.linalg.norm(d) > 0.1
    ),
)
def test_mass_effect_inverts_ball_insertion(
    radius: float, distance: float, direction: tuple[float, float, float]
) -> None:
    centre = np.array([10.0, -20.0, 30.0])
    unit = np.asarray(direction) / np.linalg.norm(direction)
    point = centre + distance * unit
    world = [np.array([p], dtype=np.float32) for p in point]
    before = np.array([w[0] for w in undo_pushes(world, [Push(centre, radius)])], np.float64)
    # Pushing the found point forward (inserting the ball) must land on the query point;
    # inside the ball everything came from the centre.
    # (The forward map is well conditioned; the inverse is not near the ball's surface.)
    r0 = np.linalg.norm(before - centre)
    assert np.cbrt(r0**3 + radius**3) == pytest.approx(max(distance, radius), abs=1e-3)
    if distance > radius and r0 > 0.1:
        np.testing.assert_allclose((before - centre) / r0, unit, atol=1e-3)


def test_mass_effect_conserves_tissue_volume_outside_the_ball() -> None:
    # Tissue between radii r0 and r1 before the push fills the shell it is pushed into.
    anatomy_like = np.zeros((61, 61, 61), dtype=np.float32)
    anatomy_like[10:51, 10:51, 10:51] = 1.0
    centre = np.array([30.0, 30.0, 30.0])
    axes = np.meshgrid(*(np.arange(61, dtype=np.float32),) * 3, indexing="ij")
    source = undo_pushes(axes, [Push(centre, 6.0)])
    moved = ndimage.map_coordinates(anatomy_like, np.stack(source), order=1)
    # A cube of side 41 plus an inserted ball: the displaced cube grows by the ball's volume.
    assert moved.sum() == pytest.approx(anatomy_like.sum() + 4 / 3 * np.pi * 6.0**3, rel=0.01)


def test_importing_the_synthetic_cohort_imports_neither_nilearn_nor_torch() -> None:
    code = (
        "import sys, mri_io.synthetic; "
        "print(sorted({'nilearn', 'torch', 'matplotlib'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_varied_brain_turns_only_white_matter_grey(seed: int) -> None:
    """With grey variety the brain keeps its shape, CSF and total tissue; white matter in the
    added nuclei and islands becomes grey matter, and where they fall differs between brains."""
    grid = FULL_GRID.coarsened(3)
    plain = procedural_anatomy(grid, np.random.default_rng(seed))
    varied = procedural_anatomy(grid, np.random.default_rng(seed), grey_variety=True)
    np.testing.assert_array_equal(varied.tissues[0], plain.tissues[0])  # CSF untouched
    np.testing.assert_allclose(varied.tissues.sum(axis=0), plain.tissues.sum(axis=0), atol=1e-5)
    moved = varied.tissues[1] - plain.tissues[1]
    np.testing.assert_allclose(moved, plain.tissues[2] - varied.tissues[2], atol=1e-5)
    assert moved.min() > -1e-6  # nothing becomes white matter
    added = moved.sum() * np.prod(grid.spacing) / 1000
    assert 2 < added < 120  # millilitres: nuclei and islands, not a lobe
    grey, white = varied.tissues[1].sum(), varied.tissues[2].sum()
    assert 0.3 < grey / (grey + white) < 0.65  # still an adult brain's proportions


def test_the_added_grey_matter_differs_from_brain_to_brain() -> None:
    grid = FULL_GRID.coarsened(3)
    added = []
    for seed in (0, 1):
        plain = procedural_anatomy(grid, np.random.default_rng(seed))
        varied = procedural_anatomy(grid, np.random.default_rng(seed), grey_variety=True)
        added.append(varied.tissues[1] - plain.tissues[1] > 0.5)
    overlap = (added[0] & added[1]).sum() / max(1, (added[0] | added[1]).sum())
    assert overlap < 0.5

"""Tumour labels of the synthetic cohort: BraTS nesting, shapes, and where they may lie."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import ndimage

from mri_io.synthetic import FULL_GRID, Grid, SyntheticCase, generate_case
from mri_io.synthetic.case import TumourChoice
from mri_io.synthetic.tumours import EDEMA, ENHANCING, NETC, Lesion, draw_lesions
from mri_io.synthetic.warp import WarpedAnatomy

FULL_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)
LESION_KINDS: tuple[TumourChoice, ...] = ("gbm", "met", "men")

Cases = dict[str, list[SyntheticCase]]


def _foreground(case: SyntheticCase) -> NDArray[np.bool_]:
    return np.asarray(np.logical_or.reduce([image > 0 for image in case.images.values()]))


@pytest.mark.parametrize("kind", ["gbm", "met", "men"])
def test_labels_are_brats_labels_inside_the_imaged_head(synthetic_cases: Cases, kind: str) -> None:
    for case in synthetic_cases[kind]:
        assert case.labels.dtype == np.uint8
        assert set(np.unique(case.labels)) <= {0, NETC, EDEMA, ENHANCING}
        assert np.count_nonzero(case.labels) > 0
        assert not np.any(case.labels[~_foreground(case)])


@pytest.mark.parametrize("kind", ["gbm", "met"])
def test_necrosis_is_enclosed_by_enhancing_rim(synthetic_cases: Cases, kind: str) -> None:
    for case in synthetic_cases[kind]:
        core = np.isin(case.labels, (NETC, ENHANCING))
        necrosis = case.labels == NETC
        touching = ndimage.binary_dilation(~core, structure=FULL_CONNECTIVITY) & necrosis
        assert not touching.any(), case.case_id


@pytest.mark.parametrize("kind", ["gbm", "met"])
def test_every_lesion_has_a_core_and_edema_surrounds_it(synthetic_cases: Cases, kind: str) -> None:
    for case in synthetic_cases[kind]:
        components, count = ndimage.label(case.labels > 0, structure=FULL_CONNECTIVITY)
        core = np.isin(case.labels, (NETC, ENHANCING))
        with_core = np.unique(components[core])
        assert set(with_core) == set(range(1, count + 1)), case.case_id
        # Edema lies around the core: the core's centre of mass is inside the tumour's hull,
        # and edema is found on both sides of it along every axis.
        if kind == "gbm":
            centre = np.array(ndimage.center_of_mass(core))
            edema = np.argwhere(case.labels == EDEMA)
            assert len(edema) > 0
            assert np.all(edema.min(axis=0) < centre)
            assert np.all(edema.max(axis=0) > centre)


def test_glioblastoma_core_has_the_drawn_size(synthetic_cases: Cases) -> None:
    voxel_volume = float(np.prod(FULL_GRID.coarsened(3).spacing))
    for case in synthetic_cases["gbm"]:
        core_mm3 = np.count_nonzero(np.isin(case.labels, (NETC, ENHANCING))) * voxel_volume
        diameter = 2 * np.cbrt(core_mm3 * 3 / (4 * np.pi))
        assert 10.0 < diameter < 30.0, (case.case_id, diameter)
        necrosis = np.count_nonzero(case.labels == NETC)
        enhancing = np.count_nonzero(case.labels == ENHANCING)
        assert 0 < necrosis < enhancing + necrosis


def test_metastases_are_several_separate_lesions(synthetic_cases: Cases) -> None:
    for case in synthetic_cases["met"]:
        _, count = ndimage.label(case.labels > 0, structure=FULL_CONNECTIVITY)
        assert count >= 2, case.case_id
        assert count == case.lesions
        # Disproportionate edema: more edema than tumour core.
        core = np.count_nonzero(np.isin(case.labels, (NETC, ENHANCING)))
        assert np.count_nonzero(case.labels == EDEMA) > core


def test_meningioma_is_enhancing_and_touches_the_brain_surface(synthetic_cases: Cases) -> None:
    for case in synthetic_cases["men"]:
        assert not np.any(case.labels == NETC)
        enhancing = case.labels == ENHANCING
        outside = ~_foreground(case)
        assert np.any(ndimage.binary_dilation(enhancing) & outside), case.case_id
        assert np.any(ndimage.binary_dilation(enhancing) & (case.tissues == 2))  # grey matter


def test_healthy_cases_have_no_labels(synthetic_cases: Cases) -> None:
    for case in synthetic_cases["none"]:
        assert not case.labels.any()
        assert case.tumour == "none"
        assert case.lesions == 0


def _flat_anatomy(shape: tuple[int, int, int], white_x_below: int) -> WarpedAnatomy:
    """White matter for x < ``white_x_below``, grey matter elsewhere; midline in the middle."""
    tissues = np.zeros((3, *shape), dtype=np.float32)
    tissues[2, :white_x_below] = 1.0
    tissues[1, white_x_below:] = 1.0
    x = np.arange(shape[0], dtype=np.float32) - shape[0] / 2 + 0.5
    lateral = np.broadcast_to(x[:, None, None], shape).astype(np.float32)
    box = (slice(0, shape[0]), slice(0, shape[1]), slice(0, shape[2]))
    return WarpedAnatomy(tissues, lateral, box)


def _lesion(centre: NDArray[np.float64], radius: float, edema: float) -> Lesion:
    return Lesion(
        "gbm",
        centre,
        np.full(3, radius),
        np.eye(3),
        necrosis=0.5,
        edema=edema,
        push=0.0,
        roughness=0.0,
        seed=0,
    )


def test_edema_stops_at_the_midline_and_prefers_white_matter() -> None:
    shape = (48, 40, 40)
    grid = Grid(shape, np.eye(4))
    # Tumour 3.5 voxels from the midline plane at x = 23.5; its edema would reach 12.
    warped = _flat_anatomy(shape, white_x_below=shape[0])
    centre = np.array([20.0, 20.0, 20.0])
    labels = draw_lesions([_lesion(centre, 6.0, 2.0)], warped, grid)
    assert np.any(labels[:24] == EDEMA)
    assert not np.any(labels[24:] == EDEMA)
    # A tumour on a white/grey boundary (no midline nearby): edema reaches further into
    # white matter than into grey matter.
    warped = _flat_anatomy(shape, white_x_below=10)
    labels = draw_lesions([_lesion(np.array([10.0, 20.0, 20.0]), 4.0, 1.8)], warped, grid)
    edema = np.argwhere(labels == EDEMA)
    reach_white = 10.0 - edema[:, 0].min()
    reach_grey = edema[:, 0].max() - 10.0
    assert reach_white > reach_grey + 1


def test_enhancing_rim_is_closed_even_for_a_thin_rim() -> None:
    shape = (24, 24, 24)
    grid = Grid(shape, np.eye(4))
    warped = _flat_anatomy(shape, white_x_below=24)
    warped = WarpedAnatomy(warped.tissues, np.ones(shape, np.float32), warped.box)
    lesion = Lesion(
        "gbm",
        np.array([11.3, 12.0, 11.7]),
        np.array([4.0, 5.0, 3.0]),
        np.eye(3),
        necrosis=0.9,
        edema=0.0,
        push=0.0,
        roughness=0.1,
        seed=3,
    )
    labels = draw_lesions([lesion], warped, grid)
    core = labels > 0
    assert np.any(labels == NETC)
    assert not np.any(
        ndimage.binary_dilation(~core, structure=FULL_CONNECTIVITY) & (labels == NETC)
    )


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    index=st.integers(0, 99_999),
    kind=st.sampled_from(LESION_KINDS),
)
def test_label_invariants_hold_for_any_seed(seed: int, index: int, kind: TumourChoice) -> None:
    grid = FULL_GRID.coarsened(4)
    case = generate_case(index, seed=seed, grid=grid, tumour=kind, centre="research-3t")
    core = np.isin(case.labels, (NETC, ENHANCING))
    assert core.any()
    assert not np.any(case.labels[~_foreground(case)])
    necrosis = case.labels == NETC
    assert not np.any(ndimage.binary_dilation(~core, structure=FULL_CONNECTIVITY) & necrosis)
    components, count = ndimage.label(case.labels > 0, structure=FULL_CONNECTIVITY)
    assert set(np.unique(components[core])) == set(range(1, count + 1))
    if kind == "met":
        assert count >= 2

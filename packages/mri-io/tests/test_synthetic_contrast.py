"""The sequence model: tissue contrasts of the table, partial-volume mixing, scanner units."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage

from mri_io.synthetic import CONTRAST, TISSUE_CLASSES, Centre, SyntheticCase, generate_case
from mri_io.synthetic.contrast import dominant_tissue, render, tissue_fractions

Cases = dict[str, list[SyntheticCase]]

#: A scanner without bias, noise, blur or gamma, and the same units for every sequence.
IDEAL = Centre(
    "ideal",
    "no acquisition effects",
    dict.fromkeys(CONTRAST, 1.0),
    slice_axis=2,
    bias=0.0,
    noise=0.0,
    gamma=1.0,
    scale=dict.fromkeys(CONTRAST, 1000.0),
)


@pytest.fixture(scope="module")
def glioblastomas() -> list[SyntheticCase]:
    """Four cases at 2 mm from an ideal scanner: only the tissue model shapes intensities.

    Necrosis is small, and tumour texture is correlated over 3 mm, so fewer cases leave too
    few independent necrotic voxels for a stable median.
    """
    return [
        generate_case(index, seed=9, grid="half", tumour="gbm", centre=IDEAL) for index in range(4)
    ]


def _pooled(cases: list[SyntheticCase], sequence: str, depth: int = 1) -> dict[str, float]:
    """Median intensity of each class over voxels ``depth`` voxels or more inside it."""
    medians = {}
    for k, name in enumerate(TISSUE_CLASSES):
        values = np.concatenate(
            [
                case.images[sequence][
                    ndimage.binary_erosion(case.tissues == k + 1, iterations=depth)
                ]
                for case in cases
            ]
        )
        if values.size >= 20:
            medians[name] = float(np.median(values))
    return medians


@pytest.mark.parametrize("sequence", list(CONTRAST))
def test_tissue_medians_are_ordered_as_the_table(
    glioblastomas: list[SyntheticCase], sequence: str
) -> None:
    medians = _pooled(glioblastomas, sequence)
    assert set(medians) == set(TISSUE_CLASSES)
    table = CONTRAST[sequence]
    for a, b in itertools.combinations(TISSUE_CLASSES, 2):
        if abs(table[a] - table[b]) >= 0.03:  # texture is +-3 %, symmetric
            assert (medians[a] > medians[b]) == (table[a] > table[b]), (sequence, a, b, medians)


def test_brats_hallmarks(glioblastomas: list[SyntheticCase]) -> None:
    medians = {s: _pooled(glioblastomas, s) for s in CONTRAST}
    assert medians["t2f"]["edema"] > 1.4 * medians["t2f"]["wm"]  # FLAIR-bright edema
    assert medians["t1c"]["enhancing"] > 1.5 * medians["t1c"]["necrosis"]  # ring enhancement
    assert medians["t1c"]["enhancing"] > 1.3 * medians["t1c"]["wm"]
    assert medians["t2f"]["csf"] < 0.4 * medians["t2f"]["gm"]  # dark CSF in FLAIR
    assert medians["t2w"]["csf"] > 1.6 * medians["t2w"]["gm"]  # bright CSF in T2


def test_medians_match_the_table_values(glioblastomas: list[SyntheticCase]) -> None:
    for sequence, table in CONTRAST.items():
        medians = _pooled(glioblastomas, sequence, depth=2)
        # White matter and edema are thick enough to have voxels free of partial volume
        # (sulcal CSF and the cortical ribbon are not, so they are only checked for order);
        # a ratio cancels the per-case scanner gain.
        ratio = medians["edema"] / medians["wm"]
        assert ratio == pytest.approx(table["edema"] / table["wm"], rel=0.03), sequence


def test_scanner_units_are_brats_like(synthetic_cases: Cases) -> None:
    for case in synthetic_cases["gbm"]:
        for sequence, image in case.images.items():
            brain = image[case.tissues > 0]
            assert 150 < np.median(brain) < 3000, sequence
            assert image.max() < 32767
            assert np.all(image >= 0)
            assert np.all(image[case.tissues == 0][:100] >= 0)


def test_render_mixes_partial_volumes_linearly() -> None:
    rng = np.random.default_rng(0)
    fractions = rng.dirichlet(np.ones(7), size=(6, 5, 4)).astype(np.float32)
    fractions = np.moveaxis(fractions[..., :6], -1, 0)  # the 7th part is background
    flat = np.zeros((6, 5, 4), dtype=np.float32)
    for sequence, table in CONTRAST.items():
        image = render(fractions, sequence, flat)
        expected = sum(
            np.float64(table[name]) * fractions[k].astype(np.float64)
            for k, name in enumerate(TISSUE_CLASSES)
        )
        np.testing.assert_allclose(image, expected, rtol=1e-5)


def test_tumour_takes_its_share_from_healthy_tissue() -> None:
    tissues = np.zeros((3, 9, 9, 9), dtype=np.float32)
    tissues[2] = 1.0
    labels = np.zeros((9, 9, 9), dtype=np.uint8)
    labels[3:6, 3:6, 3:6] = 3
    fractions = tissue_fractions(tissues, labels)
    np.testing.assert_allclose(fractions.sum(axis=0), 1.0, atol=1e-5)
    assert fractions[5, 4, 4, 4] > 0.9
    assert fractions[2, 4, 4, 4] < 0.1
    assert fractions[2, 0, 0, 0] == pytest.approx(1.0)
    classes = dominant_tissue(fractions)
    np.testing.assert_array_equal(classes == 6, labels == 3)
    np.testing.assert_array_equal(classes, np.argmax(fractions, axis=0) + 1)

"""SynthTumour's synthesis: the stage-1 tumour model and the stage-2 CarveMix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import binary_dilation, binary_erosion, gaussian_filter

from mri_io.intensity import Normaliser
from mri_io.layouts import scan_cases
from mri_io.synthetic import FULL_GRID
from mri_io.synthetic.cohort import write_cohort
from mri_seg.synthtumour import (
    INTENSITY_FACTORS,
    ShapeModel,
    SynthTumourConfig,
    carve_mix,
    draw_factors,
    draw_tumour,
    paint_tumour,
    preset_config,
)
from mri_seg.synthtumour.data import BrainStack, read_stack, synthesise
from mri_seg.synthtumour.tumours import smooth_noise

SEQUENCES = ("t1n", "t1c", "t2w", "t2f")
SMALL_GRID = FULL_GRID.coarsened(4)


@pytest.fixture(scope="module")
def brain(tmp_path_factory: pytest.TempPathFactory) -> BrainStack:
    """One healthy brain of the 4 mm synthetic grid."""
    folder = tmp_path_factory.mktemp("healthy")
    write_cohort(
        folder, 1, seed=2, centres=["research-3t"], tumour="none", grid=SMALL_GRID, progress=False
    )
    return read_stack(scan_cases(folder)[0], SEQUENCES)


def test_same_seed_same_tumour_other_seed_other_tumour(brain: BrainStack) -> None:
    first = synthesise(brain, SEQUENCES, ShapeModel(), np.random.default_rng(5), hard=False)
    again = synthesise(brain, SEQUENCES, ShapeModel(), np.random.default_rng(5), hard=False)
    other = synthesise(brain, SEQUENCES, ShapeModel(), np.random.default_rng(6), hard=False)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    assert not np.array_equal(first[0], other[0])
    # The brain's depth map, kept between samples, draws the tumour computing it afresh draws.
    kept = draw_tumour(brain.brain, brain.spacing, np.random.default_rng(7), depth=brain.depth)
    np.testing.assert_array_equal(
        kept, draw_tumour(brain.brain, brain.spacing, np.random.default_rng(7))
    )


@pytest.mark.parametrize("seed", range(8))
def test_shape_volume_in_range_inside_brain_and_nested(brain: BrainStack, seed: int) -> None:
    model = ShapeModel()
    rng = np.random.default_rng(seed)
    labels = draw_tumour(brain.brain, brain.spacing, rng, model)
    voxel = float(np.prod(brain.spacing))
    whole = labels > 0
    # The level set holds the drawn volume rounded to whole voxels: half a voxel either side.
    assert model.min_volume - voxel / 2 <= whole.sum() * voxel <= model.max_volume + voxel / 2
    assert not (whole & ~brain.brain).any()
    core = np.isin(labels, (1, 3))
    necrosis = labels == 1
    low, high = model.core_share
    assert low * whole.sum() - 1 <= core.sum() <= high * whole.sum() + 1
    low, high = model.necrosis_share
    assert low * core.sum() - 1 <= necrosis.sum() <= high * core.sum() + 1
    # Nested: the core is carved from the whole tumour's lowest level, so most of it is away
    # from the whole tumour's border (an unnested core would touch the border everywhere).
    interior = binary_erosion(whole)
    assert (core & interior).sum() > 0.5 * core.sum()


def test_shape_volumes_scale_with_the_voxel_size(brain: BrainStack) -> None:
    """The same mm^3 range on a grid of 2 mm voxels holds 8 times the voxels (brain permitting)."""
    model = ShapeModel(min_volume=30000, max_volume=30000)
    coarse = draw_tumour(brain.brain, brain.spacing, np.random.default_rng(1), model)
    fine = draw_tumour(brain.brain, (2.0, 2.0, 2.0), np.random.default_rng(1), model)
    assert (fine > 0).sum() == round(30000 / 8)
    assert (coarse > 0).sum() == round(30000 / 64)


def test_factors_come_from_the_documented_ranges() -> None:
    factors = draw_factors(SEQUENCES, np.random.default_rng(0))
    for key in SEQUENCES:
        for label, value in factors[key].items():
            low, high = INTENSITY_FACTORS[key][label]
            assert low <= value <= high


def test_hard_painting_scales_only_the_tumour(brain: BrainStack) -> None:
    labels = draw_tumour(brain.brain, brain.spacing, np.random.default_rng(3))
    image = brain.images[3]
    factors = {1: 0.5, 2: 2.0, 3: 1.5}
    painted = paint_tumour(
        image, labels, factors, brain.spacing, np.random.default_rng(0), hard=True
    )
    for label, factor in factors.items():
        np.testing.assert_allclose(
            painted[labels == label], image[labels == label] * factor, rtol=1e-6
        )
    np.testing.assert_array_equal(painted[labels == 0], image[labels == 0])


def test_soft_painting_brightens_smoothly_and_keeps_the_background(brain: BrainStack) -> None:
    labels = draw_tumour(brain.brain, brain.spacing, np.random.default_rng(3))
    image = brain.images[3]
    factors = {1: 2.0, 2: 2.0, 3: 2.0}
    painted = paint_tumour(image, labels, factors, brain.spacing, np.random.default_rng(0))
    whole = labels > 0
    assert painted[whole].mean() > 1.5 * image[whole].mean()
    np.testing.assert_array_equal(painted[image == 0], 0)
    # The blur (at most 4 mm, one voxel here) fades within a few voxels of the tumour.
    far = ~binary_dilation(whole, iterations=4)
    np.testing.assert_allclose(painted[far & (image > 0)], image[far & (image > 0)], rtol=1e-3)


def _painted_on_the_whole_volume(
    image: np.ndarray, labels: np.ndarray, factors: dict[int, float], spacing, rng
) -> np.ndarray:
    """The soft painting written plainly over the whole volume: the reference the boxed
    computation must equal."""
    source = np.asarray(image, dtype=np.float64)
    step = np.asarray(spacing, dtype=np.float64)
    blur = rng.uniform(1.0, 4.0) / step
    weight = gaussian_filter((labels > 0).astype(np.float64), blur)
    weighted = sum(
        value * gaussian_filter((labels == label).astype(np.float64), blur)
        for label, value in factors.items()
    )
    factor = np.where(weight > 1e-6, weighted / np.maximum(weight, 1e-6), 1.0)
    texture = np.clip(
        1.0 + rng.uniform(0.05, 0.2) * smooth_noise(source.shape, 2.0 / step, rng), 0.5, 1.5
    )
    copy = gaussian_filter(source, rng.uniform(0.5, 1.5) / step) * factor * texture
    painted = (1.0 - weight) * source + weight * np.maximum(copy, 0.0)
    return np.where(source > 0, painted, 0.0).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_soft_painting_in_the_tumour_box_equals_painting_the_whole_volume(
    brain: BrainStack, seed: int
) -> None:
    rng = np.random.default_rng(100 + seed)
    labels = draw_tumour(brain.brain, brain.spacing, rng, depth=brain.depth)
    if seed == 3:  # a tumour against the volume's border: the filters reflect there
        labels = np.zeros_like(labels)
        labels[:3, 20:30, 10:20] = 2
        labels[:2, 22:26, 12:16] = 3
    factors = {1: 0.5, 2: 2.0, 3: 3.0}
    spacing = (4.0, 4.0, 4.0) if seed != 2 else (1.0, 1.0, 1.0)  # reaches of 4-16 voxels
    for image in brain.images:
        boxed = paint_tumour(image, labels, factors, spacing, np.random.default_rng(seed))
        plain = _painted_on_the_whole_volume(
            image, labels, factors, spacing, np.random.default_rng(seed)
        )
        np.testing.assert_array_equal(boxed, plain)
    # Nothing to paint: the image as it is (background 0), and the random stream used alike.
    empty = np.zeros_like(labels)
    image = brain.images[0]
    np.testing.assert_array_equal(
        paint_tumour(image, empty, factors, spacing, np.random.default_rng(seed)),
        _painted_on_the_whole_volume(image, empty, factors, spacing, np.random.default_rng(seed)),
    )


def test_carve_mix_pastes_the_donor_tumour_in_healthy_units(brain: BrainStack) -> None:
    rng = np.random.default_rng(9)
    donor_labels = draw_tumour(brain.brain, brain.spacing, rng)
    # A donor from another scanner: other units, and brighter inside its tumour.
    donor = brain.images * 3.0 + 50.0 * (brain.images > 0)
    donor[:, donor_labels > 0] *= 2.0
    healthy = brain.images[:, ::-1].copy()  # another brain: the same one mirrored
    mixed, labels = carve_mix(healthy, donor, donor_labels)
    mask = (donor_labels > 0) & (healthy > 0).any(axis=0)
    np.testing.assert_array_equal(labels, np.where(mask, donor_labels, 0))
    np.testing.assert_array_equal(mixed[:, ~mask], healthy[:, ~mask])
    zscore = Normaliser("zscore-volume")
    for channel in range(len(SEQUENCES)):
        params = zscore.params_for(healthy[channel])
        in_healthy_z = (mixed[channel][mask] - params.offset) / params.scale
        statistics = zscore.params_for(donor[channel])
        donor_z = (donor[channel][mask] - statistics.offset) / statistics.scale
        floor = healthy[channel][healthy[channel] > 0].min()
        above = mixed[channel][mask] > floor
        np.testing.assert_allclose(in_healthy_z[above], donor_z[above], rtol=1e-4, atol=1e-4)


def test_carve_mix_of_a_donor_into_itself_is_the_donor(brain: BrainStack) -> None:
    """The tumour's brightest voxels lie above the 99.5th-percentile clip of mri-io's z-score:
    pasting a case into itself must give it back, those voxels included, not clip them."""
    donor_labels = draw_tumour(brain.brain, brain.spacing, np.random.default_rng(4))
    donor = brain.images.copy()
    donor[:, donor_labels > 0] *= 3.0  # far brighter than the tissue around it
    clip = Normaliser("zscore-volume").params_for(donor[0]).clip
    assert (donor[0][donor_labels > 0] > clip).any()
    mixed, _ = carve_mix(donor, donor, donor_labels)
    np.testing.assert_allclose(mixed, donor, rtol=1e-5)


def test_carve_mix_refuses_other_grids(brain: BrainStack) -> None:
    with pytest.raises(ValueError, match="one grid"):
        carve_mix(brain.images, brain.images[:, :-1], np.zeros(brain.images.shape[1:], np.uint8))


def test_read_stack_never_opens_the_segmentation(tmp_path: Path, brain: BrainStack) -> None:
    source = brain.reference.path
    assert source is not None
    files = scan_cases(source.parent.parent)[0]
    seg = Path(str(files.sequences["t1n"]).replace("-t1n.", "-seg."))
    original = seg.read_bytes()
    try:
        seg.write_bytes(b"not a nifti file")
        again = read_stack(files, SEQUENCES)
    finally:
        seg.write_bytes(original)
    np.testing.assert_array_equal(again.images, brain.images)
    assert again.labels is None


def test_config_round_trip_and_refusals() -> None:
    config = preset_config("tiny", crop=(16, 16, 16), seed=3)
    assert SynthTumourConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    with pytest.raises(ValueError, match="min_volume"):
        preset_config("tiny", min_volume=5000, max_volume=1000)
    with pytest.raises(ValueError, match="real_share"):
        preset_config("tiny", real_share=1.5)
    with pytest.raises(ValueError, match="senior_init"):
        preset_config("tiny", senior_init="random")
    older = {k: v for k, v in config.to_json().items() if k != "senior_init"}
    assert SynthTumourConfig.from_json(older).senior_init == "scratch"
    with pytest.raises(ValueError, match="unknown preset"):
        preset_config("huge")

"""The 3D U-Net's MONAI data pipeline: crops, padding, tumour bias, flips, augmentation,
seeding, caches, workers and the split of a step's samples over processes."""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mri_io.layouts import scan_cases
from mri_seg.targets import TargetSpec
from mri_seg.unet import TrainConfig
from mri_seg.unet.data import CropSamples, case_dataset, epoch_loader, training_transforms

#: No augmentation: the crop alone.
PLAIN = TrainConfig(
    crop=(8, 8, 8),
    flip_prob=0.0,
    scale_intensity_prob=0.0,
    shift_intensity_prob=0.0,
    noise_prob=0.0,
    bias_field_prob=0.0,
    contrast_prob=0.0,
)


def _item(shape: tuple[int, int, int] = (20, 24, 12)) -> dict[Hashable, Any]:
    rng = np.random.default_rng(0)
    images = rng.normal(size=(4, *shape)).astype(np.float32)
    images[:, :2] = -1.0  # a background border
    labels = np.zeros(shape, dtype=np.uint8)
    labels[15:18, 3:6, 2:4] = 3
    labels[14, 2, 1] = 2
    return {"case_id": "case", "image": images, "label": labels[None]}


def _sample(
    config: TrainConfig, item: dict[Hashable, Any], seed: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    transform = training_transforms(config, TargetSpec())
    transform.set_random_state(seed=seed)
    out = transform(dict(item))
    sample = out[0] if isinstance(out, list) else out
    return np.asarray(sample["image"]), np.asarray(sample["target"])


def test_crop_size_and_padding() -> None:
    image, target = _sample(replace(PLAIN, crop=(16, 32, 16)), _item(), 1)
    assert image.shape == (4, 16, 32, 16)
    assert target.shape == (3, 16, 32, 16)
    # 24 -> 32 and 12 -> 16: padded with background (-1 images, 0 target).
    assert np.count_nonzero(image == -1) >= 4 * 16 * (8 * 16 + 32 * 4 - 8 * 4)


def test_foreground_crops_always_hold_tumour() -> None:
    config = replace(PLAIN, foreground_fraction=1.0)
    for seed in range(20):
        _, target = _sample(config, _item((40, 40, 40)), seed)
        assert target[0].any()


def test_crop_is_an_exact_window_of_the_case() -> None:
    item = _item((30, 30, 30))
    image, target = _sample(replace(PLAIN, crop=(10, 10, 10)), item, 3)
    full, encoded = item["image"], TargetSpec().encode(item["label"][0])
    hits = [
        (x, y, z)
        for x in range(21)
        for y in range(21)
        for z in range(21)
        if np.array_equal(full[:, x : x + 10, y : y + 10, z : z + 10], image)
    ]
    assert len(hits) == 1
    x, y, z = hits[0]
    np.testing.assert_array_equal(encoded[:, x : x + 10, y : y + 10, z : z + 10], target)


def test_flips_move_images_and_target_together() -> None:
    item = _item((16, 16, 16))
    encoded = TargetSpec().encode(item["label"][0])
    seen = set()
    for seed in range(12):
        image, target = _sample(replace(PLAIN, crop=(16, 16, 16), flip_prob=0.5), item, seed)
        flipped = [
            axes
            for axes in [(), (1,), (2,), (3,), (1, 2), (1, 3), (2, 3), (1, 2, 3)]
            if np.array_equal(np.flip(item["image"], axes), image)
        ]
        assert len(flipped) == 1
        np.testing.assert_array_equal(np.flip(encoded, flipped[0]), target)
        seen.add(flipped[0])
    assert len(seen) > 2


def test_intensity_augmentation_changes_the_brain_and_keeps_the_background() -> None:
    config = replace(
        PLAIN,
        crop=(20, 24, 12),
        scale_intensity_prob=1.0,
        shift_intensity_prob=1.0,
        noise_prob=1.0,
        bias_field_prob=1.0,
        contrast_prob=1.0,
    )
    item = _item()
    image, _ = _sample(config, item, 5)
    plain, _ = _sample(replace(config, **dict.fromkeys(_INTENSITY, 0.0)), item, 5)
    background = plain == -1
    assert background.any()
    np.testing.assert_array_equal(image[background], -1.0)
    assert not np.allclose(image[~background], plain[~background])


_INTENSITY = (
    "scale_intensity_prob",
    "shift_intensity_prob",
    "noise_prob",
    "bias_field_prob",
    "contrast_prob",
)


@pytest.mark.parametrize("seed", [0, 7])
def test_same_seed_same_sample(seed: int) -> None:
    config = replace(PLAIN, noise_prob=1.0, flip_prob=0.5)
    first = _sample(config, _item(), seed)
    second = _sample(config, _item(), seed)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def _batches(
    config: TrainConfig, cohort: Path, run: Path, world: int, workers: int = 0
) -> list[list[torch.Tensor]]:
    cases = scan_cases(cohort)
    dataset = case_dataset(cases, config, TargetSpec(), run)
    transform = training_transforms(config, TargetSpec())
    per_rank = []
    for rank in range(world):
        samples = CropSamples(
            dataset,
            len(cases),
            transform,
            seed=config.seed,
            epoch=1,
            steps=2,
            batch_size=config.batch_size,
            world_size=world,
        )
        loader = epoch_loader(samples, config.batch_size, workers, rank, world)
        per_rank.append([images for images, _ in loader])
    return [[batch for rank in per_rank for batch in [rank[step]]] for step in range(2)]


def test_caches_workers_and_processes_draw_the_same_samples(cohort: Path, tmp_path: Path) -> None:
    config = replace(TrainConfig(crop=(16, 16, 16), batch_size=2), noise_prob=0.5)
    memory = _batches(replace(config, cache="memory"), cohort, tmp_path / "a", 1)
    disk = _batches(config, cohort, tmp_path / "b", 1, workers=2)
    assert any((tmp_path / "b" / "cache").iterdir())  # the disk cache is used
    for step in range(2):
        assert torch.equal(memory[step][0], disk[step][0])
    # Two processes with batch 1 draw, step by step, the samples of one with batch 2.
    split = _batches(replace(config, batch_size=1), cohort, tmp_path / "c", 2)
    for step in range(2):
        together = torch.cat(split[step])
        assert sorted(together.sum(dim=(1, 2, 3, 4)).tolist()) == sorted(
            memory[step][0].sum(dim=(1, 2, 3, 4)).tolist()
        )
    assert not torch.equal(memory[0][0], memory[1][0])


def test_a_tumour_free_case_is_cropped_from_the_brain_without_a_warning() -> None:
    item = _item()
    item["label"] = np.zeros_like(item["label"])
    samples = CropSamples([item], 1, training_transforms(PLAIN, TargetSpec()), seed=0, epoch=1,
                          steps=2, batch_size=2)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # MONAI's "Num foregrounds 0" would fail here
        drawn = [samples[index] for index in range(len(samples))]
    for image, target in drawn:
        assert image.shape == (4, 8, 8, 8)
        assert not target.any()
        assert (image != -1).any()  # the crop holds brain, not only background


def test_workers_start_from_a_fork_server_once_cuda_is_up(
    cohort: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After CUDA initialisation workers are not forked from the threaded process: the
    samples travel to a fork server's children by pickling, and the batches are the same."""
    config = TrainConfig(crop=(16, 16, 16), batch_size=2)
    forked = _batches(config, cohort, tmp_path / "a", 1, workers=1)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    cases = scan_cases(cohort)
    samples = CropSamples(
        case_dataset(cases, config, TargetSpec(), tmp_path / "b"),
        len(cases),
        training_transforms(config, TargetSpec()),
        seed=config.seed,
        epoch=1,
        steps=2,
        batch_size=config.batch_size,
    )
    loader = epoch_loader(samples, config.batch_size, 1)
    assert loader.multiprocessing_context.get_start_method() == "forkserver"
    served = [images for images, _ in loader]
    for step in range(2):
        assert torch.equal(forked[step][0], served[step])


def _rotated_cube_item(size: int = 24) -> dict[Hashable, Any]:
    """A brain filling the crop (values in [0, 1)) with an off-centre tumour cube of value 3."""
    rng = np.random.default_rng(1)
    images = rng.uniform(size=(4, size, size, size)).astype(np.float32)
    labels = np.zeros((size, size, size), dtype=np.uint8)
    labels[4:12, 5:11, 6:12] = 2
    images[:, labels > 0] = 3.0
    return {"case_id": "case", "image": images, "label": labels[None]}


def test_affine_moves_images_and_labels_together_and_fills_with_background() -> None:
    item = _rotated_cube_item()
    config = replace(PLAIN, crop=(24, 24, 24), affine_prob=1.0)
    moved = 0
    for seed in range(6):
        image, target = _sample(config, item, seed)
        assert image.shape == (4, 24, 24, 24)
        # Labels are resampled by nearest neighbour: still exact label codes.
        assert set(np.unique(target)) <= {0.0, 1.0}
        _, plain_target = _sample(replace(config, affine_prob=0.0), item, seed)
        if np.array_equal(target, plain_target):
            continue
        moved += 1
        # What enters the crop from outside is background (-1), never 0 (tissue on this scale):
        # the corners of a rotated cube leave the original volume.
        corners = image[:, [0, 0, -1, -1], [0, -1, 0, -1], :]
        assert np.count_nonzero(corners == -1.0) > 0
        # The tumour moved with the image: the image is bright where the target says WT
        # (bilinear blur only at its rim) and the brightest voxels are WT; its volume stays
        # within the scaling range (0.9^3 - 1.1^3, with a margin for the voxelised rim).
        assert np.mean(image[:, target[0] > 0] > 1.5) > 0.85
        assert (target[0][image[0] > 2.9] > 0).all()
        ratio = target[0].sum() / plain_target[0].sum()
        assert 0.9**3 * 0.8 < ratio < 1.1**3 * 1.2
    assert moved >= 4


def test_affine_off_adds_no_transform() -> None:
    """``affine_prob`` 0 adds no transform, so every other random transform keeps its seed."""
    config = replace(PLAIN, noise_prob=1.0, flip_prob=0.5, crop=(16, 16, 8))
    transform = training_transforms(config, TargetSpec())
    names = [type(t).__name__ for t in transform.transforms]
    assert "RandAffined" not in names
    with_affine = training_transforms(replace(config, affine_prob=0.5), TargetSpec())
    assert "RandAffined" in [type(t).__name__ for t in with_affine.transforms]


def test_affine_probability_is_checked_and_stored_only_when_used() -> None:
    with pytest.raises(ValueError, match="affine_prob must be in"):
        TrainConfig(affine_prob=-0.1)
    assert "affine_prob" not in TrainConfig().to_json()
    stored = TrainConfig(affine_prob=0.3).to_json()
    assert stored["affine_prob"] == 0.3
    assert TrainConfig.from_json(stored).affine_prob == 0.3

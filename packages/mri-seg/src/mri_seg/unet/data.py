"""The 3D U-Net's training crops.

Crops are drawn from a seeded generator: half of them (``foreground_fraction``) centred on a
random tumour voxel, the rest anywhere in the brain's bounding box, as MONAI's
``RandCropByPosNegLabel`` does, so small tumours are seen often enough to be learned. Each crop
is flipped along each axis with probability 1/2.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from mri_io.intensity import BACKGROUND
from mri_seg.inputs import TrainingCase


def random_crop(
    case: TrainingCase,
    size: Sequence[int],
    rng: np.random.Generator,
    *,
    foreground_fraction: float = 0.5,
    flip: bool = True,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """A ``size`` crop of images and target (padded with background where the volume is
    smaller), centred on tumour with probability ``foreground_fraction``, randomly flipped."""
    images, target = _pad_to(case.images, case.target, size)
    shape = images.shape[1:]
    centre = _crop_centre(case, images, rng, foreground_fraction)
    start = [min(max(c - n // 2, 0), s - n) for c, n, s in zip(centre, size, shape, strict=True)]
    window = (slice(None), *(slice(b, b + n) for b, n in zip(start, size, strict=True)))
    image_crop, target_crop = images[window], target[window]
    if flip:
        axes = tuple(1 + axis for axis in range(3) if rng.random() < 0.5)
        if axes:
            image_crop = np.flip(image_crop, axes)
            target_crop = np.flip(target_crop, axes)
    return np.ascontiguousarray(image_crop), np.ascontiguousarray(target_crop)


def _crop_centre(
    case: TrainingCase,
    images: NDArray[np.float32],
    rng: np.random.Generator,
    foreground_fraction: float,
) -> list[int]:
    """A tumour voxel (with probability ``foreground_fraction``) or a brain-box voxel, in the
    coordinates of the padded ``images``."""
    shape = images.shape[1:]
    offset = [(s - c) // 2 for s, c in zip(shape, case.shape, strict=True)]
    if rng.random() < foreground_fraction:
        tumour = np.flatnonzero(case.labels)
        if tumour.size:
            index = np.unravel_index(int(tumour[rng.integers(tumour.size)]), case.shape)
            return [int(i) + o for i, o in zip(index, offset, strict=True)]
    brain = np.argwhere(images[0] != BACKGROUND)
    if not brain.size:
        return [int(rng.integers(s)) for s in shape]
    low, high = brain.min(axis=0), brain.max(axis=0)
    return [int(rng.integers(int(a), int(b) + 1)) for a, b in zip(low, high, strict=True)]


def _pad_to(
    images: NDArray[np.float32], target: NDArray[np.float32], size: Sequence[int]
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    widths = [max(n - s, 0) for n, s in zip(size, images.shape[1:], strict=True)]
    if not any(widths):
        return images, target
    pad = [(0, 0)] + [(w // 2, w - w // 2) for w in widths]
    return (
        np.pad(images, pad, constant_values=BACKGROUND),
        np.pad(target, pad, constant_values=0.0),
    )

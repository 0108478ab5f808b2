"""From case folders to network inputs: channel stacks, training targets, random crops.

Every sequence is z-scored on its own non-zero voxels (mri-io's ``zscore-volume`` scheme:
clamp negatives, clip at the 99.5th percentile, background -1), as MONAI's BraTS recipe does
per channel; training and inference share :func:`image_stack`, so a model sees at inference
exactly the intensities it was trained on.

Crops are drawn from a seeded generator: half of them (``foreground_fraction``) centred on a
random tumour voxel, the rest anywhere in the brain's bounding box, as MONAI's
``RandCropByPosNegLabel`` does, so small tumours are seen often enough to be learned. Each crop
is flipped along each axis with probability 1/2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mri_io.case import Case, load_case
from mri_io.errors import MissingSequenceError
from mri_io.intensity import BACKGROUND, Normaliser
from mri_io.layouts import CaseFiles
from mri_seg.errors import TrainingDataError
from mri_seg.targets import TargetSpec

Array = NDArray[Any]


def normalise(volume: Array) -> NDArray[np.float32]:
    """One sequence z-scored on its non-zero voxels; background becomes -1."""
    return Normaliser("zscore-volume").forward(volume).data


def image_stack(
    case: Case,
    sequences: Sequence[str],
    completion: Mapping[str, Array] | None = None,
) -> NDArray[np.float32]:
    """The normalised ``(len(sequences), X, Y, Z)`` input of ``case``.

    A sequence absent from the case is taken from ``completion`` (scanner-intensity arrays of
    the case's shape, e.g. a synthesised or copied sequence); without one, the case is refused
    with :class:`MissingSequenceError` naming the sequence, because a model trained on four
    sequences gives confident nonsense on a blank channel.
    """
    given = dict(completion or {})
    absent = [key for key in sequences if key not in case.images and key not in given]
    if absent:
        folder = next(iter(case.images.values())).path if case.images else None
        raise missing_sequence_error(
            folder.parent if folder is not None else None, case.case_id, absent, sequences
        )
    shape = _case_shape(case, given)
    channels = []
    for key in sequences:
        volume = case.images[key].data if key in case.images else np.asarray(given[key])
        if volume.shape != shape:
            raise ValueError(f"completion for {key} has shape {volume.shape}, the case {shape}")
        channels.append(normalise(volume))
    return np.stack(channels)


def missing_sequence_error(
    folder: Path | None, case_id: str, absent: Sequence[str], sequences: Sequence[str]
) -> MissingSequenceError:
    """The refusal of a case that lacks ``absent`` sequences of the model's ``sequences``."""
    return MissingSequenceError(
        folder,
        f"case {case_id} has no {', '.join(absent)} image; the model needs "
        f"{', '.join(sequences)}: give a completion for the missing sequence",
    )


def _case_shape(case: Case, given: Mapping[str, Array]) -> tuple[int, ...]:
    if case.images:
        return next(iter(case.images.values())).shape
    return tuple(np.asarray(next(iter(given.values()))).shape)


@dataclass(frozen=True)
class TrainingCase:
    """One case ready for training: normalised images and encoded target, full volume."""

    case_id: str
    images: NDArray[np.float32]
    target: NDArray[np.float32]
    labels: NDArray[np.uint8]

    @property
    def shape(self) -> tuple[int, int, int]:
        """Spatial shape."""
        x, y, z = self.images.shape[1:]
        return int(x), int(y), int(z)


def load_training_case(
    files: CaseFiles, sequences: Sequence[str], target: TargetSpec
) -> TrainingCase:
    """Read, check and encode one case; it must have every sequence and a segmentation."""
    case = load_case(files, label_profile=target.label_profile, require=sequences)
    if case.seg is None:
        raise TrainingDataError(files.folder, f"case {files.case_id} has no segmentation file")
    labels = case.seg.data.astype(np.uint8)
    return TrainingCase(files.case_id, image_stack(case, sequences), target.encode(labels), labels)


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

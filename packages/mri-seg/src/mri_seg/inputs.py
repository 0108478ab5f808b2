"""From case folders to network inputs, for every family: channel stacks and training cases.

Every sequence is z-scored on its own non-zero voxels (mri-io's ``zscore-volume`` scheme:
clamp negatives, clip at the 99.5th percentile, background -1), as MONAI's BraTS recipe does
per channel; training and inference share :func:`image_stack`, so a model sees at inference
exactly the intensities it was trained on.
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
from mri_io.intensity import Normaliser, Scheme
from mri_io.layouts import CaseFiles
from mri_seg.errors import TrainingDataError
from mri_seg.targets import TargetSpec

Array = NDArray[Any]


#: The intensity scheme (:class:`mri_io.intensity.Normaliser`) of every mri-seg family's
#: inputs, recorded in their model folders.
NORMALISATION: Scheme = "zscore-volume"


def normalise(volume: Array) -> NDArray[np.float32]:
    """One sequence z-scored on its non-zero voxels; background becomes -1."""
    return Normaliser(NORMALISATION).forward(volume).data


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
    case = load_case(files, label_convention=target.label_convention, require=sequences)
    if case.seg is None:
        raise TrainingDataError(files.folder, f"case {files.case_id} has no segmentation file")
    labels = case.seg.data.astype(np.uint8)
    return TrainingCase(files.case_id, image_stack(case, sequences), target.encode(labels), labels)

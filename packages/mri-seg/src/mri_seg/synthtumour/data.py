"""SynthTumour's training data: healthy brains in memory, tumours drawn on the fly.

Healthy brains and pseudo-labelled real cases are small beside what a run draws from them, so
they are read once and held in memory as scanner-intensity stacks ``(sequences, X, Y, Z)``.
Each training sample starts from a healthy brain picked by the 3D U-Net's
:class:`~mri_seg.unet.CropSamples` (seeded by ``(seed, epoch, step, sample)``); a MONAI
randomisable transform seeded from the same generator then makes the tumour image:

* stage 1 (:class:`SynthesiseTumourd`): a hand-crafted tumour (:mod:`.tumours`) painted in;
* stage 2 (:class:`MixTumourd`): with probability ``real_share`` a pseudo-labelled real case
  itself, otherwise a healthy brain with a pseudo-labelled real tumour pasted in
  (:func:`.mixing.carve_mix`).

Both normalise the result as inference does (:func:`mri_seg.inputs.normalise`) and hand it to
the U-Net's crop and augmentation (:func:`mri_seg.unet.training_transforms`), so a sample is
reproducible whatever the worker that draws it. The distribution-shifted validation set
(:func:`write_validation_cases`) is drawn once, with hard masks and original texture, and
written as case folders, so the U-Net's validation reads it like any cohort.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from monai.transforms.transform import Randomizable, Transform
from numpy.typing import NDArray

from mri_io.atomic import atomic_folder
from mri_io.case import Case, load_case
from mri_io.layouts import CaseFiles, brats2023_filename, scan_cases
from mri_io.nifti import Volume, save_volume
from mri_seg.inputs import normalise
from mri_seg.synthtumour.mixing import carve_mix
from mri_seg.synthtumour.tumours import (
    ShapeModel,
    brain_depth,
    draw_factors,
    draw_tumour,
    paint_tumour,
)
from mri_seg.unet.data import IMAGE, LABEL

#: The validation cases' ids: BraTS 2023 names of their own, ``BraTS-SYN-00000-000``, ...
VALIDATION_ID = "BraTS-SYN-{:05d}-000"


@dataclass(frozen=True)
class BrainStack:
    """One case in memory: scanner-intensity stack, voxel size, the first image's geometry
    (to write derived volumes) and, for a pseudo-labelled case, its pseudo labels."""

    case_id: str
    images: NDArray[np.float32]
    spacing: tuple[float, float, float]
    reference: Volume
    labels: NDArray[np.uint8] | None = None

    @cached_property
    def brain(self) -> NDArray[np.bool_]:
        """Voxels with signal in any sequence."""
        return np.asarray((self.images > 0).any(axis=0), dtype=bool)

    @cached_property
    def depth(self) -> NDArray[np.float64]:
        """:func:`~mri_seg.synthtumour.tumours.brain_depth` of :attr:`brain`, computed once for
        every tumour drawn in this brain."""
        return brain_depth(self.brain, self.spacing)


def unlabelled(files: CaseFiles) -> CaseFiles:
    """``files`` without the segmentation: what SynthTumour reads of an unlabelled or healthy
    case, so no label file is ever opened however the folder was prepared."""
    return CaseFiles(
        files.case_id,
        files.folder,
        files.layout,
        dict(files.sequences),
        None,
        files.missing,
        volumes=dict(files.volumes),
    )


def stack_of(
    case: Case, sequences: Sequence[str], labels: NDArray[np.uint8] | None = None
) -> BrainStack:
    """The in-memory stack of a loaded case (with pseudo ``labels`` when given)."""
    first = case.images[sequences[0]]
    stack = np.stack([case.images[key].data.astype(np.float32) for key in sequences])
    return BrainStack(case.case_id, stack, first.spacing, first, labels)


def read_stack(files: CaseFiles, sequences: Sequence[str]) -> BrainStack:
    """Read a case's images only (its segmentation file, if any, is never opened)."""
    return stack_of(load_case(unlabelled(files), require=sequences), sequences)


def _normalised(images: NDArray[np.floating]) -> NDArray[np.float32]:
    return np.stack([normalise(channel) for channel in images])


class SynthesiseTumourd(Randomizable, Transform):
    """Stage 1: paint a random hand-crafted tumour into a healthy brain sample."""

    def __init__(self, sequences: Sequence[str], shape: ShapeModel) -> None:
        self.sequences = tuple(sequences)
        self.shape = shape

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        rng = np.random.default_rng(self.R.randint(2**31))
        brain: BrainStack = data["case"]
        images, labels = synthesise(brain, self.sequences, self.shape, rng, hard=False)
        return {IMAGE: _normalised(images), LABEL: labels[None]}


def synthesise(
    brain: BrainStack,
    sequences: Sequence[str],
    shape: ShapeModel,
    rng: np.random.Generator,
    *,
    hard: bool,
) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """A stage-1 tumour case drawn from ``rng`` in ``brain``: scanner images and labels."""
    labels = draw_tumour(brain.brain, brain.spacing, rng, shape, depth=brain.depth)
    factors = draw_factors(sequences, rng)
    images = np.stack(
        [
            paint_tumour(image, labels, factors[key], brain.spacing, rng, hard=hard)
            for key, image in zip(sequences, brain.images, strict=True)
        ]
    )
    return images, labels


class MixTumourd(Randomizable, Transform):
    """Stage 2: a pseudo-labelled real case (probability ``real_share``) or a CarveMix of the
    healthy sample with a random pseudo-labelled tumour."""

    def __init__(self, donors: Sequence[BrainStack], real_share: float) -> None:
        if not donors or any(donor.labels is None for donor in donors):
            raise ValueError("stage 2 needs at least one pseudo-labelled case")
        self.donors = tuple(donors)
        self.real_share = real_share

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        healthy: BrainStack = data["case"]
        donor = self.donors[self.R.randint(len(self.donors))]
        assert donor.labels is not None
        if self.R.random_sample() < self.real_share:
            images, labels = donor.images, donor.labels
        else:
            images, labels = carve_mix(healthy.images, donor.images, donor.labels)
        return {IMAGE: _normalised(images), LABEL: labels[None]}


def sample_records(brains: Sequence[BrainStack]) -> list[dict[Hashable, Any]]:
    """The records the U-Net's :class:`~mri_seg.unet.CropSamples` picks from."""
    return [{"case": brain} for brain in brains]


def write_validation_cases(
    folder: Path,
    brains: Sequence[BrainStack],
    sequences: Sequence[str],
    count: int,
    shape: ShapeModel,
    seed: int,
) -> list[CaseFiles]:
    """Draw ``count`` hard-mask, original-texture tumour cases in ``brains`` (in turn) and
    write them as BraTS 2023 case folders under ``folder``; an existing set is read back."""
    if not (folder.is_dir() and len(scan_cases(folder)) == count):
        for index in range(count):
            brain = brains[index % len(brains)]
            rng = np.random.default_rng([seed, 104729, index])
            images, labels = synthesise(brain, sequences, shape, rng, hard=True)
            case_id = VALIDATION_ID.format(index)
            # Each case whole: a run killed mid-case must not leave a case, missing files, that
            # a resumed run counts and reads back.
            with atomic_folder(folder / case_id) as written:
                for key, image in zip(sequences, images, strict=True):
                    volume = brain.reference.with_data(image)
                    path = written / brats2023_filename(case_id, key)
                    save_volume(volume, path, dtype=np.float32)
                save_volume(
                    brain.reference.with_data(labels),
                    written / brats2023_filename(case_id, "seg"),
                    dtype=np.uint8,
                )
    return scan_cases(folder)

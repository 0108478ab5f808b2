"""The 3D U-Net's training data: MONAI datasets, transforms and loaders over case files.

Cases are read one at a time and never all held by every process:

* **cases** (:func:`case_dataset`): a MONAI dataset over one record per case (its id and
  files). Its only transform, :class:`LoadCased`, reads the case with mri-io's loader (every
  check of :func:`mri_io.case.load_case`) and normalises it with the function inference uses
  (:func:`mri_seg.inputs.image_stack`: each sequence z-scored on its own non-zero voxels,
  background -1), so training sees exactly the intensities a model sees at inference; a KLE
  model's anomaly map (:meth:`mri_seg.unet.kle.KLEBasis.anomaly`, from the whole case) is one
  more channel. The result is cached: ``cache="disk"`` (:class:`monai.data.PersistentDataset` in
  ``RUN/cache``; memory no longer grows with the cohort) or ``cache="memory"``
  (:class:`monai.data.CacheDataset`, fastest for small cohorts).
* **samples** (:class:`CropSamples`): sample ``j`` of step ``s`` of epoch ``e`` draws its
  case and seeds the random transforms from a generator seeded by ``(seed, e, s, j)``, so a
  sample does not depend on the worker that draws it, on the number of workers or on what came
  before: a resumed run draws exactly the samples of an uninterrupted one. For a robust model
  the same generator picks the sequences the sample keeps (:mod:`mri_seg.unet.robust`).
* **random transforms** (:func:`training_transforms`): pad to the crop size with the
  background; ``RandCropByPosNegLabeld`` centres a crop on tumour with probability
  ``foreground_fraction`` and otherwise on a brain voxel outside it; a random rotation and
  scaling of the crop (``RandAffined``: up to 15 degrees about each axis, up to 10 % larger or
  smaller; labels by nearest neighbour, what enters the crop is background); flips along each
  axis;
  intensity augmentation of the brain (``RandScaleIntensityd``, ``RandShiftIntensityd``,
  ``RandGaussianNoised``, ``RandBiasFieldd``, ``RandAdjustContrastd``; the background stays
  -1, as at inference); then the target encoding (:meth:`mri_seg.targets.TargetSpec.encode`).
* **loader** (:func:`epoch_loader`): a torch ``DataLoader`` with ``workers`` processes and,
  under ``torchrun``, a ``DistributedSampler``: of the ``steps x batch x world`` samples of an
  epoch, each step's ``batch x world`` are split over the ranks, so N processes with batch B
  draw exactly the samples one process with batch N*B draws.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.data.dataset import CacheDataset, PersistentDataset
from monai.transforms.compose import Compose
from monai.transforms.croppad.dictionary import RandCropByPosNegLabeld, SpatialPadd
from monai.transforms.intensity.dictionary import (
    RandAdjustContrastd,
    RandBiasFieldd,
    RandGaussianNoised,
    RandScaleIntensityd,
    RandShiftIntensityd,
    ShiftIntensityd,
)
from monai.transforms.spatial.dictionary import RandAffined, RandFlipd
from monai.transforms.transform import Transform
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from mri_io.intensity import BACKGROUND
from mri_io.layouts import CaseFiles
from mri_io.training import worker_start_method
from mri_seg.inputs import load_training_case
from mri_seg.targets import TargetSpec
from mri_seg.unet.config import TrainConfig
from mri_seg.unet.kle import KLEBasis
from mri_seg.unet.robust import SequenceDropout, encode

IMAGE, LABEL, TARGET, ANOMALY = "image", "label", "target", "anomaly"
_BACKGROUND_MASK = "background"
CACHE_FOLDER = "cache"


def case_records(
    cases: Sequence[CaseFiles], sequences: Sequence[str], kle: KLEBasis | None = None
) -> list[dict[str, Any]]:
    """One MONAI data record per case: its id, image files (in ``sequences`` order),
    segmentation file and, for a KLE model, the basis's digest. A disk cache is keyed by the
    record, so other files or another basis make other entries."""
    extra = {} if kle is None else {"kle": _digest(kle)}
    return [
        {
            "case_id": case.case_id,
            IMAGE: [str(case.sequences[key]) for key in sequences],
            LABEL: str(case.seg),
            **extra,
        }
        for case in cases
    ]


def _digest(kle: KLEBasis) -> str:
    digest = hashlib.sha256()
    for array in kle.arrays().values():
        digest.update(array.tobytes())
    return digest.hexdigest()


class LoadCased(Transform):
    """Read a record's case (mri-io checks) into the normalised ``image`` stack
    ``(sequences, X, Y, Z)`` float32, the ``label`` map ``(1, X, Y, Z)`` uint8 and, with
    ``kle``, the ``anomaly`` map ``(1, X, Y, Z)`` (kept apart until after the crop, whose
    background test looks at every image channel and would take the map's 0 for brain)."""

    def __init__(
        self,
        cases: Sequence[CaseFiles],
        sequences: Sequence[str],
        target: TargetSpec,
        kle: KLEBasis | None = None,
    ):
        self.cases = {case.case_id: case for case in cases}
        self.sequences = tuple(sequences)
        self.target = target
        self.kle = kle

    def __call__(self, record: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        loaded = load_training_case(self.cases[record["case_id"]], self.sequences, self.target)
        out: dict[Hashable, Any] = {
            "case_id": loaded.case_id,
            IMAGE: loaded.images,
            LABEL: loaded.labels[None],
        }
        if self.kle is not None:
            out[ANOMALY] = self.kle.anomaly(loaded.images)[None]
        return out


def case_dataset(
    cases: Sequence[CaseFiles],
    config: TrainConfig,
    target: TargetSpec,
    run_dir: Path,
    *,
    progress: bool = False,
    kle: KLEBasis | None = None,
) -> Dataset[dict[Hashable, Any]]:
    """The loaded, normalised training cases (with ``kle``'s anomaly channel), cached per
    ``config.cache``."""
    records = case_records(cases, config.sequences, kle)
    load = Compose([LoadCased(cases, config.sequences, target, kle)])
    if config.cache == "memory":
        return CacheDataset(records, load, cache_rate=1.0, num_workers=0, progress=progress)
    return PersistentDataset(records, load, cache_dir=run_dir / CACHE_FOLDER)


class MarkBackgroundd(Transform):
    """Remember where the image holds the background value (before intensity changes)."""

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        out = dict(data)
        out[_BACKGROUND_MASK] = torch.as_tensor(np.asarray(data[IMAGE]) == BACKGROUND)
        return out


class RestoreBackgroundd(Transform):
    """Put the background value back where :class:`MarkBackgroundd` found it."""

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        out = dict(data)
        mask = out.pop(_BACKGROUND_MASK)
        image = torch.as_tensor(np.asarray(out[IMAGE]), dtype=torch.float32)
        out[IMAGE] = torch.where(mask, torch.full_like(image, BACKGROUND), image)
        return out


class AppendAnomalyd(Transform):
    """The cropped anomaly map becomes the image's last channel, as at inference."""

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        out = dict(data)
        anomaly = torch.as_tensor(np.asarray(out.pop(ANOMALY)), dtype=torch.float32)
        image = torch.as_tensor(np.asarray(out[IMAGE]), dtype=torch.float32)
        out[IMAGE] = torch.cat([image, anomaly])
        return out


class EncodeTargetd(Transform):
    """The training ``target`` of the cropped ``label`` map (:meth:`TargetSpec.encode`)."""

    def __init__(self, target: TargetSpec) -> None:
        self.target = target

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        out = dict(data)
        labels = np.asarray(out.pop(LABEL))[0]
        out[TARGET] = torch.from_numpy(self.target.encode(labels))
        return out


def training_transforms(config: TrainConfig, target: TargetSpec) -> Compose:
    """The random crop and augmentation of one sample (probabilities from ``config``); a KLE
    model's anomaly map is cropped and flipped with the image but not intensity-augmented."""
    crop = config.crop_size
    extra = [ANOMALY] if config.kle else []
    keys = [IMAGE, LABEL, *extra]
    fraction = config.foreground_fraction
    return Compose(
        [
            SpatialPadd([IMAGE], crop, value=BACKGROUND),
            SpatialPadd([LABEL, *extra], crop, value=0),
            RandCropByPosNegLabeld(
                keys,
                label_key=LABEL,
                spatial_size=crop,
                pos=fraction,
                neg=1.0 - fraction,
                num_samples=1,
                image_key=IMAGE,
                image_threshold=BACKGROUND,
            ),
            *_affine(keys, config.affine_prob),
            *(RandFlipd(keys, prob=config.flip_prob, spatial_axis=axis) for axis in range(3)),
            MarkBackgroundd(),
            RandScaleIntensityd([IMAGE], factors=0.1, prob=config.scale_intensity_prob),
            RandShiftIntensityd([IMAGE], offsets=0.1, prob=config.shift_intensity_prob),
            RandGaussianNoised([IMAGE], prob=config.noise_prob, std=0.1),
            RandBiasFieldd([IMAGE], prob=config.bias_field_prob, coeff_range=(0.0, 0.1)),
            RandAdjustContrastd([IMAGE], prob=config.contrast_prob, gamma=(0.7, 1.5)),
            RestoreBackgroundd(),
            *([AppendAnomalyd()] if config.kle else []),
            EncodeTargetd(target),
        ]
    )


#: Largest rotation (radians, about each axis) and relative scaling of the affine augmentation:
#: half of nnU-Net's default rotation (30 degrees) and a narrower scaling than its 0.7-1.4, so a
#: crop stays close to the anatomy and voxel size the model meets at inference.
AFFINE_ROTATION = np.deg2rad(15.0)
AFFINE_SCALE = 0.1


def _affine(keys: list[str], prob: float) -> list[Transform]:
    """The rotation and scaling of a crop, or nothing when ``prob`` is 0 (so runs without it
    draw exactly the random numbers they drew before the option existed).

    ``grid_sample`` fills what enters the crop with zeros, which is tissue on the z-scored
    scale; the image is lifted by ``-BACKGROUND`` around the transform so the fill is the
    background value. Labels are resampled by nearest neighbour, a KLE anomaly map (0 outside
    the brain) bilinearly.
    """
    if prob == 0.0:
        return []
    modes = ["nearest" if key == LABEL else "bilinear" for key in keys]
    return [
        ShiftIntensityd([IMAGE], offset=-BACKGROUND),
        RandAffined(
            keys,
            prob=prob,
            rotate_range=(AFFINE_ROTATION,) * 3,
            scale_range=(AFFINE_SCALE,) * 3,
            mode=modes,
            padding_mode="zeros",
        ),
        ShiftIntensityd([IMAGE], offset=BACKGROUND),
    ]


class CropSamples(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """The ``steps x batch_size x world_size`` samples of one epoch: ``(image, target)``.

    Index ``g`` is sample ``g % (batch_size * world_size)`` of step
    ``g // (batch_size * world_size)``; its generator, seeded by
    ``(seed, epoch, step, sample)``, picks the case, seeds the random transforms and, with
    ``dropout``, picks the sequences the sample keeps (encoded with their availability code).
    """

    def __init__(
        self,
        cases: Dataset[dict[Hashable, Any]],
        count: int,
        transform: Compose,
        *,
        seed: int,
        epoch: int,
        steps: int,
        batch_size: int,
        world_size: int = 1,
        dropout: SequenceDropout | None = None,
    ) -> None:
        self.cases, self.count, self.transform = cases, count, transform
        self.dropout = dropout
        self.seed, self.epoch, self.steps = seed, epoch, steps
        self.per_step = batch_size * world_size

    def __len__(self) -> int:
        return self.steps * self.per_step

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        step, sample = divmod(int(index), self.per_step)
        rng = np.random.default_rng([self.seed, self.epoch, step, sample])
        case = self.cases[int(rng.integers(self.count))]
        self.transform.set_random_state(seed=int(rng.integers(2**31)))
        with warnings.catch_warnings():
            # A tumour-free case has no foreground to centre a crop on, and MONAI says so on
            # every sample; its crops are drawn from the brain as intended.
            warnings.filterwarnings("ignore", _NO_FOREGROUND, UserWarning)
            out = self.transform(dict(case))
        item = out[0] if isinstance(out, list) else out
        image = torch.as_tensor(item[IMAGE]).as_subclass(torch.Tensor).float()
        target = torch.as_tensor(item[TARGET]).as_subclass(torch.Tensor).float()
        if self.dropout is not None:
            image = encode(image, self.dropout.sample(rng))
        return image.contiguous(), target.contiguous()


#: MONAI's warning when ``RandCropByPosNegLabeld`` meets a label map without foreground.
_NO_FOREGROUND = "Num foregrounds 0"


def epoch_loader(
    samples: CropSamples, batch_size: int, workers: int, rank: int = 0, world_size: int = 1
) -> DataLoader[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of one process: all samples in order, or under ``torchrun`` its share of
    each step (``DistributedSampler`` without shuffling: the samples are already random)."""
    sampler: DistributedSampler[tuple[torch.Tensor, torch.Tensor]] | None = (
        DistributedSampler(samples, num_replicas=world_size, rank=rank, shuffle=False)
        if world_size > 1
        else None
    )
    return DataLoader(
        samples,
        batch_size=batch_size,
        sampler=sampler,
        shuffle=False,
        num_workers=workers,
        multiprocessing_context=worker_start_method(workers),
    )

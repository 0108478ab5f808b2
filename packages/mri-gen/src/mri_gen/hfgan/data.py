"""Training slices streamed from BraTS-style case folders.

Cases are read one at a time (never the whole cohort in memory), normalised with the thesis
scheme of :mod:`mri_io.intensity` (negatives clamped, clip at the dataset's 99.5th percentile,
dataset-wide z-score, background -1), cut into square slices along each requested view with
:mod:`mri_io.slicing` (short sides padded with -1, 42 before and 43 after for 155 -> 240), and
filtered to slices where every sequence shows at least ``min_foreground`` of the plane as brain
(2000 pixels of a 240x240 BraTS slice). Slices from ``buffer_cases`` consecutive cases are
shuffled together, so a batch mixes patients and views.

Each slice also carries what the frozen 2D segmenter of the focal Tversky term must see, since
it was trained by mri-seg on other inputs than the generator's: the same slice of every
sequence z-scored on its own volume (mri-io's ``zscore-volume``, what mri-seg's training feeds
it), the map of each sequence from the generator's range into that one (see
:func:`mri_gen.hfgan.segmenter.segmenter_inputs`), and the case id, from which the segmenter
takes the tumour type as mri-seg does.

Order is a pure function of ``(seed, epoch)``; under DDP each rank reads its own share of the
cases (and each DataLoader worker a share of that), so no slice is seen twice in an epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import IterableDataset, get_worker_info

from mri_gen.hfgan.config import VIEW_NAMES
from mri_gen.hfgan.generator import BACKGROUND
from mri_io.case import load_case
from mri_io.intensity import IntensityStats, NormalisationParams, Normaliser
from mri_io.layouts import CaseFiles
from mri_io.slicing import MIN_FOREGROUND, SliceLayout, View, select_slices
from mri_io.training import worker_start_method

#: Fraction of a plane that must be brain, from the thesis' 2000 pixels of 240 x 240.
MIN_FOREGROUND_FRACTION = MIN_FOREGROUND / 240**2


@dataclass(frozen=True)
class SliceSource:
    """What the slices are cut from and how: the cases, statistics, views and slice size."""

    cases: tuple[CaseFiles, ...]
    stats: Mapping[str, IntensityStats]
    sequences: tuple[str, ...]
    views: tuple[View, ...]
    image_size: int
    min_foreground: float = MIN_FOREGROUND_FRACTION


def segmenter_map(dataset: NormalisationParams, volume: NormalisationParams) -> list[float]:
    """``[a, b, low, high]`` with ``clamp(a * y + b, low, high)`` taking a value ``y`` of the
    generator's range (``dataset``) to the segmenter's (``volume``) on brain pixels.

    Both are ``(min(x, clip) - offset) / scale`` of the raw intensity ``x``; the clamp is the
    volume scheme's own: raw intensities below 0 or above its clip cannot occur there.
    """
    a = dataset.scale / volume.scale
    b = (dataset.offset - volume.offset) / volume.scale
    return [a, b, -volume.offset / volume.scale, (volume.clip - volume.offset) / volume.scale]


def normalised_stack(
    images: Mapping[str, np.ndarray[Any, Any]],
    sequences: Sequence[str],
    stats: Mapping[str, IntensityStats],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """``(S, x, y, z)`` z-scored volumes (missing ones all -1) and the raw stack clamped at 0:
    a training case's slices (synthesis does the same on the model's device,
    :mod:`mri_io.tensors`)."""
    shape = next(iter(images.values())).shape
    normalised = np.full((len(sequences), *shape), BACKGROUND, dtype=np.float32)
    raw = np.zeros((len(sequences), *shape), dtype=np.float32)
    for index, name in enumerate(sequences):
        if name not in images:
            continue
        np.maximum(images[name], 0, out=raw[index], casting="unsafe")
        normalised[index] = Normaliser("zscore-dataset", stats[name]).forward(raw[index]).data
    return normalised, raw


class SliceDataset(IterableDataset[dict[str, Any]]):
    """Yields ``{"image": (S, H, W), "labels": (H, W), "view": ()}`` tensors, shuffled, with the
    segmenter's ``"seg_image"`` (S, H, W), ``"seg_map"`` (S, 4) and ``"case_id"`` (module doc).

    ``labels`` holds the case's segmentation (0 where it has none). Cases missing a sequence
    cannot teach every target and are skipped.
    """

    def __init__(self, source: SliceSource, *, seed: int, buffer_cases: int = 4) -> None:
        super().__init__()
        self.source = source
        self.seed = seed
        self.buffer_cases = buffer_cases
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order the next iteration follows."""
        self.epoch = epoch

    def _my_cases(self) -> list[CaseFiles]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.source.cases))
        cases = [self.source.cases[i] for i in order if not self.source.cases[i].missing]
        rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
        worker = get_worker_info()
        workers, worker_id = (1, 0) if worker is None else (worker.num_workers, worker.id)
        return cases[rank * workers + worker_id :: world * workers]

    def _case_slices(self, files: CaseFiles) -> list[dict[str, Any]]:
        source = self.source
        case = load_case(files, require=source.sequences)
        normalised, raw = normalised_stack(
            {k: v.data for k, v in case.images.items()}, source.sequences, source.stats
        )
        segmenter_stack = np.empty_like(normalised)
        maps = []
        for index, name in enumerate(source.sequences):
            own = Normaliser("zscore-volume").forward(raw[index])
            segmenter_stack[index] = own.data
            maps.append(
                segmenter_map(
                    Normaliser("zscore-dataset", source.stats[name]).params_for(raw[index]),
                    own.params,
                )
            )
        seg_map = torch.tensor(maps, dtype=torch.float32)
        labels = np.zeros(raw.shape[1:], np.int64) if case.seg is None else case.seg.data
        items = []
        for view in source.views:
            layout = SliceLayout.square(raw.shape[1:], view, size=source.image_size)
            plane = int(np.prod([n for a, n in enumerate(raw.shape[1:]) if a != layout.axis]))
            minimum = round(source.min_foreground * plane)
            chosen = select_slices(raw, view, min_foreground=minimum)
            images = layout.slices(normalised, chosen, pad=BACKGROUND)
            segmenter_images = layout.slices(segmenter_stack, chosen, pad=BACKGROUND)
            label_slices = layout.slices(labels.astype(np.int64), chosen, pad=0)
            view_index = torch.tensor(VIEW_NAMES.index(view))
            for image, seg_image, label in zip(images, segmenter_images, label_slices, strict=True):
                items.append(
                    {
                        "image": torch.from_numpy(np.ascontiguousarray(image)),
                        "labels": torch.from_numpy(np.ascontiguousarray(label)),
                        "view": view_index,
                        "seg_image": torch.from_numpy(np.ascontiguousarray(seg_image)),
                        "seg_map": seg_map,
                        "case_id": files.case_id,
                    }
                )
        return items

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rng = np.random.default_rng([self.seed, self.epoch, 1])
        cases = self._my_cases()
        for start in range(0, len(cases), self.buffer_cases):
            buffer: list[dict[str, Any]] = []
            for files in cases[start : start + self.buffer_cases]:
                buffer.extend(self._case_slices(files))
            for index in rng.permutation(len(buffer)):
                yield buffer[index]


class BatchStream:
    """An endless, resumable stream of batches: epoch after epoch of a :class:`SliceDataset`.

    ``position`` (epoch, batch within it) is saved with the training state; resuming skips
    to it, so an interrupted run sees exactly the batches an uninterrupted one would have.
    Each rank's stream is endless, so every rank takes the same number of steps under DDP
    even when their shares of slices differ.
    """

    def __init__(self, dataset: SliceDataset, batch_size: int, *, workers: int = 0) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.workers = workers
        self.epoch = 0
        self.batch = 0

    @property
    def position(self) -> tuple[int, int]:
        return self.epoch, self.batch

    def seek(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            self.dataset.set_epoch(self.epoch)
            loader = torch.utils.data.DataLoader(
                self.dataset,
                batch_size=self.batch_size,
                num_workers=self.workers,
                drop_last=True,
                multiprocessing_context=worker_start_method(self.workers),
            )
            produced = False
            for index, batch in enumerate(loader):
                produced = True
                if index < self.batch:
                    continue
                self.batch = index + 1
                yield batch
            if not produced:
                raise ValueError(
                    f"no batch of {self.batch_size} slices: the cases hold too few slices with "
                    "enough brain (lower the batch size or add cases)"
                )
            self.epoch, self.batch = self.epoch + 1, 0

"""The 2D segmenter's training data: tumour slices of every view, and their batches.

Slices of every requested view are cut from the normalised four-sequence stack
(:func:`mri_seg.inputs.image_stack`) with :class:`mri_io.slicing.SliceLayout`, padded with the
background value to a square whose side is a multiple of 8. Only slices with at least
``min_tumour_fraction`` tumour pixels (0.1 % in the thesis) are used. The tumour type of a case
comes from its BraTS identifier (``BraTS-MET-...`` is a metastasis) unless given explicitly.
A batch is drawn from a generator seeded by ``(seed, epoch, step)`` and each slice is flipped
along each in-plane axis with probability 1/2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from numpy.typing import NDArray

from mri_io.intensity import BACKGROUND
from mri_io.layouts import CaseFiles
from mri_io.slicing import SliceLayout, View, view_axis
from mri_seg.errors import TrainingDataError
from mri_seg.inputs import load_training_case
from mri_seg.segmenter2d.config import Segmenter2DConfig
from mri_seg.targets import TargetSpec

if TYPE_CHECKING:
    from mri_seg.segmenter2d.networks import Segmenter2D

_TYPE_IN_ID = re.compile(r"^BraTS-(?P<kind>[A-Za-z]+)-")
_TYPE_BY_DATASET = {"met": "met", "men": "men"}


def tumour_type_of(case_id: str) -> str:
    """``"met"``/``"men"`` for BraTS metastasis/meningioma identifiers, otherwise ``"gli"``."""
    match = _TYPE_IN_ID.match(case_id)
    return _TYPE_BY_DATASET.get(match["kind"].lower(), "gli") if match else "gli"


@dataclass(frozen=True)
class SliceSet:
    """Tumour slices of a set of cases: images, class maps, view and tumour-type indices."""

    images: NDArray[np.float32]
    classes: NDArray[np.int64]
    views: NDArray[np.int64]
    tumour_types: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.images.shape[0])


def _side(shape: Sequence[int], view: View) -> int:
    """The larger in-plane side of ``view``, rounded up to the segmenter's multiple of 8."""
    plane = max(n for axis, n in enumerate(shape) if axis != view_axis(view))
    return -(-plane // 8) * 8


def tumour_slices(
    folders: Sequence[CaseFiles],
    config: Segmenter2DConfig,
    model: Segmenter2D,
    tumour_types: Mapping[str, str] | None = None,
) -> SliceSet:
    """Every slice of every view with enough tumour, from the cases ``folders`` describes.

    Slices of all views are padded to one common side (the largest needed), so they batch.
    """
    spec = TargetSpec("labels")
    cases = [load_training_case(files, model.sequences, spec) for files in folders]
    side = max(_side(case.shape, view) for case in cases for view in config.views)
    images, classes, views, kinds = [], [], [], []
    for case in cases:
        kind = (tumour_types or {}).get(case.case_id) or tumour_type_of(case.case_id)
        view_codes, type_codes = model.codes(list(config.views), [kind] * len(config.views))
        for view, view_code, type_code in zip(config.views, view_codes, type_codes, strict=True):
            layout = SliceLayout.square(case.shape, view, side)
            labels = layout.slices(case.target[0], pad=0.0)
            pixels = np.count_nonzero(labels, axis=(1, 2))
            keep = np.flatnonzero(pixels >= config.min_tumour_fraction * labels[0].size)
            if keep.size == 0:
                continue
            images.append(layout.slices(case.images, keep, pad=BACKGROUND))
            classes.append(labels[keep].astype(np.int64))
            views.append(np.full(keep.size, int(view_code)))
            kinds.append(np.full(keep.size, int(type_code)))
    if not images:
        raise TrainingDataError(None, "no slice holds enough tumour to train on")
    return SliceSet(
        np.concatenate(images).astype(np.float32),
        np.concatenate(classes),
        np.concatenate(views).astype(np.int64),
        np.concatenate(kinds).astype(np.int64),
    )


def slice_batch(
    slices: SliceSet, config: Segmenter2DConfig, epoch: int, step: int
) -> tuple[torch.Tensor, ...]:
    rng = np.random.default_rng([config.seed, epoch, step])
    chosen = rng.integers(len(slices), size=config.batch_size)
    images, classes = slices.images[chosen], slices.classes[chosen]
    flips = rng.random((config.batch_size, 2)) < 0.5
    for i, (rows, columns) in enumerate(flips):
        axes = tuple(a for a, flip in ((-2, rows), (-1, columns)) if flip)
        if axes:
            images[i] = np.flip(images[i], axes)
            classes[i] = np.flip(classes[i], axes)
    return (
        torch.from_numpy(images),
        torch.from_numpy(classes),
        torch.from_numpy(slices.views[chosen]),
        torch.from_numpy(slices.tumour_types[chosen]),
    )

"""GANet-Seg's data: axial slices, the GAN's intensity range, the enhancement, random holes.

Cases are normalised as every mri-seg family does (:func:`mri_seg.inputs.image_stack`, z-score
per sequence, background -1) and cut into square axial slices whose side is a multiple of
:data:`~mri_seg.ganet.config.DIVISOR` (:class:`mri_io.slicing.SliceLayout`). Slices with
less than ``min_brain_fraction`` brain are dropped.

The GAN works in tanh's range: :func:`to_gan_range` maps z-scores in [-1, :data:`Z_MAX`]
linearly onto [-1, 1] (the background stays -1) and clips the rest. The segmenter reads the
z-scores, or their enhancement (:func:`enhance`).

Batches come from generators seeded by ``(seed, stage, epoch, step)``, so a run and its resumed
copy see the same slices, flips and holes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from scipy import ndimage

from mri_io.case import load_case
from mri_io.intensity import BACKGROUND
from mri_io.layouts import CaseFiles
from mri_io.slicing import SliceLayout
from mri_seg.errors import TrainingDataError
from mri_seg.ganet.config import DIVISOR, GANetConfig
from mri_seg.inputs import image_stack, load_training_case
from mri_seg.targets import TargetSpec

Float = NDArray[np.float32]

#: The z-score mapped to 1 in the GAN's range (the 99.5th-percentile clip keeps almost every
#: brain voxel of a z-scored sequence below it).
Z_MAX = 4.0


def to_gan_range(stack: Float) -> Float:
    """Z-scored images (background -1) linearly onto tanh's [-1, 1]."""
    scaled = (stack + 1.0) * (2.0 / (Z_MAX + 1.0)) - 1.0
    return np.clip(scaled, -1.0, 1.0).astype(np.float32)


def enhance(stack: Float) -> Float:
    """The paper's Appendix C enhancement of a normalised ``(C, ...)`` stack, per sequence,
    over brain voxels: log and exp transforms, CDF normalisation, linear scaling.

    The equations are missing from the text we have, so this is our reading of its steps:
    intensities min-max scaled to [0, 1] (``u``); the log (``log(1 + u) / log 2``, brightens the
    dark end) and exp (``(e^u - 1) / (e - 1)``, stretches the bright end) transforms averaged;
    its empirical CDF over the brain (histogram equalisation); and the mean of the two scaled
    linearly to [-2, 2] (the span of most z-scores). Averaging the curve with its CDF keeps the
    log/exp contrast, which a CDF alone (invariant to monotone maps) would erase. The
    background stays -1.
    """
    out = np.full(stack.shape, BACKGROUND, dtype=np.float32)
    for channel, image in enumerate(stack):
        brain = image > BACKGROUND
        values = image[brain].astype(np.float64)
        if values.size == 0:
            continue
        span = values.max() - values.min()
        u = (values - values.min()) / span if span > 0 else np.zeros_like(values)
        curve = 0.5 * (np.log1p(u) / np.log(2.0) + np.expm1(u) / (np.e - 1.0))
        cdf = np.searchsorted(np.sort(curve), curve, side="right") / curve.size
        out[channel][brain] = (4.0 * 0.5 * (curve + cdf) - 2.0).astype(np.float32)
    return out


def slice_side(shape: Sequence[int]) -> int:
    """The square side holding an axial plane of ``shape``, a multiple of the U-Nets' divisor."""
    plane = max(int(shape[0]), int(shape[1]))
    return -(-plane // DIVISOR) * DIVISOR


def axial_slices(stack: NDArray[np.float32], side: int) -> Float:
    """Every axial slice ``(Z, C, side, side)`` of a ``(C, X, Y, Z)`` stack, background-padded."""
    layout = SliceLayout.square(stack.shape[1:], "axial", side)
    return layout.slices(stack, pad=BACKGROUND).astype(np.float32)


def brain_fraction(slices: Float) -> NDArray[np.float64]:
    """Share of each slice's pixels where any sequence is above the background."""
    brain = (slices > BACKGROUND).any(axis=1)
    return np.asarray(brain.mean(axis=(1, 2)), dtype=np.float64)


def healthy_slices(
    folders: Sequence[CaseFiles], sequences: Sequence[str], min_brain_fraction: float
) -> Float:
    """The GAN's training slices ``(N, C, S, S)`` in its range: every axial slice with enough
    brain and, in cases that have a segmentation, no tumour label."""
    parts = []
    stacks = []
    for files in folders:
        case = load_case(files, require=sequences)
        stack = image_stack(case, sequences)
        tumour = None if case.seg is None else case.seg.data > 0
        stacks.append((stack, tumour))
    side = max(slice_side(stack.shape[1:]) for stack, _ in stacks)
    for stack, tumour in stacks:
        slices = axial_slices(stack, side)
        keep = brain_fraction(slices) >= min_brain_fraction
        if tumour is not None:
            keep &= ~tumour.any(axis=(0, 1))
        parts.append(to_gan_range(slices[keep]))
    images = np.concatenate(parts)
    if len(images) == 0:
        raise TrainingDataError(None, "no healthy slice holds enough brain to train the GAN on")
    return images


@dataclass(frozen=True)
class LabelledSlices:
    """The segmenter's training slices: its inputs, the same slices in the GAN's range, the
    class of every pixel, and which slices hold tumour."""

    inputs: Float
    gan_images: Float
    classes: NDArray[np.int64]
    tumour: NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.inputs.shape[0])


def class_map(labels: NDArray[np.uint8], mode: str) -> NDArray[np.int64]:
    """Class indices of BraTS 2023 labels: tumour 1 (``whole``) or the labels themselves."""
    return (labels > 0).astype(np.int64) if mode == "whole" else labels.astype(np.int64)


def labelled_slices(
    folders: Sequence[CaseFiles], sequences: Sequence[str], config: GANetConfig
) -> LabelledSlices:
    """Every axial slice with enough brain of the labelled cases ``folders``."""
    spec = TargetSpec("labels")
    cases = [load_training_case(files, sequences, spec) for files in folders]
    side = max(slice_side(case.shape) for case in cases)
    inputs, gan_images, classes, tumour = [], [], [], []
    for case in cases:
        slices = axial_slices(case.images, side)
        keep = brain_fraction(slices) >= config.min_brain_fraction
        cut = axial_slices(case.labels[None].astype(np.float32), side)[:, 0]
        labels = np.where(cut < 0, 0, cut)[keep].astype(np.uint8)
        source = axial_slices(enhance(case.images), side) if config.enhance else slices
        inputs.append(source[keep])
        gan_images.append(to_gan_range(slices[keep]))
        classes.append(class_map(labels, config.classes))
        tumour.append(labels.any(axis=(1, 2)))
    if not any(len(part) for part in inputs):
        raise TrainingDataError(None, "no labelled slice holds enough brain to train on")
    return LabelledSlices(
        np.concatenate(inputs),
        np.concatenate(gan_images),
        np.concatenate(classes),
        np.concatenate(tumour),
    )


def sample_hole(rng: np.random.Generator, brain: NDArray[np.bool_], kinds: Sequence[str]) -> Float:
    """One random hole ``(S, S)`` centred on a brain pixel: a square, a disc, or a tumour shape.

    Sizes span 1/16 to 1/6 of the side in radius. A tumour shape is drawn as the suite's
    synthetic tumours are: an ellipse of random axis ratio and angle whose normalised distance
    is deformed by a smooth random field, so its outline is irregular but closed.
    """
    side = brain.shape[0]
    inside = np.argwhere(brain)
    centre = inside[rng.integers(len(inside))] if len(inside) else np.array([side // 2] * 2)
    kind = kinds[int(rng.integers(len(kinds)))]
    radius = rng.uniform(side / 16, side / 6)
    rows, cols = np.mgrid[:side, :side].astype(np.float64)
    dy, dx = rows - centre[0], cols - centre[1]
    if kind == "square":
        hole = np.maximum(np.abs(dx), np.abs(dy)) <= radius
    elif kind == "disc":
        hole = np.hypot(dx, dy) <= radius
    else:
        ratio, angle = rng.uniform(1.0, 1.6), rng.uniform(0, np.pi)
        u = dx * np.cos(angle) + dy * np.sin(angle)
        v = -dx * np.sin(angle) + dy * np.cos(angle)
        distance = np.hypot(u / (radius * ratio), v * ratio / radius)
        field = ndimage.gaussian_filter(rng.standard_normal((side, side)), sigma=radius / 2)
        field /= max(float(field.std()), 1e-6)
        hole = distance * (1 + 0.25 * np.clip(field, -2, 2)) <= 1.0
    hole[centre[0], centre[1]] = True
    out: Float = hole.astype(np.float32)
    return out


def _flipped(rng: np.random.Generator, *arrays: NDArray[Any]) -> list[NDArray[Any]]:
    """The same random in-plane flips applied to every array (plane = last two axes)."""
    axes = tuple(a for a, flip in zip((-2, -1), rng.random(2) < 0.5, strict=True) if flip)
    return [np.ascontiguousarray(np.flip(a, axes)) if axes else a for a in arrays]


def gan_batch(
    images: Float, config: GANetConfig, epoch: int, step: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stage 1's batch: healthy slices ``(B, C, S, S)`` and their holes ``(B, 1, S, S)``."""
    rng = np.random.default_rng([config.seed, 1, epoch, step])
    chosen = rng.integers(len(images), size=config.gan_batch_size)
    batch, holes = [], []
    for index in chosen:
        (image,) = _flipped(rng, images[index])
        batch.append(image)
        brain = np.asarray((image > BACKGROUND).any(axis=0), dtype=bool)
        holes.append(sample_hole(rng, brain, config.holes))
    return torch.from_numpy(np.stack(batch)), torch.from_numpy(np.stack(holes)[:, None])


def seg_batch(
    slices: LabelledSlices, config: GANetConfig, epoch: int, step: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stage 2's batch: inputs, GAN-range images and class maps; each sample is a tumour slice
    with probability ``tumour_share`` (when there are any), else any slice."""
    rng = np.random.default_rng([config.seed, 2, epoch, step])
    with_tumour = np.flatnonzero(slices.tumour)
    inputs, gan_images, classes = [], [], []
    for _ in range(config.batch_size):
        pool = with_tumour if len(with_tumour) and rng.random() < config.tumour_share else None
        index = int(rng.choice(pool)) if pool is not None else int(rng.integers(len(slices)))
        a, b, c = _flipped(
            rng, slices.inputs[index], slices.gan_images[index], slices.classes[index]
        )
        inputs.append(a)
        gan_images.append(b)
        classes.append(c)
    return (
        torch.from_numpy(np.stack(inputs)),
        torch.from_numpy(np.stack(gan_images)),
        torch.from_numpy(np.stack(classes)),
    )

"""Dice of batches of masks and label maps on any torch device.

The numpy :func:`mri_metrics.overlap.dice` scores one pair at a time; a training or validation
loop on a GPU holds a whole batch of predictions there, and copying it to the host costs more
than the counting. These functions count on the tensors' device in int64 and divide in float64,
so each value is exactly the numpy path's (the same integer counts, one correctly rounded
division), with the same ``empty`` convention for two empty masks.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mri_io import LabelConvention
from mri_metrics.errors import MetricInputError, NotBinaryError, ShapeMismatchError
from mri_metrics.regions import resolve_convention, split_regions

__all__ = ["dice", "region_dice"]


def _as_masks(values: Tensor, name: str) -> Tensor:
    if values.dtype == torch.bool:
        return values
    if not bool(((values == 0) | (values == 1)).all()):
        raise NotBinaryError(f"{name} holds values other than 0 and 1")
    return values != 0


def _batch_dice(pred: Tensor, ref: Tensor, empty: float) -> Tensor:
    """Per leading index, Dice of two boolean tensors of one shape ``(N, ...)``."""
    flat_pred = pred.reshape(pred.shape[0], -1)
    flat_ref = ref.reshape(ref.shape[0], -1)
    both = (flat_pred & flat_ref).sum(dim=1, dtype=torch.int64)
    total = flat_pred.sum(dim=1, dtype=torch.int64) + flat_ref.sum(dim=1, dtype=torch.int64)
    scores = (2 * both).double() / total.double()
    return torch.where(total > 0, scores, torch.full_like(scores, empty))


def _check_shapes(pred: Tensor, ref: Tensor) -> None:
    if pred.shape != ref.shape:
        raise ShapeMismatchError(
            f"pred has shape {tuple(pred.shape)} but ref has shape {tuple(ref.shape)}"
        )
    if pred.ndim < 2:
        raise MetricInputError(f"expected (N, ...) with a batch axis, got {tuple(pred.shape)}")


def dice(pred: Tensor, ref: Tensor, *, empty: float = math.nan) -> Tensor:
    """Dice of each pair of masks along the first axis: float64 ``(N,)`` on their device.

    ``pred`` and ``ref`` are boolean or 0/1 tensors of one shape ``(N, ...)``; ``empty`` is the
    value where both masks of a pair are empty (as :func:`mri_metrics.overlap.dice`).

    Raises:
        NotBinaryError: a tensor holds values other than 0/1.
        ShapeMismatchError: the shapes differ.
        MetricInputError: the tensors have no batch axis.
    """
    _check_shapes(pred, ref)
    return _batch_dice(_as_masks(pred, "pred"), _as_masks(ref, "ref"), empty)


def region_dice(
    pred: Tensor,
    ref: Tensor,
    convention: str | LabelConvention = "brats2023",
    *,
    empty: float = math.nan,
) -> dict[str, Tensor]:
    """Dice per region of ``convention`` of batches of label maps ``(N, ...)``.

    Returns, for each region (e.g. WT, TC, ET), float64 ``(N,)`` on the maps' device: the
    values of :func:`mri_metrics.region_masks` followed by :func:`mri_metrics.overlap.dice`.

    Raises:
        UnknownLabelError: a map holds a label the convention does not define.
        ShapeMismatchError: the shapes differ.
        MetricInputError: no convention has that name, or the maps have no batch axis.
    """
    conv = resolve_convention(convention)
    _check_shapes(pred, ref)
    regions = tuple(conv.regions)
    pred_regions = split_regions(pred, conv, regions, "pred", copy=torch.clone, unique=torch.unique)
    ref_regions = split_regions(ref, conv, regions, "ref", copy=torch.clone, unique=torch.unique)
    return {
        region: _batch_dice(pred_regions[region], ref_regions[region], empty)
        for region in conv.regions
    }

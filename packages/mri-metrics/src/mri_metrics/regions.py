"""Tumour regions per BraTS label map, read from mri-io's label conventions.

Challenges score overlapping *regions* (whole tumour, tumour core, enhancing tumour), not the raw
labels, and the label numbers behind each region changed between editions: BraTS 2017-2021 used
4 for enhancing tumour, BraTS 2023 harmonised GLI, MEN, MET, PED and SSA on 1/2/3, the 2024
post-treatment glioma task added 4 for the resection cavity, and BraTS-PED 2024 renumbered its
four tissue classes. These tables are data with one home, :data:`mri_io.LABEL_CONVENTIONS`
(re-exported here), so the files mri-io checks and the regions mri-metrics scores can never
disagree; this module only splits a label map into region masks. A label convention says which
labels form which region; a *profile* (:mod:`mri_metrics.profiles`) is a peer's scoring settings
and names the label convention it scores under.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from mri_io import LABEL_CONVENTIONS, LabelConvention, UnknownNameError, get_label_convention
from mri_metrics.errors import MetricInputError, UnknownLabelError

__all__ = ["LABEL_CONVENTIONS", "LabelConvention", "region_masks"]


def region_masks(
    label_map: npt.ArrayLike,
    convention: str | LabelConvention = "brats2023",
    *,
    name: str = "label map",
    regions: tuple[str, ...] | None = None,
) -> dict[str, npt.NDArray[np.bool_]]:
    """Split an integer label map into one boolean mask per region of ``convention``.

    Args:
        label_map: integer (or integral float, as nibabel returns) label array.
        convention: a name of :data:`LABEL_CONVENTIONS` (or an earlier name of one, see
            :data:`mri_io.labels.LABEL_CONVENTION_ALIASES`) or a :class:`LabelConvention`.
        name: how error messages refer to ``label_map`` (a file name, ``"pred"``...).
        regions: the regions to return, in this order; default: all of the convention's.

    Raises:
        UnknownLabelError: the map holds a label the convention does not define (a BraTS 2021
            map with label 4 scored under ``brats2023`` would otherwise silently lose its
            enhancing tumour), or a non-integral value.
        MetricInputError: no convention has that name, or ``regions`` names a region the
            convention lacks.
    """
    conv = resolve_convention(convention)
    wanted = tuple(conv.regions) if regions is None else regions
    missing = [r for r in wanted if r not in conv.regions]
    if missing:
        raise MetricInputError(
            f"regions {missing} are not defined by the {conv.name!r} convention "
            f"(known: {list(conv.regions)})"
        )
    masks: dict[str, npt.NDArray[np.bool_]] = split_regions(
        np.asarray(label_map), conv, wanted, name, copy=np.copy, unique=np.unique
    )
    return masks


def resolve_convention(convention: str | LabelConvention) -> LabelConvention:
    """``convention`` itself, or the convention of that name (refused as a metric input)."""
    if isinstance(convention, LabelConvention):
        return convention
    try:
        return get_label_convention(convention)
    except UnknownNameError as exc:
        raise MetricInputError(exc.problem) from None


def split_regions(
    values: Any,
    conv: LabelConvention,
    wanted: tuple[str, ...],
    name: str,
    *,
    copy: Callable[[Any], Any],
    unique: Callable[[Any], Any],
) -> dict[str, Any]:
    """The masks of ``wanted`` regions of a label array: a numpy array, or a torch tensor on
    any device (``copy`` and ``unique`` are the array library's; the rest is operators both
    share), so the two paths split regions and refuse unknown labels the same way.

    One comparison per label instead of a unique of the whole map: a sort of the map costs
    more than all the metrics of a small tumour. Anything matching no label and not 0 is
    unknown (NaN and non-integral values included, since they equal no integer).
    """
    per_label = {label: values == label for label in sorted(conv.labels)}
    known = values == 0
    for mask in per_label.values():
        known |= mask
    if not bool(known.all()):
        found = unique(values[~known])[:8]
        shown = ", ".join(str(v) for v in found.tolist())
        raise UnknownLabelError(
            f"{name}: labels {shown} are not defined by the {conv.name!r} convention "
            f"(allowed: 0 and {sorted(conv.labels)})"
        )
    out: dict[str, Any] = {}
    for region in wanted:
        members = sorted(conv.regions[region])
        mask = copy(per_label[members[0]])
        for label in members[1:]:
            mask |= per_label[label]
        out[region] = mask
    return out

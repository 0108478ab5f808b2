"""Tumour regions per BraTS label convention, kept as data.

Challenges score overlapping *regions* (whole tumour, tumour core, enhancing tumour), not the raw
labels, and the label numbers behind each region changed between editions: BraTS 2017-2021 used
4 for enhancing tumour, BraTS 2023 harmonised GLI, MEN, MET, PED and SSA on 1/2/3, the 2024
post-treatment glioma task added 4 for the resection cavity, and BraTS-PED 2024 renumbered its
four tissue classes. A convention is therefore a table, and scoring code never branches on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mri_metrics.errors import MetricInputError, UnknownLabelError

__all__ = ["CONVENTIONS", "LabelConvention", "get_convention", "region_masks"]


@dataclass(frozen=True)
class LabelConvention:
    """Which integer labels a label map may hold and which labels make up each region.

    Attributes:
        name: registry key, e.g. ``"brats2023"``.
        labels: foreground label -> tissue name; 0 is always background.
        regions: region name -> the labels whose union forms it, in reporting order.
    """

    name: str
    labels: Mapping[int, str]
    regions: Mapping[str, frozenset[int]]


CONVENTIONS: Mapping[str, LabelConvention] = {
    c.name: c
    for c in (
        LabelConvention(
            name="brats2021",
            labels={1: "NCR/NET", 2: "ED", 4: "ET"},
            regions={"WT": frozenset({1, 2, 4}), "TC": frozenset({1, 4}), "ET": frozenset({4})},
        ),
        LabelConvention(
            name="brats2023",
            labels={1: "NETC", 2: "SNFH", 3: "ET"},
            regions={"WT": frozenset({1, 2, 3}), "TC": frozenset({1, 3}), "ET": frozenset({3})},
        ),
        LabelConvention(
            name="brats2024-post-treatment",
            labels={1: "NETC", 2: "SNFH", 3: "ET", 4: "RC"},
            regions={
                "WT": frozenset({1, 2, 3}),
                "TC": frozenset({1, 3}),
                "ET": frozenset({3}),
                "NETC": frozenset({1}),
                "SNFH": frozenset({2}),
                "RC": frozenset({4}),
            },
        ),
        LabelConvention(
            name="brats2024-ped",
            labels={1: "ET", 2: "NET", 3: "CC", 4: "ED"},
            regions={
                "WT": frozenset({1, 2, 3, 4}),
                "TC": frozenset({1, 2, 3}),
                "ET": frozenset({1}),
                "NET": frozenset({2}),
                "CC": frozenset({3}),
                "ED": frozenset({4}),
            },
        ),
    )
}


def get_convention(name: str) -> LabelConvention:
    """Return the convention registered as ``name``.

    Raises:
        MetricInputError: no such convention (the message lists the known ones).
    """
    try:
        return CONVENTIONS[name]
    except KeyError:
        known = ", ".join(sorted(CONVENTIONS))
        raise MetricInputError(f"unknown label convention {name!r}; known: {known}") from None


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
        convention: a registered name or a :class:`LabelConvention`.
        name: how error messages refer to ``label_map`` (a file name, ``"pred"``...).
        regions: the regions to return, in this order; default: all of the convention's.

    Raises:
        UnknownLabelError: the map holds a label the convention does not define (a BraTS 2021
            map with label 4 scored under ``brats2023`` would otherwise silently lose its
            enhancing tumour), or a non-integral value.
        MetricInputError: ``regions`` names a region the convention lacks.
    """
    conv = convention if isinstance(convention, LabelConvention) else get_convention(convention)
    wanted = tuple(conv.regions) if regions is None else regions
    missing = [r for r in wanted if r not in conv.regions]
    if missing:
        raise MetricInputError(
            f"regions {missing} are not defined by the {conv.name!r} convention "
            f"(known: {list(conv.regions)})"
        )
    values = np.asarray(label_map)
    # One comparison per label instead of np.unique: a sort of the whole map costs more than
    # all the metrics of a small tumour. Anything matching no label and not 0 is unknown
    # (NaN and non-integral values included, since they equal no integer).
    per_label = {label: values == label for label in sorted(conv.labels)}
    known = values == 0
    for mask in per_label.values():
        known |= mask
    if not known.all():
        found = np.unique(values[~known])[:8]
        shown = ", ".join(str(v) for v in found.tolist())
        raise UnknownLabelError(
            f"{name}: labels {shown} are not defined by the {conv.name!r} convention "
            f"(allowed: 0 and {sorted(conv.labels)})"
        )
    out: dict[str, npt.NDArray[np.bool_]] = {}
    for region in wanted:
        members = sorted(conv.regions[region])
        mask = per_label[members[0]].copy()
        for label in members[1:]:
            mask |= per_label[label]
        out[region] = mask
    return out

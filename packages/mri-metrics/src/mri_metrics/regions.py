"""Tumour regions per BraTS label map, read from mri-io's label profiles.

Challenges score overlapping *regions* (whole tumour, tumour core, enhancing tumour), not the raw
labels, and the label numbers behind each region changed between editions: BraTS 2017-2021 used
4 for enhancing tumour, BraTS 2023 harmonised GLI, MEN, MET, PED and SSA on 1/2/3, the 2024
post-treatment glioma task added 4 for the resection cavity, and BraTS-PED 2024 renumbered its
four tissue classes. These tables are data with one home, :data:`mri_io.LABEL_PROFILES`, so the
files mri-io checks and the regions mri-metrics scores can never disagree; this module only
splits a label map into region masks. A label convention here is mri-io's label profile (the
word "profile" in mri-metrics means a peer's scoring settings, :mod:`mri_metrics.profiles`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np
import numpy.typing as npt

from mri_io import LABEL_PROFILES, LabelProfile
from mri_metrics.errors import MetricInputError, UnknownLabelError

__all__ = ["CONVENTIONS", "CONVENTION_ALIASES", "LabelConvention", "get_convention", "region_masks"]

#: A label convention: which labels a map may hold and which labels make up each region. It is
#: :class:`mri_io.LabelProfile`; the name stays because mri-metrics users build their own.
LabelConvention = LabelProfile

#: Every known label convention by name: :data:`mri_io.LABEL_PROFILES` itself.
CONVENTIONS: Final[Mapping[str, LabelProfile]] = LABEL_PROFILES

#: Names mri-metrics used before its conventions came from mri-io, still accepted wherever a
#: convention is passed by name (``labels=``, ``mri-metrics seg --labels``).
CONVENTION_ALIASES: Final[Mapping[str, str]] = {"brats2024-post-treatment": "brats2024-post"}


def get_convention(name: str) -> LabelProfile:
    """Return the convention registered as ``name`` (or under an old name, see the aliases).

    Raises:
        MetricInputError: no such convention (the message lists the known ones).
    """
    try:
        return CONVENTIONS[CONVENTION_ALIASES.get(name, name)]
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
        convention: a name of :data:`CONVENTIONS` (or an alias) or a :class:`LabelConvention`.
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

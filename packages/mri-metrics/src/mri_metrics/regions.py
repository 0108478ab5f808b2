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
    if isinstance(convention, LabelConvention):
        conv = convention
    else:
        try:
            conv = get_label_convention(convention)
        except UnknownNameError as exc:
            raise MetricInputError(exc.problem) from None
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

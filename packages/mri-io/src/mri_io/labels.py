"""Segmentation label conventions as data: one named convention per dataset's label map.

BraTS changed its label values over the years (enhancing tumour was 4 until 2021 and is 3 since
2023), added a resection-cavity label for post-treatment glioma in 2024, and uses a different
sub-region scheme for paediatric tumours in 2024. Each convention is a :class:`LabelConvention`
in :data:`LABEL_CONVENTIONS`; code asks a convention for its labels and regions instead of branching
on dataset names.

Sources: BraTS 2021 (Baid et al. 2021), BraTS 2023 adult glioma, SSA, meningioma and
metastasis challenges (labels 1 NETC, 2 SNFH, 3 ET), BraTS 2024 post-treatment glioma (adds
4 RC, which is in no tumour region), BraTS-PEDs 2024 (1 ET, 2 NET, 3 CC, 4 ED; TC = ET+NET+CC,
WT = TC+ED), BraTS 2024 meningioma radiotherapy (1 GTV), Medical Segmentation Decathlon
Task01_BrainTumour (1 edema, 2 non-enhancing tumour, 3 enhancing tumour; also the label order of
nnU-Net's BraTS datasets).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from mri_io.errors import LabelError, UnknownNameError

__all__ = [
    "BACKGROUND",
    "LABEL_CONVENTIONS",
    "LABEL_CONVENTION_ALIASES",
    "LABEL_CONVERSIONS",
    "RENAMED_KEYS",
    "LabelConvention",
    "check_labels",
    "convert_labels",
    "get_label_convention",
    "guess_label_convention",
    "region_mask",
    "upgrade_saved_keys",
]

#: Background label of every convention.
BACKGROUND: Final = 0


@dataclass(frozen=True)
class LabelConvention:
    """One label convention: foreground label values and the regions scored from them."""

    name: str
    labels: Mapping[int, str]
    regions: Mapping[str, frozenset[int]]
    description: str = ""

    def __post_init__(self) -> None:
        unknown = {
            region: sorted(members - set(self.labels))
            for region, members in self.regions.items()
            if not members <= set(self.labels)
        }
        if unknown:
            raise ValueError(
                f"label convention {self.name!r}: regions use undefined labels {unknown}"
            )
        if BACKGROUND in self.labels:
            raise ValueError(
                f"label convention {self.name!r}: label 0 is background, not a foreground label"
            )

    @property
    def allowed(self) -> frozenset[int]:
        """Every value a segmentation of this convention may hold, background included."""
        return frozenset(self.labels) | {BACKGROUND}


def _convention(
    name: str, labels: dict[int, str], regions: dict[str, set[int]], description: str
) -> LabelConvention:
    return LabelConvention(
        name=name,
        labels=MappingProxyType(labels),
        regions=MappingProxyType({key: frozenset(value) for key, value in regions.items()}),
        description=description,
    )


_BRATS2023_LABELS = {1: "NETC", 2: "SNFH", 3: "ET"}
_BRATS2023_REGIONS = {"WT": {1, 2, 3}, "TC": {1, 3}, "ET": {3}}

_CONVENTIONS = (
    _convention(
        "brats2023",
        _BRATS2023_LABELS,
        _BRATS2023_REGIONS,
        "BraTS 2023+ adult glioma (GLI): necrotic/non-enhancing core, surrounding FLAIR "
        "hyperintensity (edema), enhancing tumour",
    ),
    _convention(
        "brats2023-ssa",
        _BRATS2023_LABELS,
        _BRATS2023_REGIONS,
        "BraTS 2023 Sub-Saharan Africa glioma: the adult glioma labels",
    ),
    _convention(
        "brats2023-men",
        _BRATS2023_LABELS,
        _BRATS2023_REGIONS,
        "BraTS 2023 meningioma (MEN): the adult glioma label values and regions",
    ),
    _convention(
        "brats2023-met",
        _BRATS2023_LABELS,
        _BRATS2023_REGIONS,
        "BraTS 2023 brain metastases (MET): the adult glioma label values and regions",
    ),
    _convention(
        "brats2023-ped",
        _BRATS2023_LABELS,
        _BRATS2023_REGIONS,
        "BraTS-PEDs 2023 paediatric tumours, released with the adult glioma labels",
    ),
    _convention(
        "brats2024-post",
        {1: "NETC", 2: "SNFH", 3: "ET", 4: "RC"},
        {"WT": {1, 2, 3}, "TC": {1, 3}, "ET": {3}, "NETC": {1}, "SNFH": {2}, "RC": {4}},
        "BraTS 2024 post-treatment glioma: adds the resection cavity, which belongs to no "
        "tumour region",
    ),
    _convention(
        "brats2024-ped",
        {1: "ET", 2: "NET", 3: "CC", 4: "ED"},
        {"WT": {1, 2, 3, 4}, "TC": {1, 2, 3}, "ET": {1}, "NET": {2}, "CC": {3}, "ED": {4}},
        "BraTS-PEDs 2024 paediatric tumours: enhancing tumour, non-enhancing tumour, cystic "
        "component, edema",
    ),
    _convention(
        "brats2024-men-rt",
        {1: "GTV"},
        {"GTV": {1}},
        "BraTS 2024 meningioma radiotherapy planning: gross tumour volume",
    ),
    _convention(
        "msd-brain",
        {1: "ED", 2: "NET", 3: "ET"},
        {"WT": {1, 2, 3}, "TC": {2, 3}, "ET": {3}},
        "Medical Segmentation Decathlon Task01_BrainTumour and the nnU-Net datasets made from "
        "it or from BraTS: edema, non-enhancing (and necrotic) tumour, enhancing tumour",
    ),
    _convention(
        "brats2021",
        {1: "NCR/NET", 2: "ED", 4: "ET"},
        {"WT": {1, 2, 4}, "TC": {1, 4}, "ET": {4}},
        "BraTS 2017–2021 glioma: necrotic and non-enhancing core, edema, enhancing tumour "
        "(label 4; there is no label 3)",
    ),
)

#: Every known convention by name.
LABEL_CONVENTIONS: Final[Mapping[str, LabelConvention]] = MappingProxyType(
    {convention.name: convention for convention in _CONVENTIONS}
)

#: Names used by earlier versions, still accepted by :func:`get_label_convention`.
LABEL_CONVENTION_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {"brats2024-post-treatment": "brats2024-post"}
)

#: Keys of saved settings (``run.json``, a model's ``config.json``) that earlier versions wrote
#: under another name, with their names now: see :func:`upgrade_saved_keys`.
RENAMED_KEYS: Final[Mapping[str, str]] = MappingProxyType({"label_profile": "label_convention"})

#: Label value maps between conventions whose regions correspond (``(source, target) -> map``).
#: Labels missing from a map are kept as they are.
LABEL_CONVERSIONS: Final[Mapping[tuple[str, str], Mapping[int, int]]] = MappingProxyType(
    {
        ("brats2021", "brats2023"): MappingProxyType({4: 3}),
        ("brats2023", "brats2021"): MappingProxyType({3: 4}),
        ("brats2021", "brats2024-post"): MappingProxyType({4: 3}),
        ("msd-brain", "brats2023"): MappingProxyType({1: 2, 2: 1}),
        ("brats2023", "msd-brain"): MappingProxyType({1: 2, 2: 1}),
        ("msd-brain", "brats2021"): MappingProxyType({1: 2, 2: 1, 3: 4}),
        ("brats2021", "msd-brain"): MappingProxyType({1: 2, 2: 1, 4: 3}),
    }
)


def get_label_convention(name: str) -> LabelConvention:
    """The convention called ``name`` (see :data:`LABEL_CONVENTIONS`) or an earlier name of it."""
    try:
        return LABEL_CONVENTIONS[LABEL_CONVENTION_ALIASES.get(name, name)]
    except KeyError:
        raise UnknownNameError(
            None, f"unknown label convention {name!r}; known: {', '.join(LABEL_CONVENTIONS)}"
        ) from None


def upgrade_saved_keys(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` with every key of :data:`RENAMED_KEYS` under its name now.

    Run folders and model folders written before a rename keep their old keys on disk; reading
    them through this lets such a run resume and such a model load unchanged.
    """
    return {RENAMED_KEYS.get(key, key): value for key, value in fields.items()}


def _labels_in(seg: npt.NDArray[Any]) -> set[int]:
    values = np.unique(seg)
    if values.dtype.kind == "f" and not np.all(values == np.round(values)):
        raise LabelError(
            None,
            f"segmentation holds non-integer values, e.g. {values[values != np.round(values)][0]}",
        )
    return {int(value) for value in values}


def check_labels(
    seg: npt.NDArray[Any],
    convention: str | LabelConvention,
    path: str | PathLike[str] | None = None,
) -> None:
    """Raise :class:`LabelError` naming ``path`` and every label ``convention`` does not define."""
    chosen = get_label_convention(convention) if isinstance(convention, str) else convention
    try:
        present = _labels_in(seg)
    except LabelError as exc:
        raise LabelError(path, exc.problem) from None
    unexpected = sorted(present - chosen.allowed)
    if unexpected:
        raise LabelError(
            path,
            f"labels {unexpected} are not in label convention {chosen.name!r} "
            f"(allowed: {sorted(chosen.allowed)})",
        )


def convert_labels(
    seg: npt.NDArray[Any], source: str | LabelConvention, target: str | LabelConvention
) -> npt.NDArray[Any]:
    """Relabel ``seg`` from ``source`` to ``target`` conventions, e.g. BraTS 2021 4 -> 3.

    The input is checked against ``source`` first; the output has ``seg``'s type.
    """
    source_convention = get_label_convention(source) if isinstance(source, str) else source
    target_convention = get_label_convention(target) if isinstance(target, str) else target
    check_labels(seg, source_convention)
    if source_convention.labels == target_convention.labels:
        return seg.copy()
    mapping = LABEL_CONVERSIONS.get((source_convention.name, target_convention.name))
    if mapping is None:
        raise UnknownNameError(
            None,
            f"no label conversion from {source_convention.name!r} to {target_convention.name!r}",
        )
    lookup = np.arange(max(source_convention.allowed) + 1)
    for old, new in mapping.items():
        lookup[old] = new
    return lookup[seg.astype(np.intp)].astype(seg.dtype)


def region_mask(
    seg: npt.NDArray[Any], convention: str | LabelConvention, region: str
) -> npt.NDArray[np.bool_]:
    """Boolean mask of a region (``"WT"``, ``"TC"``, ``"ET"``, ...) or of one label's name."""
    chosen = get_label_convention(convention) if isinstance(convention, str) else convention
    members = chosen.regions.get(region)
    if members is None:
        by_name = [value for value, name in chosen.labels.items() if name == region]
        if not by_name:
            raise UnknownNameError(
                None,
                f"label convention {chosen.name!r} has no region or label {region!r}; "
                f"regions: {', '.join(chosen.regions)}",
            )
        members = frozenset(by_name)
    return np.isin(seg, sorted(members))


def guess_label_convention(seg: npt.NDArray[Any]) -> str:
    """The most likely convention from the label values present.

    Labels alone cannot tell datasets that share values apart: ``{1, 2, 3}`` is answered
    ``"brats2023"`` (also the meningioma, metastasis and paediatric 2023 convention), ``4``
    without ``3`` is ``"brats2021"``, and ``3`` with ``4`` is ``"brats2024-post"`` (the
    paediatric 2024 convention uses the same values: pass that convention explicitly).
    """
    present = _labels_in(seg) - {BACKGROUND}
    if present <= {1, 2, 3}:
        return "brats2023"
    if present <= {1, 2, 4}:
        return "brats2021"
    if present <= {1, 2, 3, 4}:
        return "brats2024-post"
    raise LabelError(None, f"labels {sorted(present)} match no known label convention")

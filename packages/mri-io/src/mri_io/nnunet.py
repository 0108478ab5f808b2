"""nnU-Net raw datasets and Medical Segmentation Decathlon (MSD) 4D NIfTI as input layouts.

Both describe themselves in a ``dataset.json`` beside ``imagesTr/``, ``labelsTr/`` and
``imagesTs/``; the sequences are channels, named there, not in the file names:

* nnU-Net v2 (``"channel_names"``, or v1's ``"modality"`` with split files): one 3D file per
  channel, ``imagesTr/CASE_0000.nii.gz``, ``CASE_0001.nii.gz``, ... and ``labelsTr/CASE.nii.gz``.
* MSD (``"modality"``): one 4D file per case holding the channels as volumes,
  ``imagesTr/CASE.nii.gz``; e.g. Task01_BrainTumour stores FLAIR, T1w, t1gd, T2w.

Channel names become canonical sequence keys (:func:`mri_io.sequences.canonical_sequence`);
the ``"labels"`` entry is matched, as data, against the suite's label conventions
(:data:`mri_io.labels.LABEL_CONVENTIONS`): Task01's 1 edema, 2 non-enhancing tumour, 3 enhancing
tumour is ``"msd-brain"``, which :func:`mri_io.load_case` converts to any convention a caller asks
for. A ``dataset.json`` that cannot be read this way raises :class:`LayoutError` naming it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import nibabel as nib
import numpy as np
import numpy.typing as npt

from mri_io.errors import DimensionError, LayoutError
from mri_io.labels import BACKGROUND, LABEL_CONVENTIONS
from mri_io.layouts import CaseFiles
from mri_io.nifti import Volume, _apply_scaling, _convert, _read_nifti, _untyped
from mri_io.sequences import SEQUENCES, canonical_sequence, is_sequence_name

#: The file that makes a folder an nnU-Net or MSD dataset.
DATASET_JSON: Final = "dataset.json"

#: Image and label folders of such a dataset, as (images, labels) pairs.
SPLITS: Final = (("imagesTr", "labelsTr"), ("imagesTs", "labelsTs"))

_CHANNEL = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")
_SUFFIXES = (".nii.gz", ".nii")

#: Label names (lower case, words only, "tumour" spelt "tumor") by the role they play. A
#: dataset's labels match a convention when every value has the role of the convention's label.
_ROLES: Final[Mapping[str, frozenset[str]]] = {
    "edema": frozenset(
        {"edema", "oedema", "ed", "snfh", "peritumoral edema", "surrounding flair hyperintensity"}
    ),
    "core": frozenset(
        {
            "non enhancing tumor",
            "non enhancing tumor core",
            "non enhancing core",
            "net",
            "ncr",
            "ncr net",
            "netc",
            "necrosis",
            "necrotic",
            "necrotic core",
            "necrotic tumor core",
            "necrotic and non enhancing tumor core",
        }
    ),
    "enhancing": frozenset({"enhancing tumor", "enhancing", "et", "enhancing tumor core"}),
    "cavity": frozenset({"resection cavity", "rc"}),
}
#: Region names of nnU-Net's region-based ``labels`` (``"whole tumor": [1, 2, 3]``).
_REGIONS: Final[Mapping[str, frozenset[str]]] = {
    "WT": frozenset({"whole tumor", "wt", "whole tumour"}),
    "TC": frozenset({"tumor core", "tc"}),
    "ET": frozenset({"enhancing tumor", "et"}),
}


def _words(name: str) -> str:
    text = re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()
    return re.sub(r"\btumour\b", "tumor", text)


def _role(name: str) -> str | None:
    words = _words(name)
    return next((role for role, names in _ROLES.items() if words in names), None)


def _is_dataset(dataset_json: Path) -> bool:
    folder = dataset_json.parent
    return dataset_json.is_file() and any((folder / images).is_dir() for images, _ in SPLITS)


def find_datasets(root: Path) -> list[tuple[Path, Path | None]]:
    """Every nnU-Net/MSD ``dataset.json`` that governs files under ``root``, each with the one
    image or label folder it is limited to (``root`` itself is one of them) or None.

    A ``dataset.json`` counts only beside an ``imagesTr`` or ``imagesTs`` folder, so other
    tools' JSON files of that name are left alone; hidden folders are skipped.
    """
    found: list[tuple[Path, Path | None]] = []
    names = {name for pair in SPLITS for name in pair}
    parent = root.parent / DATASET_JSON
    if root.name in names and _is_dataset(parent):
        found.append((parent, root))
    for path in sorted(root.rglob(DATASET_JSON)):
        hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
        if not hidden and _is_dataset(path):
            found.append((path, None))
    return found


def _read_json(path: Path) -> dict[str, Any]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise LayoutError(path, f"cannot read the dataset description ({exc})") from None
    if not isinstance(content, dict):
        raise LayoutError(path, "the dataset description must be a JSON object")
    return content


def dataset_channels(path: Path, content: Mapping[str, Any]) -> dict[int, str]:
    """Channel index -> canonical sequence key, from ``channel_names`` or ``modality``."""
    declared = content.get("channel_names", content.get("modality"))
    if not isinstance(declared, dict) or not declared:
        raise LayoutError(
            path, "has no 'channel_names' (nnU-Net v2) or 'modality' (MSD) naming the channels"
        )
    channels: dict[int, str] = {}
    for index, name in declared.items():
        if not str(index).isdigit():
            raise LayoutError(path, f"channel index {index!r} is not a whole number")
        if not isinstance(name, str) or not is_sequence_name(name):
            raise LayoutError(
                path,
                f"channel {index} is {name!r}, not an MRI sequence the suite reads "
                f"({', '.join(SEQUENCES)} or an alias such as T1, T1ce, T2, FLAIR)",
            )
        key = canonical_sequence(name)
        if key in channels.values():
            raise LayoutError(path, f"channel {index} ({name}) repeats sequence {key}")
        channels[int(index)] = key
    return dict(sorted(channels.items()))


def dataset_label_convention(path: Path, content: Mapping[str, Any]) -> str | None:
    """The label convention that ``content["labels"]`` describes (None when it has no labels)."""
    declared = content.get("labels")
    if declared is None:
        return None
    if not isinstance(declared, dict):
        raise LayoutError(path, "'labels' must map label names to values (or values to names)")
    values: dict[int, str] = {}
    regions: dict[str, frozenset[int]] = {}
    try:
        for key, value in declared.items():
            if isinstance(value, list):  # nnU-Net region: "whole tumor": [1, 2, 3]
                regions[str(key)] = frozenset(int(v) for v in value)
            elif str(key).isdigit():  # MSD: "1": "edema"
                values[int(key)] = str(value)
            else:  # nnU-Net v2: "edema": 1
                values[int(value)] = str(key)
    except (TypeError, ValueError):
        problem = f"'labels' holds a value that is not a label number: {declared}"
        raise LayoutError(path, problem) from None
    for region, members in regions.items():
        for member in members:
            values.setdefault(member, region)
    foreground = {value: name for value, name in values.items() if value != BACKGROUND}
    if not foreground:
        return None
    convention = _convention_by_roles(foreground) or _convention_by_regions(regions)
    if convention is None:
        described = ", ".join(f"{value} {name}" for value, name in sorted(foreground.items()))
        raise LayoutError(
            path,
            f"labels ({described}) match no label convention of the suite "
            f"({', '.join(LABEL_CONVENTIONS)}); see mri_io.labels",
        )
    return convention


def _convention_by_roles(labels: Mapping[int, str]) -> str | None:
    roles = {value: _role(name) for value, name in labels.items()}
    if not roles or None in roles.values():
        return None
    for name, convention in LABEL_CONVENTIONS.items():
        if {value: _role(label) for value, label in convention.labels.items()} == roles:
            return name
    return None


def _convention_by_regions(regions: Mapping[str, frozenset[int]]) -> str | None:
    wanted: dict[str, frozenset[int]] = {}
    for name, members in regions.items():
        words = _words(name)
        region = next((key for key, names in _REGIONS.items() if words in names), None)
        if region is None:
            return None
        wanted[region] = members
    if not wanted:
        return None
    for name, convention in LABEL_CONVENTIONS.items():
        if all(convention.regions.get(region) == members for region, members in wanted.items()):
            return name
    return None


def _stem(path: Path, ending: str) -> str | None:
    name = path.name
    if name.startswith("."):
        return None
    for suffix in (ending, *_SUFFIXES):
        if suffix and name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def _files(folder: Path, ending: str) -> list[tuple[Path, str]]:
    if not folder.is_dir():
        return []
    found = [(path, _stem(path, ending)) for path in sorted(folder.iterdir()) if path.is_file()]
    return [(path, stem) for path, stem in found if stem is not None]


def _volumes_in(path: Path) -> int:
    """Volumes along the 4th axis of a NIfTI file (1 for a 3D file), from its header only."""
    try:
        shape = _untyped(nib.load(path)).shape
    except Exception as exc:  # nibabel raises many types for a damaged file
        raise LayoutError(path, f"cannot read the NIfTI header ({exc})") from None
    return int(np.prod(shape[3:])) if len(shape) > 3 else 1


def scan_dataset(dataset_json: Path, only: Path | None = None) -> tuple[list[CaseFiles], set[Path]]:
    """The cases of the dataset ``dataset_json`` describes, and every file they claim.

    ``only`` limits the scan to one of the dataset's image or label folders.
    """
    root = dataset_json.parent
    content = _read_json(dataset_json)
    channels = dataset_channels(dataset_json, content)
    convention = dataset_label_convention(dataset_json, content)
    ending = str(content.get("file_ending", ".nii.gz"))
    cases: list[CaseFiles] = []
    claimed: set[Path] = set()
    for images_name, labels_name in SPLITS:
        images, labels = root / images_name, root / labels_name
        if only is not None and only not in (images, labels):
            continue
        image_files = _files(images, ending)
        label_files = {stem: path for path, stem in _files(labels, ending)}
        named = all(_CHANNEL.match(stem) for _, stem in image_files)
        split = "channel_names" in content or (
            bool(image_files) and named and _volumes_in(image_files[0][0]) == 1
        )
        grouped = (
            _split_cases(dataset_json, image_files, channels)
            if split
            else _stacked_cases(dataset_json, image_files, channels)
        )
        for case_id, (sequences, volumes) in sorted(grouped.items()):
            seg = label_files.pop(case_id, None)
            cases.append(
                CaseFiles(
                    case_id=case_id,
                    folder=images,
                    layout="nnunet" if split else "msd",
                    sequences=sequences,
                    seg=seg,
                    missing=tuple(key for key in SEQUENCES if key not in sequences),
                    volumes=volumes,
                    label_convention=convention,
                )
            )
            claimed.update(sequences.values())
            if seg is not None:
                claimed.add(seg)
        if label_files:
            case_id, path = next(iter(sorted(label_files.items())))
            raise LayoutError(path, f"label map of case {case_id}, which has no image in {images}")
    return cases, claimed


def _split_cases(
    dataset_json: Path, files: Iterable[tuple[Path, str]], channels: Mapping[int, str]
) -> dict[str, tuple[dict[str, Path], dict[str, int]]]:
    grouped: dict[str, tuple[dict[str, Path], dict[str, int]]] = {}
    for path, stem in files:
        match = _CHANNEL.match(stem)
        if match is None:
            raise LayoutError(path, "not named CASE_XXXX (a four-digit channel index)")
        channel = int(match["channel"])
        if channel not in channels:
            raise LayoutError(
                path,
                f"channel {channel} is not declared in {dataset_json} "
                f"(channels {', '.join(str(c) for c in channels)})",
            )
        grouped.setdefault(match["case"], ({}, {}))[0][channels[channel]] = path
    return {
        case: ({key: sequences[key] for key in SEQUENCES if key in sequences}, volumes)
        for case, (sequences, volumes) in grouped.items()
    }


def _stacked_cases(
    dataset_json: Path, files: Iterable[tuple[Path, str]], channels: Mapping[int, str]
) -> dict[str, tuple[dict[str, Path], dict[str, int]]]:
    order = sorted(channels, key=lambda index: SEQUENCES.index(channels[index]))
    return {
        stem: (
            {channels[index]: path for index in order},
            {channels[index]: index for index in order},
        )
        for path, stem in files
    }


def load_channels(path: Path, *, dtype: npt.DTypeLike = np.float32) -> list[Volume]:
    """Every volume of a 4D NIfTI file (an MSD case) as a 3D :class:`Volume` with its geometry.

    Scaling and the type checks of :func:`mri_io.load_volume` apply; each volume's header is
    the file's, with 3D dimensions, so a write produces a plain 3D file.
    """
    header, stored = _read_nifti(path)
    shape = stored.shape
    if len(shape) < 3 or any(n != 1 for n in shape[4:]):
        raise DimensionError(path, f"image of shape {shape} is not 3D or 4D")
    if len(shape) == 3:
        stored = stored[..., np.newaxis]
    values = _apply_scaling(stored, *_untyped(header).get_slope_inter())
    data = _convert(values, np.dtype(dtype), path)
    affine = _untyped(header).get_best_affine()
    plain = _untyped(nib.Nifti1Header).from_header(header)
    plain.set_data_shape(data.shape[:3])
    return [
        Volume(
            np.ascontiguousarray(data[:, :, :, index, ...].reshape(data.shape[:3])),
            affine,
            plain,
            path,
        )
        for index in range(data.shape[3])
    ]


def nnunet_filename(case_id: str, channel: int | None = None, ending: str = ".nii.gz") -> str:
    """nnU-Net file name: ``CASE_0000.nii.gz`` for channel 0, ``CASE.nii.gz`` for a label map
    (a training label or a prediction, as ``nnUNetv2_predict`` writes it)."""
    if channel is None:
        return f"{case_id}{ending}"
    if not 0 <= channel <= 9999:
        raise ValueError(f"an nnU-Net channel index is 0 to 9999, got {channel}")
    return f"{case_id}_{channel:04d}{ending}"

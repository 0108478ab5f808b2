"""Find the cases in a dataset folder, whatever naming scheme it uses.

Each public brain-tumour dataset names its files differently (see :data:`LAYOUTS`). Discovery
goes by file name only, never by folder structure, so one-folder-per-case trees and flat folders
with many cases side by side work alike. Files that are not NIfTI (README, ``.DS_Store``,
``.json`` sidecars) and hidden files (macOS ``._`` copies) are ignored. A case with a sequence
file absent, as in BraSyn validation data, is reported with that sequence in ``missing``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Final

from mri_io.atomic import atomic_folder
from mri_io.errors import LayoutError, OutputCollisionError, UnknownNameError
from mri_io.sequences import SEQUENCES, canonical_sequence, is_sequence_name

#: Key under which a case's segmentation is grouped while matching names.
SEG: Final = "seg"

#: Cohort manifest beside the cases (written by :func:`mri_io.synthetic.write_cohort`): the
#: ``centre`` of each of its ``cases``, which cross-centre models and benchmarks need.
MANIFEST: Final = "cohort.json"

#: Naming schemes, tried in this order; each maps a file name to (case id, key).
LAYOUTS: Final = ("nnunet", "msd", "brats2023", "brats2021", "ucsf-pdgm", "generic")

_NIFTI = re.compile(r"^(?P<stem>.+)\.nii(?:\.gz)?$", re.IGNORECASE)
# BraTS 2023-2025: BraTS-GLI-00000-000-t1n, BraTS-MEN-RT-0000-1-t1c, BraTS-GoAT-00000-t2f.
_BRATS2023 = re.compile(
    r"^(?P<case>BraTS-[A-Za-z]+(?:-[A-Za-z]+)*-\d+(?:-\d+)?)-(?P<key>t1n|t1c|t2w|t2f|seg)$"
)
# BraTS 2019-2021: BraTS20_Training_001_t1ce, BraTS2021_00000_flair, BraTS19_CBICA_AAB_1_seg.
_BRATS2021 = re.compile(r"^(?P<case>BraTS[A-Za-z0-9_]*?)_(?P<key>t1|t1ce|t2|flair|seg)$")
# UCSF-PDGM: UCSF-PDGM-0004_T1, UCSF-PDGM-0004_T1c_bias, UCSF-PDGM-0004_tumor_segmentation.
_UCSF = re.compile(r"^(?P<case>UCSF-PDGM-\d+)_(?P<key>.+)$")
_UCSF_SEG = "tumor_segmentation"
_BIAS = "_bias"
_GENERIC_SEG = frozenset({"seg", "segmentation", "label", "labels"})


@dataclass
class CaseFiles:
    """The files of one case, by canonical sequence key."""

    case_id: str
    folder: Path
    layout: str
    sequences: dict[str, Path]
    seg: Path | None
    missing: tuple[str, ...]
    extras: dict[str, Path] = field(default_factory=dict)
    #: Volume index of each sequence inside a 4D file (MSD layout); empty for 3D files.
    volumes: dict[str, int] = field(default_factory=dict)
    #: Label convention the dataset declares (nnU-Net/MSD ``dataset.json``); None: guess.
    label_convention: str | None = None


@dataclass(frozen=True)
class _Match:
    layout: str
    case_id: str
    key: str  # a canonical sequence, SEG, or an extra's name
    is_extra: bool = False


def _match(stem: str) -> _Match | None:
    """What a file name (without .nii/.nii.gz) says about its case and content."""
    brats2023 = _BRATS2023.match(stem)
    if brats2023:
        return _Match("brats2023", brats2023["case"], brats2023["key"])
    brats2021 = _BRATS2021.match(stem)
    if brats2021:
        key = brats2021["key"]
        return _Match(
            "brats2021", brats2021["case"], SEG if key == SEG else canonical_sequence(key)
        )
    ucsf = _UCSF.match(stem)
    if ucsf:
        key = ucsf["key"]
        if key == _UCSF_SEG:
            return _Match("ucsf-pdgm", ucsf["case"], SEG)
        if is_sequence_name(key):
            return _Match("ucsf-pdgm", ucsf["case"], canonical_sequence(key))
        base = key.removesuffix(_BIAS)
        if key.endswith(_BIAS) and is_sequence_name(base):
            return _Match("ucsf-pdgm", ucsf["case"], f"{canonical_sequence(base)}{_BIAS}", True)
        return _Match("ucsf-pdgm", ucsf["case"], key, True)
    return _match_generic(stem)


def _match_generic(stem: str) -> _Match | None:
    """``{case}{_ or -}{sequence alias or seg}``, the last separator that gives a known key."""
    for position in range(len(stem) - 1, 0, -1):
        if stem[position] not in "_-":
            continue
        case_id, key = stem[:position], stem[position + 1 :]
        if key.lower() in _GENERIC_SEG:
            return _Match("generic", case_id, SEG)
        if is_sequence_name(key):
            return _Match("generic", case_id, canonical_sequence(key))
    return None


def _nifti_files(folder: Path) -> Iterator[tuple[Path, str]]:
    """NIfTI files under ``folder``, hidden names skipped. Symbolic links to case folders are
    followed (a split made of links to a cohort's cases is a dataset too; ``Path.rglob`` does
    not follow them before Python 3.13), each real folder visited once, so a link loop ends."""
    found = []
    visited: set[str] = set()
    for root, folders, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in visited:
            folders[:] = []
            continue
        visited.add(real)
        folders[:] = [name for name in folders if not name.startswith(".")]
        found += [Path(root) / name for name in files if not name.startswith(".")]
    for path in sorted(found):
        nifti = _NIFTI.match(path.name)
        if nifti and path.is_file():
            yield path, nifti["stem"]


def scan_cases(folder: str | PathLike[str]) -> list[CaseFiles]:
    """Every case under ``folder`` (searched recursively), sorted by case id.

    Raises :class:`LayoutError` if no file name follows a known scheme, or if two files claim
    the same sequence of the same case (e.g. ``x_t1.nii`` beside ``x_t1.nii.gz``).
    """
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a folder")
    groups: dict[tuple[Path, str], dict[str, Path]] = {}
    layouts: dict[tuple[Path, str], str] = {}
    extras: dict[tuple[Path, str], dict[str, Path]] = {}
    unmatched: list[Path] = []
    described, claimed = _described_cases(root)
    for path, stem in _nifti_files(root):
        if path in claimed:
            continue
        match = _match(stem)
        if match is None:
            unmatched.append(path)
            continue
        group = (path.parent, match.case_id)
        layouts.setdefault(group, match.layout)
        target = extras.setdefault(group, {}) if match.is_extra else groups.setdefault(group, {})
        groups.setdefault(group, {})
        if match.key in target:
            raise LayoutError(
                path, f"{target[match.key].name} already holds {match.key} of {match.case_id}"
            )
        target[match.key] = path
    if not groups and not described:
        hint = f"; e.g. {unmatched[0].name} matches none" if unmatched else ""
        raise LayoutError(
            root, f"no case files found (naming schemes tried: {', '.join(LAYOUTS)}){hint}"
        )
    cases = list(described)
    for (parent, case_id), files in groups.items():
        case_extras = extras.get((parent, case_id), {})
        sequences: dict[str, Path] = {key: files[key] for key in SEQUENCES if key in files}
        for key in SEQUENCES:
            corrected = case_extras.get(f"{key}{_BIAS}")
            if key not in sequences and corrected is not None:
                sequences[key] = case_extras.pop(f"{key}{_BIAS}")
        cases.append(
            CaseFiles(
                case_id=case_id,
                folder=parent,
                layout=layouts[(parent, case_id)],
                sequences=sequences,
                seg=files.get(SEG),
                missing=tuple(key for key in SEQUENCES if key not in sequences),
                extras=case_extras,
            )
        )
    return sorted(cases, key=lambda case: (case.case_id, str(case.folder)))


def _described_cases(root: Path) -> tuple[list[CaseFiles], set[Path]]:
    """Cases of the nnU-Net/MSD datasets (a ``dataset.json``) under ``root``, files they claim."""
    from mri_io.nnunet import find_datasets, scan_dataset  # nnunet builds on CaseFiles

    cases: list[CaseFiles] = []
    claimed: set[Path] = set()
    for dataset_json, only in find_datasets(root):
        more, files = scan_dataset(dataset_json, only)
        cases += more
        claimed |= files
    return cases, claimed


def check_unique_case_ids(cases: Iterable[CaseFiles]) -> None:
    """Raise :class:`LayoutError` if two cases (in two folders) share one case id, naming both.

    Writers put each case under its id (``OUT/<case id>/``), so two such cases would end as one
    output folder, the second silently replacing the first.
    """
    seen: dict[str, Path] = {}
    for case in cases:
        first = seen.setdefault(case.case_id, case.folder)
        if first != case.folder:
            raise LayoutError(
                case.folder,
                f"case {case.case_id} is also in {first}; two cases with one id would write "
                "one output folder: rename or remove one",
            )


#: Layouts whose cases :func:`link_cases` can link: a case's files name the case and their
#: content on their own. nnU-Net and MSD files need their ``dataset.json`` to be read.
LINKABLE: Final = ("brats2023", "brats2021", "ucsf-pdgm", "generic")


def link_cases(
    cases: Iterable[CaseFiles], target: str | PathLike[str], *, labels: bool = True
) -> Path:
    """Make ``target`` a cohort of ``cases``: one folder per case, of symbolic links to the
    case's own files (sequences, extras and, with ``labels``, its segmentation) under their own
    names. A train / test split, or a copy of a labelled cohort with its labels withheld (for
    unsupervised training, or to prove that none is read), then costs no copy of an image.

    The cohort is built in a hidden sibling and renamed into place, so an interrupted call
    leaves no half-made cohort. Raises :class:`OutputCollisionError` if ``target`` exists, and
    :class:`LayoutError` for two cases with one id or a case of a layout not in
    :data:`LINKABLE`. A cohort manifest (:data:`MANIFEST`) is not carried over.
    """
    out = Path(target)
    if out.exists() or out.is_symlink():
        raise OutputCollisionError(out, "exists already; link the cases into a new folder")
    chosen = list(cases)
    check_unique_case_ids(chosen)
    for case in chosen:
        if case.layout not in LINKABLE:
            raise LayoutError(
                case.folder,
                f"case {case.case_id} is in the {case.layout} layout, whose files need their "
                f"dataset.json; cases of {', '.join(LINKABLE)} can be linked",
            )
    with atomic_folder(out) as staging:
        for case in chosen:
            folder = staging / case.case_id
            folder.mkdir()
            files = {*case.sequences.values(), *case.extras.values()}
            if labels and case.seg is not None:
                files.add(case.seg)
            for path in sorted(files):
                (folder / path.name).symlink_to(path.resolve())
    return out


def _file_key(key: str) -> str:
    if key == SEG:
        return SEG
    try:
        return canonical_sequence(key)
    except UnknownNameError:
        raise UnknownNameError(None, f"{key!r} is neither a sequence nor 'seg'") from None


def brats2023_filename(case_id: str, key: str) -> str:
    """BraTS 2023+ file name, e.g. ``("BraTS-GLI-00000-000", "t1n")`` -> ``...-t1n.nii.gz``.

    ``key`` is a sequence in any spelling or ``"seg"``.
    """
    return f"{case_id}-{_file_key(key)}.nii.gz"


_BRATS2021_KEYS: Final = {"t1n": "t1", "t1c": "t1ce", "t2w": "t2", "t2f": "flair", SEG: SEG}


def brats2021_filename(case_id: str, key: str) -> str:
    """BraTS 2019-2021 name: ``("BraTS20_Training_001", "t2f")`` -> ``..._flair.nii.gz``."""
    return f"{case_id}_{_BRATS2021_KEYS[_file_key(key)]}.nii.gz"


def case_centres(folder: str | PathLike[str], default: str | None = None) -> dict[str, str]:
    """Acquisition centre of every case in ``folder``, from its manifest (:data:`MANIFEST`).

    Real cohorts have no manifest: cases it does not list (all of them then) get ``default``,
    the caller's choice of an unknown or assumed centre. Raises :class:`LayoutError` naming the
    manifest when it cannot be read, or the folder when a case has no centre and no default.
    """
    source = Path(folder)
    manifest = source / MANIFEST
    centres: dict[str, str] = {}
    if manifest.is_file():
        try:
            records = json.loads(manifest.read_text(encoding="utf-8"))["cases"]
            centres = {str(r["case_id"]): str(r["centre"]) for r in records}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LayoutError(manifest, f"cannot read the case centres ({exc})") from None
    missing = [case.case_id for case in scan_cases(source) if case.case_id not in centres]
    if missing and default is None:
        raise LayoutError(
            source, f"no centre for {len(missing)} cases (e.g. {missing[0]}); give a default centre"
        )
    for case_id in missing:
        centres[case_id] = str(default)
    return centres

"""The role every generator plays, and the one loop that completes cases on disk with any of them.

A generator completes a case: given the sequences a case has, it returns the ones it lacks
(:meth:`Generator.complete`). HF-GAN (:class:`~mri_gen.hfgan.Synthesiser`) has one model for
every site; UMMGAT (:class:`~mri_gen.ummgat.Translator`) generates in a centre's domains and can
also translate the available sequences into another centre's (harmonisation), so the contract
carries the case's centre and an optional target centre. Tools that only need completion (the
benchmark, ``mri-gen complete``) talk to this contract and never to a family.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from mri_gen.errors import ConfigError, NonFiniteOutputError, NothingToSynthesiseError
from mri_io.atomic import atomic_folder, atomic_write
from mri_io.case import Case, load_case
from mri_io.errors import MriSuiteError
from mri_io.layouts import (
    CaseFiles,
    brats2021_filename,
    brats2023_filename,
    check_unique_case_ids,
    scan_cases,
)
from mri_io.nifti import save_volume


@runtime_checkable
class Generator(Protocol):
    """A trained generator that completes cases with missing sequences."""

    #: The model-folder kind it was loaded from (``"hfgan"``, ``"ummgat"``).
    kind: ClassVar[str]

    @property
    def sequences(self) -> tuple[str, ...]:
        """The sequences it can generate."""
        ...

    def complete(
        self,
        case: Case,
        missing: Sequence[str] | None = None,
        *,
        centre: str | None = None,
        target_centre: str | None = None,
        seed: int = 0,
    ) -> dict[str, NDArray[np.float32]]:
        """Arrays on the case's grid for every sequence of ``missing`` (default: every one of
        :attr:`sequences` the case lacks), each generated from the real inputs only.

        ``centre`` is where the case was acquired (generators without centres ignore it);
        ``target_centre`` asks a multi-centre generator to generate in that centre's domains
        and to return the case's available sequences translated there too (harmonisation);
        a generator without centres refuses it. ``seed`` fixes any random style choice.
        """
        ...


def _output_name(files: CaseFiles, key: str) -> str:
    if files.layout == "brats2021":
        return brats2021_filename(files.case_id, key)
    return brats2023_filename(files.case_id, key)


def _copy(source: Path, target: Path) -> None:
    with atomic_write(target) as temporary:
        shutil.copyfile(source, temporary)


def complete_case(
    generator: Generator,
    files: CaseFiles,
    out: str | PathLike[str],
    *,
    centre: str | None = None,
    target_centre: str | None = None,
    seed: int = 0,
) -> list[Path]:
    """Write the completed case into ``out/<case id>/``; returns the generated files.

    The generated (and, when harmonising, translated) sequences are written on the input's grid
    with its affine and header under their BraTS names; the case's other files (sequences not
    replaced, segmentation) are copied beside them, so the folder is a complete case. The
    folder is written whole into a hidden temporary sibling and renamed into place when
    complete (replacing an earlier one), so a failed or killed run never leaves a folder that
    a scan would read as a case with missing sequences. A generated array holding NaN or
    infinity raises :class:`NonFiniteOutputError` before anything is written.
    """
    if not files.sequences:
        raise NothingToSynthesiseError(files.folder, f"case {files.case_id} has no sequence file")
    case = load_case(files)
    target = Path(out) / files.case_id
    reference = next(iter(case.images.values()))
    arrays = generator.complete(case, centre=centre, target_centre=target_centre, seed=seed)
    for name, array in arrays.items():
        finite = np.isfinite(array)
        if not finite.all():
            bad = int(finite.size - np.count_nonzero(finite))
            raise NonFiniteOutputError(
                files.folder,
                f"the {generator.kind} generator produced {bad} of {finite.size} non-finite "
                f"voxels in {name} of case {files.case_id}; its weights may be damaged",
            )
    written = []
    with atomic_folder(target) as folder:
        for name, array in arrays.items():
            output = _output_name(files, name)
            save_volume(reference.with_data(array), folder / output, dtype=np.float32)
            written.append(target / output)
        for name, path in files.sequences.items():
            if name not in arrays:
                _copy(path, folder / path.name)
        if files.seg is not None:
            _copy(files.seg, folder / files.seg.name)
    return written


def complete_cohort(
    generator: Generator,
    cases: Iterable[CaseFiles],
    out: str | PathLike[str],
    *,
    centres: Mapping[str, str | None] | None = None,
    target_centre: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> tuple[list[Path], list[MriSuiteError]]:
    """Complete every case (``centres``: case id -> centre); a bad case is reported and
    skipped, not fatal to the cohort. Two cases with one id (in two folders) are refused
    before anything is written: their outputs would be one folder."""
    written: list[Path] = []
    failures: list[MriSuiteError] = []
    cases = list(cases)
    check_unique_case_ids(cases)
    for files in tqdm(cases, desc="completing", unit="case", disable=not progress):
        centre = None if centres is None else centres.get(files.case_id)
        try:
            written += complete_case(
                generator, files, out, centre=centre, target_centre=target_centre, seed=seed
            )
        except MriSuiteError as exc:
            failures.append(exc)
    return written, failures


def single_case(folder: str | PathLike[str]) -> CaseFiles:
    """The one case in ``folder`` (an error names the folder if it holds none or several)."""
    cases = scan_cases(folder)
    if len(cases) != 1:
        raise ConfigError(folder, f"holds {len(cases)} cases; use --cohort for several")
    return cases[0]

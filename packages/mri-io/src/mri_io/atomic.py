"""Write files so that a reader never sees half of one.

A crash, a full disk or a killed job in the middle of writing a 30 MB ``.nii.gz`` must not
leave a truncated file under the final name: a later run would take it for finished output.
Everything mri-io writes goes to a temporary file in the target folder (same file system, so
the final :func:`os.replace` is atomic) and is renamed onto the target only when complete.

A whole folder (one case of a cohort) is written the same way by :func:`atomic_folder`: into a
hidden temporary sibling, renamed into place when complete. Readers of a dataset
(:func:`mri_io.scan_cases`) skip hidden names, so a leftover of a killed run is never taken
for a case.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from mri_io.errors import OutputCollisionError

if TYPE_CHECKING:
    from mri_io.layouts import CaseFiles

#: Multi-part suffixes kept whole on temporary files, so writers that choose a format (or gzip
#: compression) from the suffix still see the right one.
COMPOUND_SUFFIXES = (".nii.gz", ".tar.gz", ".csv.gz", ".json.gz")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in COMPOUND_SUFFIXES:
        if name.endswith(suffix):
            return path.name[-len(suffix) :]
    return path.suffix


def _create_temporary(target: Path) -> Path:
    """A new empty file beside ``target``, created with ``0o666`` less the umask.

    ``tempfile.mkstemp`` would create it with mode 0600, and the renamed result would then be
    private to its writer, unlike any file ``open(path, "w")`` makes.
    """
    while True:
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(6)}{_suffix(target)}")
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return candidate


@contextmanager
def atomic_write(path: str | PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` if the block succeeds.

    The temporary file keeps the target's suffix (``.nii.gz`` included) and lives in the target
    folder, which is created if needed. If the block raises, the temporary file is deleted and
    ``path`` is left as it was (absent, or the previous complete version). The final file gets
    the permissions an ordinary ``open(path, "w")`` would give.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _create_temporary(target)
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically and return ``path`` as a :class:`Path`."""
    target = Path(path)
    with atomic_write(target) as temporary:
        temporary.write_text(text, encoding=encoding)
    return target


#: Infix of the hidden temporary folders :func:`atomic_folder` writes into.
PARTIAL_INFIX = ".partial-"


def _create_temporary_folder(target: Path, infix: str) -> Path:
    """A new empty hidden folder beside ``target`` (mode ``0o777`` less the umask)."""
    while True:
        candidate = target.with_name(f".{target.name}{infix}{secrets.token_hex(6)}")
        try:
            candidate.mkdir(mode=0o777)
        except FileExistsError:
            continue
        return candidate


@contextmanager
def atomic_folder(path: str | PathLike[str]) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``path``; when the block succeeds it becomes ``path``.

    Write a whole output (a case folder) into the yielded folder; a reader then sees either
    the previous complete ``path`` (or none) or the new complete one, never a half-written
    folder. An existing folder at ``path`` is replaced whole. If the block raises, the
    temporary folder is deleted; if the process is killed, it stays behind under a hidden name
    (``.NAME.partial-XXXX``) that dataset scans skip.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{target}: exists and is not a folder; cannot write one there")
    temporary = _create_temporary_folder(target, PARTIAL_INFIX)
    try:
        yield temporary
        _replace_folder(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _replace_folder(source: Path, target: Path) -> None:
    """Rename ``source`` onto ``target``; an existing ``target`` is moved aside, then deleted."""
    try:
        os.rename(source, target)
        return
    except OSError:
        if not target.is_dir():
            raise
    previous = target.with_name(f".{target.name}.replaced-{secrets.token_hex(6)}")
    os.rename(target, previous)
    try:
        os.rename(source, target)
    except BaseException:
        os.rename(previous, target)
        raise
    shutil.rmtree(previous, ignore_errors=True)


def check_apart(source: str | PathLike[str], out: str | PathLike[str]) -> None:
    """Refuse an output folder ``out`` that is, holds, or lies inside the input ``source``
    (:class:`~mri_io.errors.OutputCollisionError` naming both).

    Inside the input, a second run would read the first run's outputs as input (cases to
    normalise again, label maps taken for cases); around it, an output written into ``out``
    could replace an input file. Every command that reads a dataset and writes beside it
    checks this before any work.
    """
    given, target = Path(source).resolve(), Path(out).resolve()
    if target == given:
        raise OutputCollisionError(out, "output folder is the input folder; choose another")
    if target.is_relative_to(given):
        raise OutputCollisionError(
            out,
            f"output folder lies inside the input folder {source}, so a later run would read "
            "its outputs as input; choose a folder outside it",
        )
    if given.is_relative_to(target):
        raise OutputCollisionError(
            out, f"output folder holds the input folder {source}; choose a folder outside it"
        )


def check_not_an_input(out: str | PathLike[str], cases: Iterable[CaseFiles]) -> None:
    """Refuse an output file ``out`` that is one of the ``cases``' own files (a sequence, a
    label map or an extra such as a bias-corrected copy), with
    :class:`~mri_io.errors.OutputCollisionError` naming it and the case: writing a report
    there would destroy the input. Paths are compared resolved, so a relative path or a link
    to an input is refused too. Commands that read cases and write one file check this
    before any work."""
    target = Path(out).resolve()
    for case in cases:
        inputs = [*case.sequences.values(), *case.extras.values()]
        inputs += [] if case.seg is None else [case.seg]
        if any(path.resolve() == target for path in inputs):
            raise OutputCollisionError(
                out, f"is an input file of case {case.case_id}; writing there would destroy it"
            )

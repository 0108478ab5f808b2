"""MRI sequence names: one canonical key per sequence, every spelling the datasets use.

BraTS 2023+ files say ``t1n``, ``t1c``, ``t2w``, ``t2f``; BraTS 2019–2021 say ``t1``, ``t1ce``,
``t2``, ``flair``; UCSF-PDGM says ``T1``, ``T1c``, ``T2``, ``FLAIR``. Readers accept them all and
everything mri-suite writes uses the canonical key.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from mri_io.errors import UnknownNameError

#: Canonical keys, in the order BraSyn and the thesis list them: native T1, contrast-enhanced T1,
#: T2-weighted, T2-FLAIR.
SEQUENCES: Final = ("t1n", "t1c", "t2w", "t2f")

#: Human-readable names of the canonical keys.
SEQUENCE_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "t1n": "native T1-weighted",
        "t1c": "contrast-enhanced T1-weighted",
        "t2w": "T2-weighted",
        "t2f": "T2-FLAIR",
    }
)

#: Every accepted spelling (compared case-insensitively, ``_``/`` `` read as ``-``) to its key.
SEQUENCE_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "t1n": "t1n",
        "t1": "t1n",
        "t1w": "t1n",
        "t1-native": "t1n",
        "t1pre": "t1n",
        "t1-pre": "t1n",
        "t1c": "t1c",
        "t1ce": "t1c",
        "t1gd": "t1c",
        "t1-gd": "t1c",
        "t1post": "t1c",
        "t1-post": "t1c",
        "t1-contrast": "t1c",
        "t2w": "t2w",
        "t2": "t2w",
        "t2f": "t2f",
        "flair": "t2f",
        "t2-flair": "t2f",
        "t2flair": "t2f",
    }
)


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(" ", "-")


def canonical_sequence(name: str) -> str:
    """The canonical key of a sequence name in any spelling, e.g. ``"FLAIR" -> "t2f"``."""
    key = SEQUENCE_ALIASES.get(_normalise(name))
    if key is None:
        raise UnknownNameError(
            None,
            f"unknown MRI sequence {name!r}; expected one of {', '.join(SEQUENCES)} "
            "or an alias such as t1, t1ce, t2, flair",
        )
    return key


def is_sequence_name(name: str) -> bool:
    """Whether ``name`` is a sequence in some spelling (no exception; for file discovery)."""
    return _normalise(name) in SEQUENCE_ALIASES

"""Loss-weight overrides written on the command line, shared by every generator.

``"l1=10, adv=0"`` changes only the listed terms, so a user can switch a term off without
restating the paper's other weights.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from mri_gen.errors import ConfigError


def parse_weight_overrides(
    text: str, known: Collection[str], *, text_fields: Collection[str] = ()
) -> dict[str, Any]:
    """``NAME=VALUE`` pairs separated by commas; values are numbers except ``text_fields``.

    Raises :class:`ConfigError` for an unknown name or a value that is not a number.
    """
    values: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = (piece.strip() for piece in item.partition("="))
        if not sep or name not in known:
            choices = sorted(known)
            raise ConfigError(
                None, f"bad loss weight {item!r}: unknown loss {name!r}; choose among {choices}"
            )
        if name in text_fields:
            values[name] = value
            continue
        try:
            values[name] = float(value)
        except ValueError:
            raise ConfigError(None, f"bad loss weight {item!r}: write NAME=NUMBER") from None
    return values

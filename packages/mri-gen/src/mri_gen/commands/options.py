"""Command-line options several ``mri-gen`` commands share, defined once."""

from __future__ import annotations

import argparse
from typing import cast

from mri_io import VIEWS, View


def views(text: str) -> tuple[View, ...]:
    """``--views axial,sagittal``: distinct slicing views, at least one."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    bad = [name for name in names if name not in VIEWS]
    if bad or not names or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"views must be distinct among {', '.join(VIEWS)}; got {text!r}"
        )
    return cast(tuple[View, ...], names)

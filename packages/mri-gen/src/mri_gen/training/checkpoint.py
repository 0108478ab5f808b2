"""Resumable training state: everything a run needs to continue exactly where it stopped.

The state is a dict of tensors, numbers and strings (weights, optimiser and scheduler states,
step, random generator states, data position) written with ``torch.save`` to a temporary file
and renamed into place, so a kill mid-write leaves the previous state intact. It is read with
``torch.load(weights_only=True)``, which refuses anything but tensors and plain containers:
a state file cannot run code. Weights meant for sharing go through ``save_pretrained`` instead.
"""

from __future__ import annotations

import pickle
from os import PathLike
from pathlib import Path
from typing import Any, Final

import torch

from mri_gen.errors import CheckpointError
from mri_io.atomic import atomic_write

STATE_NAME: Final = "state.pt"


def save_state(state: dict[str, Any], path: str | PathLike[str]) -> Path:
    """Write ``state`` atomically."""
    target = Path(path)
    with atomic_write(target) as temporary:
        torch.save(state, temporary)
    return target


def load_state(path: str | PathLike[str], device: torch.device | str = "cpu") -> dict[str, Any]:
    """Read a state written by :func:`save_state`, refusing pickled code."""
    source = Path(path)
    if not source.is_file():
        raise CheckpointError(source, "no training state to resume from")
    try:
        state = torch.load(source, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        message = " ".join(str(exc).split())[:300]
        raise CheckpointError(source, f"cannot read the training state ({message})") from None
    if not isinstance(state, dict):
        raise CheckpointError(source, "not a training state (expected a dict)")
    return state

"""Resumable training state: everything a run needs to continue exactly where it stopped.

The state is a dict of tensors, numbers and strings (weights, optimiser and schedule states,
step, random generator states, data position) written with ``torch.save`` to a temporary file
and renamed into place, so a kill mid-write leaves the previous state intact. It is read with
``torch.load(weights_only=True)``, which refuses anything but tensors and plain containers:
a state file cannot run code. Weights meant for sharing go into model folders instead
(:mod:`mri_io.model_folder`).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import torch

from mri_io.atomic import atomic_write
from mri_io.errors import RunFolderError


def save_state(state: Mapping[str, Any], path: str | PathLike[str]) -> Path:
    """Write ``state`` atomically; returns the path."""
    target = Path(path)
    with atomic_write(target) as temporary:
        torch.save(dict(state), temporary)
    return target


def load_state(path: str | PathLike[str], device: torch.device | str = "cpu") -> dict[str, Any]:
    """Read a state written by :func:`save_state`, refusing pickled code; errors name the file."""
    source = Path(path)
    if not source.is_file():
        raise RunFolderError(source, "no training state to resume from")
    try:
        state = torch.load(source, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        message = " ".join(str(exc).split())[:300]
        raise RunFolderError(source, f"cannot read the training state ({message})") from None
    if not isinstance(state, dict):
        raise RunFolderError(source, "not a training state (expected a dict)")
    return state

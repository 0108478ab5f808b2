"""A saved model as a folder: ``config.json`` (how to rebuild it) plus ``model.safetensors``.

Weights from other people travel as files, and a pickle (``torch.save`` of a model) runs
arbitrary code when it is loaded; safetensors cannot. So every model of the suite (mri-gen's
generators, mri-seg's segmenters) is shared as exactly these two files, written here and read
back here without unpickling anything. Each package decides what its ``config.json`` holds
and checks it; this module owns the files: both are written atomically, weights first, so a
folder with a ``config.json`` is complete, and every failure names the file at fault.

Needs torch and safetensors (``pip install "mri-io[weights]"``; mri-gen and mri-seg pull
them in), imported only when a model folder is written or read, so mri-io's core stays
torch-free.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from mri_io.atomic import atomic_write, atomic_write_text
from mri_io.errors import ModelFolderError, MriIoError

if TYPE_CHECKING:
    import torch

CONFIG_NAME: Final = "config.json"
WEIGHTS_NAME: Final = "model.safetensors"
WEIGHTS_EXTRA: Final = 'reading or writing model weights needs: pip install "mri-io[weights]"'

ErrorType = type[MriIoError]


def _safetensors_torch() -> Any:
    try:
        import safetensors.torch
    except ImportError as exc:
        raise ImportError(f"{WEIGHTS_EXTRA} ({exc})") from exc
    return safetensors.torch


def write_model_folder(
    folder: str | PathLike[str],
    tensors: Mapping[str, torch.Tensor],
    config: Mapping[str, Any],
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``tensors`` and ``config`` into ``folder`` (created); returns the folder.

    ``tensors`` is usually a ``state_dict()``: each is detached, moved to the CPU and made
    contiguous, as safetensors requires. ``metadata`` goes into the safetensors header.
    """
    save_file = _safetensors_torch().save_file
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    plain = {name: value.detach().cpu().contiguous() for name, value in tensors.items()}
    with atomic_write(target / WEIGHTS_NAME) as temporary:
        save_file(plain, str(temporary), metadata=dict(metadata or {}))
    atomic_write_text(target / CONFIG_NAME, json.dumps(dict(config), indent=2) + "\n")
    return target


def read_model_config(
    folder: str | PathLike[str], *, error: ErrorType = ModelFolderError
) -> dict[str, Any]:
    """The parsed ``config.json`` of a model folder; problems raise ``error`` naming the file."""
    source = Path(folder)
    path = source / CONFIG_NAME
    if not source.is_dir():
        raise error(source, f"not a folder holding {CONFIG_NAME} and {WEIGHTS_NAME}")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(source, f"no {CONFIG_NAME}: not a saved model folder") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(path, f"not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise error(path, "expected a JSON object")
    return document


def read_model_weights(
    folder: str | PathLike[str], *, error: ErrorType = ModelFolderError
) -> dict[str, torch.Tensor]:
    """The tensors of a model folder's ``model.safetensors`` (on the CPU)."""
    safetensors_torch = _safetensors_torch()
    from safetensors import SafetensorError

    path = Path(folder) / WEIGHTS_NAME
    if not path.is_file():
        raise error(folder, f"no {WEIGHTS_NAME} beside {CONFIG_NAME}")
    try:
        tensors: dict[str, torch.Tensor] = safetensors_torch.load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise error(path, f"damaged weights file ({exc})") from None
    return tensors

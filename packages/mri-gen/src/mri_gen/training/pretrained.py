"""``save_pretrained``/``from_pretrained`` storage: ``config.json`` plus ``model.safetensors``.

Weights are shared as safetensors, never as pickles: loading a file from someone else cannot run
code. The JSON names the model kind, so a folder of one model is not silently loaded into
another, and holds everything needed to rebuild it (sizes, sequence order, normalisation).
Both files are written atomically, weights first, so a folder with a ``config.json`` is complete.
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path
from typing import Any, Final

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from mri_gen.__about__ import __version__
from mri_gen.errors import CheckpointError
from mri_io.atomic import atomic_write, atomic_write_text

CONFIG_NAME: Final = "config.json"
WEIGHTS_NAME: Final = "model.safetensors"


def save_pretrained_files(
    module: nn.Module, document: dict[str, Any], folder: str | PathLike[str]
) -> Path:
    """Write ``module``'s weights and ``document`` (with the mri-gen version) into ``folder``."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    tensors = {
        name: value.detach().contiguous().cpu() for name, value in module.state_dict().items()
    }
    with atomic_write(target / WEIGHTS_NAME) as temporary:
        save_file(tensors, str(temporary), metadata={"format": "pt"})
    content = {"mri_gen_version": __version__, **document}
    atomic_write_text(target / CONFIG_NAME, json.dumps(content, indent=2) + "\n")
    return target


def load_pretrained(
    folder: str | PathLike[str], kind: str
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The configuration document and the tensors of a folder written for model ``kind``."""
    source = Path(folder)
    config_path = source / CONFIG_NAME
    weights_path = source / WEIGHTS_NAME
    if not source.is_dir():
        raise CheckpointError(source, "not a folder holding config.json and model.safetensors")
    try:
        document = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(source, f"no {CONFIG_NAME}: not a saved model folder") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(config_path, f"cannot read the model configuration ({exc})") from None
    if not isinstance(document, dict) or document.get("model") != kind:
        found = document.get("model") if isinstance(document, dict) else None
        raise CheckpointError(config_path, f"holds a {found!r} model, expected {kind!r}")
    if not weights_path.is_file():
        raise CheckpointError(source, f"no {WEIGHTS_NAME} beside {CONFIG_NAME}")
    try:
        tensors = load_file(str(weights_path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(weights_path, f"damaged weights file ({exc})") from None
    return document, tensors

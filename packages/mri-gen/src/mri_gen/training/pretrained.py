"""``save_pretrained``/``from_pretrained`` for mri-gen's networks, on mri-io's model folders.

A folder is ``config.json`` plus ``model.safetensors`` (:mod:`mri_io.model_folder`: atomic,
never a pickle). mri-gen's JSON names the model kind, so a folder of one model is not silently
loaded into another, and holds everything needed to rebuild it (sizes, sequence order,
normalisation) with the mri-gen version that wrote it.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mri_gen.__about__ import __version__
from mri_gen.errors import CheckpointError
from mri_io.model_folder import (
    CONFIG_NAME,
    read_model_config,
    read_model_weights,
    write_model_folder,
)


def save_pretrained_files(
    module: nn.Module, document: dict[str, Any], folder: str | PathLike[str]
) -> Path:
    """Write ``module``'s weights and ``document`` (with the mri-gen version) into ``folder``."""
    config = {"mri_gen_version": __version__, **document}
    return write_model_folder(folder, module.state_dict(), config, metadata={"format": "pt"})


def load_pretrained(
    folder: str | PathLike[str], kind: str
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The configuration document and the tensors of a folder written for model ``kind``."""
    document = read_model_config(folder, error=CheckpointError)
    if document.get("model") != kind:
        raise CheckpointError(
            Path(folder) / CONFIG_NAME,
            f"holds a {document.get('model')!r} model, expected {kind!r}",
        )
    return document, read_model_weights(folder, error=CheckpointError)

"""mri-gen's networks as model folders (:mod:`mri_io.model_folder`: one schema for the suite).

A folder's ``kind`` names the model (``"hfgan"``, ``"ummgat"``), so a folder of one model is
not silently loaded into another; its ``config`` holds everything needed to rebuild and use it
(sizes, sequence order, normalisation statistics), and the mri-gen version that wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from torch import nn

from mri_gen.__about__ import __version__
from mri_gen.errors import CheckpointError
from mri_io.model_folder import ModelFolder, read_model_folder, write_model_folder

PACKAGE = "mri-gen"


def save_model(
    module: nn.Module, kind: str, config: Mapping[str, Any], folder: str | PathLike[str]
) -> Path:
    """Write ``module``'s weights and ``config`` as a ``kind`` model folder."""
    return write_model_folder(
        folder, module.state_dict(), kind=kind, package=PACKAGE, version=__version__, config=config
    )


def read_model(folder: str | PathLike[str], kind: str) -> ModelFolder:
    """The model folder ``folder`` (or a run folder's model), refusing any model but ``kind``."""
    saved = read_model_folder(folder, error=CheckpointError)
    if (saved.package, saved.kind) != (PACKAGE, kind):
        raise CheckpointError(
            saved.path / "config.json",
            f"holds a {saved.package} {saved.kind!r} model, expected an mri-gen {kind!r} model",
        )
    return saved

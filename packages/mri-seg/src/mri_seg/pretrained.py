"""Model folders: ``config.json`` (architecture) plus ``model.safetensors`` (weights).

The files themselves are mri-io's model folders (:mod:`mri_io.model_folder`: atomic writes,
never a pickle). Here: what mri-seg's config holds, and rebuilding a network from it. Each
network class registers under a name written into the config, so one loader reads any mri-seg
model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar

import torch

from mri_io.model_folder import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    read_model_config,
    read_model_weights,
    write_model_folder,
)
from mri_seg.errors import ModelFileError

#: Version of the config layout; bumped when a field changes meaning.
FORMAT_VERSION = 1

ModelT = TypeVar("ModelT", bound="PretrainedModel")


class PretrainedModel(torch.nn.Module):
    """A network that can be rebuilt from a JSON config and saved as config + safetensors.

    Subclasses set :attr:`model_type`, keep their constructor arguments as a JSON-ready dict in
    :attr:`config`, and are rebuilt with ``cls(**config)``.
    """

    model_type: str = ""
    config: dict[str, Any]

    def save_pretrained(self, folder: str | PathLike[str]) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``folder`` (created), atomically."""
        document = {"model_type": self.model_type, "format": FORMAT_VERSION, **self.config}
        metadata = {"model_type": self.model_type}
        return write_model_folder(folder, self.state_dict(), document, metadata)

    @classmethod
    def from_pretrained(
        cls: type[ModelT], folder: str | PathLike[str], *, device: str | torch.device = "cpu"
    ) -> ModelT:
        """The model saved in ``folder`` by :meth:`save_pretrained`, in eval mode."""
        model = load_pretrained(folder, device=device)
        if not isinstance(model, cls):
            raise ModelFileError(
                Path(folder) / CONFIG_NAME,
                f"holds a {model.model_type!r} model, not a {cls.model_type!r} model",
            )
        return model


_REGISTRY: dict[str, Callable[..., PretrainedModel]] = {}


def register_model(cls: type[ModelT]) -> type[ModelT]:
    """Class decorator: make ``cls`` loadable by :func:`load_pretrained` under its model type."""
    _REGISTRY[cls.model_type] = cls
    return cls


def read_config(folder: str | PathLike[str]) -> dict[str, Any]:
    """The parsed ``config.json`` of a model folder, checked for a known model type."""
    path = Path(folder) / CONFIG_NAME
    document = read_model_config(folder, error=ModelFileError)
    model_type = document.get("model_type")
    if model_type not in _REGISTRY:
        raise ModelFileError(
            path, f"unknown model_type {model_type!r}; known: {', '.join(sorted(_REGISTRY))}"
        )
    if document.get("format") != FORMAT_VERSION:
        raise ModelFileError(
            path, f"config format {document.get('format')!r}; this version reads {FORMAT_VERSION}"
        )
    return document


def load_pretrained(
    folder: str | PathLike[str], *, device: str | torch.device = "cpu"
) -> PretrainedModel:
    """Rebuild whichever registered model ``folder`` holds and load its weights (eval mode)."""
    document = read_config(folder)
    arguments = {k: v for k, v in document.items() if k not in ("model_type", "format")}
    try:
        model = _REGISTRY[document["model_type"]](**arguments)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(Path(folder) / CONFIG_NAME, f"invalid model settings: {exc}") from None
    tensors = read_model_weights(folder, error=ModelFileError)
    _load_weights(model, tensors, Path(folder) / WEIGHTS_NAME)
    return model.to(device).eval()


def _load_weights(model: torch.nn.Module, tensors: Mapping[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ModelFileError(
            path,
            f"weights do not fit the config: missing {missing[:3]}, unexpected {unexpected[:3]}",
        )
    for name, value in tensors.items():
        if value.shape != expected[name].shape:
            raise ModelFileError(
                path,
                f"{name} has shape {tuple(value.shape)}, the config expects "
                f"{tuple(expected[name].shape)}",
            )
    model.load_state_dict(dict(tensors))

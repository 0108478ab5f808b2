"""mri-seg's models as model folders, and the one loader for all of them.

The files are mri-io's model folders (:mod:`mri_io.model_folder`: one ``config.json`` schema
with kind, package version and weights hash; atomic writes; never a pickle). Each network
class registers under its ``kind`` (``@register_model``, one line per family);
:func:`load_segmenter` reads any mri-seg model folder, or the best (else last) model of a run
folder, and rebuilds whichever class it names: a :class:`~mri_seg.contract.Segmenter`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar

import torch
from numpy.typing import NDArray

from mri_io.case import Case
from mri_io.model_folder import load_weights, read_model_folder, write_model_folder
from mri_io.nifti import Volume
from mri_io.training import resolve_device
from mri_seg.__about__ import __version__
from mri_seg.contract import InferenceSettings
from mri_seg.errors import ModelFileError

PACKAGE = "mri-seg"

ModelT = TypeVar("ModelT", bound="PretrainedModel")


class PretrainedModel(torch.nn.Module):
    """A segmentation network that is a :class:`~mri_seg.contract.Segmenter` and can be
    rebuilt from a JSON config and saved as config + safetensors.

    Subclasses set :attr:`model_type` (the folder's ``kind``), keep their constructor arguments
    as a JSON-ready dict in :attr:`config` (rebuilt with ``cls(**config)``), set
    :attr:`sequences`, and implement :attr:`label_convention` and :meth:`segment`.
    """

    model_type: str = ""
    config: dict[str, Any]
    sequences: tuple[str, ...]

    @property
    def label_convention(self) -> str:
        """The label convention of the maps :meth:`segment` returns."""
        raise NotImplementedError

    @property
    def required_sequences(self) -> tuple[str, ...]:
        """The sequences a case must have (or be completed with) to be segmented: all of
        :attr:`sequences`, unless the model was trained to segment incomplete cases."""
        return self.sequences

    def segment(
        self,
        case: Case,
        *,
        completion: Mapping[str, NDArray[Any]] | None = None,
        settings: InferenceSettings | None = None,
    ) -> Volume:
        """The label map of ``case`` (see :class:`~mri_seg.contract.Segmenter`)."""
        raise NotImplementedError

    def save_pretrained(self, folder: str | PathLike[str]) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``folder`` (created), atomically."""
        return write_model_folder(
            folder,
            self.state_dict(),
            kind=self.model_type,
            package=PACKAGE,
            version=__version__,
            config=self.config,
        )

    @classmethod
    def from_pretrained(
        cls: type[ModelT], folder: str | PathLike[str], *, device: str | torch.device = "cpu"
    ) -> ModelT:
        """The model saved in ``folder`` by :meth:`save_pretrained`, in eval mode."""
        model = load_segmenter(folder, device=device)
        if not isinstance(model, cls):
            raise ModelFileError(
                folder, f"holds a {model.model_type!r} model, not a {cls.model_type!r} model"
            )
        return model


_REGISTRY: dict[str, Callable[..., PretrainedModel]] = {}


def register_model(cls: type[ModelT]) -> type[ModelT]:
    """Class decorator: make ``cls`` loadable by :func:`load_segmenter` under its kind."""
    _REGISTRY[cls.model_type] = cls
    return cls


def load_segmenter(
    folder: str | PathLike[str], *, device: str | torch.device = "cpu"
) -> PretrainedModel:
    """The segmenter saved in ``folder`` (a model folder, or a run folder: its best model, else
    its last), rebuilt as the class its ``config.json`` names, in eval mode on ``device``.

    Every class it returns implements :class:`~mri_seg.contract.Segmenter`."""
    saved = read_model_folder(folder, error=ModelFileError)
    config_path = saved.path / "config.json"
    if saved.package != PACKAGE or saved.kind not in _REGISTRY:
        raise ModelFileError(
            config_path,
            f"holds a {saved.package} {saved.kind!r} model; mri-seg loads "
            f"{', '.join(sorted(_REGISTRY))}",
        )
    try:
        model = _REGISTRY[saved.kind](**saved.config)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(config_path, f"invalid model settings: {exc}") from None
    load_weights(model, saved, error=ModelFileError)
    return model.to(resolve_device(device)).eval()

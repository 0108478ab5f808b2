"""One entry point for every trained generator: :func:`load_generator` reads any mri-gen model
folder (or a run folder: its best model, else its last) and returns the model ready to use,
chosen by the folder's ``kind``, so a user or the benchmark never has to know which family
wrote a folder before opening it."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from os import PathLike
from typing import Any

import torch

from mri_gen.errors import CheckpointError, ConfigError
from mri_gen.hfgan.generator import MODEL_KIND as HFGAN_KIND
from mri_gen.hfgan.inference import Synthesiser
from mri_gen.training.pretrained import PACKAGE
from mri_gen.ummgat.inference import Translator
from mri_gen.ummgat.networks import MODEL_KIND as UMMGAT_KIND
from mri_io.model_folder import read_model_folder

#: How each kind of model folder is opened: ``(folder, device) -> ready model``.
LOADERS: dict[str, Callable[..., Any]] = {
    HFGAN_KIND: Synthesiser.from_pretrained,
    UMMGAT_KIND: Translator.from_pretrained,
}


def load_generator(
    folder: str | PathLike[str], *, device: str | torch.device = "cpu", **options: Any
) -> Synthesiser | Translator:
    """The generator saved in ``folder``: a :class:`Synthesiser` for HF-GAN, a
    :class:`Translator` for UMMGAT (both implement :class:`~mri_gen.Generator`).

    ``options`` go to the family's loader (``batch_size`` for both; ``views`` and ``bf16`` for
    HF-GAN); one the family does not take raises :class:`ConfigError`. Another package's model,
    an unknown kind or a damaged folder raises :class:`CheckpointError` naming the file."""
    saved = read_model_folder(folder, error=CheckpointError)
    if saved.package != PACKAGE or saved.kind not in LOADERS:
        raise CheckpointError(
            saved.path / "config.json",
            f"holds a {saved.package} {saved.kind!r} model; mri-gen loads "
            f"{', '.join(sorted(LOADERS))}",
        )
    loader = LOADERS[saved.kind]
    accepted = set(inspect.signature(loader).parameters) - {"folder", "device"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ConfigError(
            None, f"a {saved.kind} model takes no option {unknown}; it takes {sorted(accepted)}"
        )
    loaded: Synthesiser | Translator = loader(saved.path, device=device, **options)
    return loaded

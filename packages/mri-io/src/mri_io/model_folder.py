"""A saved model as a folder: ``config.json`` (what it is, how to rebuild it) + its weights.

Weights from other people travel as files, and a pickle (``torch.save`` of a model) runs
arbitrary code when it is loaded; safetensors cannot. So every model of the suite (mri-gen's
generators, mri-seg's segmenters) is shared as exactly these two files, written here and read
back here without unpickling anything. ``config.json`` has one schema for every model::

    {"kind": "hfgan", "package": "mri-gen", "version": "0.2.0",
     "config": {...everything the family needs to rebuild and use the model...},
     "weights_sha256": "..."}

``kind`` picks the class (``mri_gen.load_generator`` and ``mri_seg.load_segmenter`` look it up
in their registries); ``weights_sha256`` is checked on every read, so flipped bits in the
weights are refused instead of silently producing NaN images. The folder is written whole
(:func:`mri_io.atomic.atomic_folder`): a training run killed while it saves ``last/`` leaves
the previous model or the new one, never new weights beside an old ``config.json``, and every
failure names the file at fault. Folders written before this schema (``{"model": ...,
"mri_gen_version": ...}`` and ``{"model_type": ..., "format": 1}``) are still read.

Writing and reading weights needs torch and safetensors (``pip install "mri-io[torch]"``;
mri-gen and mri-seg pull them in), imported only then, so mri-io's core stays torch-free.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from mri_io.atomic import atomic_folder, atomic_write, atomic_write_text
from mri_io.errors import ModelFolderError, MriSuiteError

if TYPE_CHECKING:
    import torch

CONFIG_NAME: Final = "config.json"
WEIGHTS_NAME: Final = "model.safetensors"
TORCH_EXTRA: Final = 'reading or writing model weights needs: pip install "mri-io[torch]"'
#: Run-folder subfolders holding models, in the order a run folder is resolved to one.
RUN_MODEL_DIRS: Final = ("best", "last")

ErrorType = type[MriSuiteError]


@dataclass(frozen=True)
class ModelFolder:
    """What a model folder's ``config.json`` says (``version``/``weights_sha256`` are ``None``
    for folders of the earliest format, which did not record them)."""

    path: Path
    kind: str
    package: str
    version: str | None
    config: dict[str, Any]
    weights_sha256: str | None

    @property
    def weights(self) -> Path:
        return self.path / WEIGHTS_NAME


def _safetensors_torch() -> Any:
    try:
        import safetensors.torch
    except ImportError as exc:
        raise ImportError(f"{TORCH_EXTRA} ({exc})") from exc
    return safetensors.torch


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_model_folder(
    folder: str | PathLike[str],
    tensors: Mapping[str, torch.Tensor],
    *,
    kind: str,
    package: str,
    version: str,
    config: Mapping[str, Any],
) -> Path:
    """Write ``tensors`` and the ``config.json`` of a ``kind`` model as the folder ``folder``.

    ``tensors`` is usually a ``state_dict()``: each is detached, moved to the CPU and made
    contiguous, as safetensors requires. Both files go into a hidden sibling that replaces
    ``folder`` whole when they are complete, so an earlier model there stays readable until
    the new one is. A ``folder`` holding anything but a model's files is refused
    (:class:`~mri_io.errors.ModelFolderError`) rather than replaced with what it holds.
    Returns the folder.
    """
    save_file = _safetensors_torch().save_file
    target = Path(folder)
    _check_replaceable(target)
    plain = {name: value.detach().cpu().contiguous() for name, value in tensors.items()}
    with atomic_folder(target) as written:
        with atomic_write(written / WEIGHTS_NAME) as temporary:
            # One metadata key: safetensors writes its metadata map in an arbitrary order, so
            # two keys would make the same weights give files (and hashes) that differ run to
            # run.
            label = json.dumps({"kind": kind, "package": package}, sort_keys=True)
            save_file(plain, str(temporary), metadata={"mri-suite": label})
            digest = _sha256(Path(temporary))
        document = {
            "kind": kind,
            "package": package,
            "version": version,
            "config": dict(config),
            "weights_sha256": digest,
        }
        atomic_write_text(written / CONFIG_NAME, json.dumps(document, indent=2) + "\n")
    return target


def _check_replaceable(target: Path) -> None:
    """Refuse to replace a folder that holds more than a model (hidden leftovers of a killed
    write aside): writing a model into it would delete the rest."""
    if not target.is_dir():
        return
    others = sorted(
        path.name
        for path in target.iterdir()
        if path.name not in (CONFIG_NAME, WEIGHTS_NAME) and not path.name.startswith(".")
    )
    if others:
        raise ModelFolderError(
            target,
            f"holds {', '.join(others[:3])}{', ...' if len(others) > 3 else ''}, not only a "
            "model; save the model into a new or empty folder",
        )


def resolve_model_folder(path: str | PathLike[str]) -> Path:
    """``path`` itself when it holds ``config.json``; for a run folder its ``best/`` model, or
    its ``last/`` when it has no best; else ``path`` unchanged (reading it then says why)."""
    source = Path(path)
    if (source / CONFIG_NAME).is_file():
        return source
    for name in RUN_MODEL_DIRS:
        if (source / name / CONFIG_NAME).is_file():
            return source / name
    return source


def _legacy(document: dict[str, Any]) -> tuple[str, str, str | None, dict[str, Any]] | None:
    """Kind, package, version and config of a folder written before the one schema."""
    rest = dict(document)
    if "model" in rest and "mri_gen_version" in rest:
        kind = {"hfgan-generator": "hfgan"}.get(rest["model"], rest["model"])
        rest.pop("model")
        return str(kind), "mri-gen", str(rest.pop("mri_gen_version")), rest
    if "model_type" in rest and rest.get("format") == 1:
        kind = rest.pop("model_type")
        rest.pop("format")
        return str(kind), "mri-seg", None, rest
    return None


def read_model_folder(
    path: str | PathLike[str], *, error: ErrorType = ModelFolderError
) -> ModelFolder:
    """The ``config.json`` of the model folder ``path`` (or of a run folder's best/last model);
    problems raise ``error`` naming the file."""
    source = resolve_model_folder(path)
    config_path = source / CONFIG_NAME
    if not source.is_dir():
        raise error(source, f"not a folder holding {CONFIG_NAME} and {WEIGHTS_NAME}")
    try:
        document = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(source, f"no {CONFIG_NAME}: not a saved model or run folder") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(config_path, f"not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise error(config_path, "expected a JSON object")
    legacy = _legacy(document)
    if legacy is not None:
        kind, package, version, config = legacy
        return ModelFolder(source, kind, package, version, config, None)
    missing = [key for key in ("kind", "package", "config") if key not in document]
    if missing or not isinstance(document["config"], dict):
        raise error(config_path, f"not a model config (missing {', '.join(missing) or 'config'})")
    return ModelFolder(
        source,
        str(document["kind"]),
        str(document["package"]),
        document.get("version"),
        document["config"],
        document.get("weights_sha256"),
    )


def read_model_weights(
    folder: ModelFolder, *, error: ErrorType = ModelFolderError
) -> dict[str, torch.Tensor]:
    """The tensors of ``folder``'s ``model.safetensors`` (on the CPU), checked against the hash
    its ``config.json`` recorded."""
    safetensors_torch = _safetensors_torch()
    from safetensors import SafetensorError

    path = folder.weights
    if not path.is_file():
        raise error(folder.path, f"no {WEIGHTS_NAME} beside {CONFIG_NAME}")
    if folder.weights_sha256 is not None and _sha256(path) != folder.weights_sha256:
        raise error(
            path,
            "damaged weights file: its SHA-256 differs from the one config.json recorded "
            "(the file changed after it was written); copy it again from its source",
        )
    try:
        tensors: dict[str, torch.Tensor] = safetensors_torch.load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise error(path, f"damaged weights file ({exc})") from None
    return tensors


def load_weights(
    module: torch.nn.Module, folder: ModelFolder, *, error: ErrorType = ModelFolderError
) -> None:
    """Load ``folder``'s weights into ``module``, refusing (naming the file) weights whose names
    or shapes do not fit it, e.g. a ``config.json`` edited after the weights were saved."""
    tensors = read_model_weights(folder, error=error)
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise error(
            folder.weights,
            f"weights do not fit the config: missing {missing[:3]}, unexpected {unexpected[:3]}",
        )
    for name, value in tensors.items():
        if value.shape != expected[name].shape:
            raise error(
                folder.weights,
                f"{name} has shape {tuple(value.shape)}, the config expects "
                f"{tuple(expected[name].shape)}",
            )
    module.load_state_dict(tensors)

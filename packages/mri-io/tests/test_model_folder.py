"""Model folders: one config.json schema, weights checked by hash, written atomically."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from mri_io.errors import ModelFolderError, MriIoError
from mri_io.model_folder import (
    load_weights,
    read_model_folder,
    read_model_weights,
    resolve_model_folder,
    write_model_folder,
)

IDENTITY = {"kind": "demo", "package": "mri-demo", "version": "1.2.3"}


class OtherError(MriIoError):
    """A caller's own error type."""


def _write(folder: Path, tensors: dict, config: dict | None = None) -> Path:
    return write_model_folder(folder, tensors, config=config or {}, **IDENTITY)


def test_round_trip_keeps_every_tensor_and_the_config(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(0)
    tensors = {
        "conv.weight": torch.randn(4, 2, 3, 3, generator=generator),
        "norm.bias": torch.randn(4, generator=generator).to(torch.bfloat16),
        "step": torch.tensor(7),
        # A non-contiguous view must be stored as its values, not its storage.
        "transposed": torch.randn(3, 5, generator=generator).t(),
    }
    config = {"sizes": [1, 2, 3]}
    folder = _write(tmp_path / "m", tensors, config)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    document = json.loads((folder / "config.json").read_text())
    weights = (folder / "model.safetensors").read_bytes()
    assert document == {**IDENTITY, "config": config, "weights_sha256": _sha(weights)}
    saved = read_model_folder(folder)
    assert (saved.kind, saved.package, saved.version, saved.config) == (
        "demo",
        "mri-demo",
        "1.2.3",
        config,
    )
    loaded = read_model_weights(saved)
    assert loaded.keys() == tensors.keys()
    for name, value in tensors.items():
        assert loaded[name].dtype == value.dtype
        assert torch.equal(loaded[name], value)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_failed_write_leaves_the_previous_model_whole(tmp_path: Path) -> None:
    _write(tmp_path, {"w": torch.ones(2)}, {"version": 1})
    shared = torch.zeros(4)
    with pytest.raises(RuntimeError, match="share memory"):  # refused by safetensors
        _write(tmp_path, {"a": shared, "b": shared}, {"version": 2})
    saved = read_model_folder(tmp_path)
    assert saved.config == {"version": 1}
    assert torch.equal(read_model_weights(saved)["w"], torch.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]


def test_changed_weights_are_refused_by_their_hash(tmp_path: Path) -> None:
    _write(tmp_path, {"w": torch.arange(64, dtype=torch.float32)})
    data = bytearray((tmp_path / "model.safetensors").read_bytes())
    data[-3] ^= 0x01  # one flipped bit in the data section: still a valid safetensors file
    (tmp_path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelFolderError, match="SHA-256 differs") as info:
        read_model_weights(read_model_folder(tmp_path))
    assert str(tmp_path / "model.safetensors") in str(info.value)


def test_missing_and_damaged_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ModelFolderError, match="not a folder"):
        read_model_folder(tmp_path / "absent")
    with pytest.raises(ModelFolderError, match=r"no config\.json"):
        read_model_folder(tmp_path)
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(ModelFolderError, match="not valid JSON") as info:
        read_model_folder(tmp_path)
    assert str(tmp_path / "config.json") in str(info.value)
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ModelFolderError, match="expected a JSON object"):
        read_model_folder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"kind": "demo"}))
    with pytest.raises(ModelFolderError, match="not a model config"):
        read_model_folder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**IDENTITY, "config": {}}))
    with pytest.raises(ModelFolderError, match=r"no model\.safetensors"):
        read_model_weights(read_model_folder(tmp_path))
    (tmp_path / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ModelFolderError, match="damaged weights file"):
        read_model_weights(read_model_folder(tmp_path))


def test_callers_choose_the_error_type(tmp_path: Path) -> None:
    with pytest.raises(OtherError, match=r"no config\.json"):
        read_model_folder(tmp_path, error=OtherError)
    (tmp_path / "config.json").write_text(json.dumps({**IDENTITY, "config": {}}))
    with pytest.raises(OtherError, match=r"no model\.safetensors"):
        read_model_weights(read_model_folder(tmp_path), error=OtherError)


def test_a_run_folder_resolves_to_its_best_model_else_its_last(tmp_path: Path) -> None:
    assert resolve_model_folder(tmp_path) == tmp_path
    _write(tmp_path / "last", {"w": torch.zeros(1)})
    assert read_model_folder(tmp_path).path == tmp_path / "last"
    _write(tmp_path / "best", {"w": torch.ones(1)})
    assert read_model_folder(tmp_path).path == tmp_path / "best"


@pytest.mark.parametrize(
    ("document", "identity"),
    [
        (
            {"model": "hfgan-generator", "mri_gen_version": "0.1.0", "generator": {"a": 1}},
            ("hfgan", "mri-gen", "0.1.0", {"generator": {"a": 1}}),
        ),
        (
            {"model_type": "unet3d", "format": 1, "channels": [8]},
            ("unet3d", "mri-seg", None, {"channels": [8]}),
        ),
    ],
)
def test_folders_of_the_earlier_formats_are_read(
    tmp_path: Path, document: dict, identity: tuple
) -> None:
    (tmp_path / "config.json").write_text(json.dumps(document))
    saved = read_model_folder(tmp_path)
    assert (saved.kind, saved.package, saved.version, saved.config) == identity
    assert saved.weights_sha256 is None


def test_weights_that_do_not_fit_the_module_are_named(tmp_path: Path) -> None:
    module = torch.nn.Linear(3, 2)
    _write(tmp_path, {"weight": torch.zeros(2, 4), "bias": torch.zeros(2)})
    with pytest.raises(ModelFolderError, match="weight has shape"):
        load_weights(module, read_model_folder(tmp_path))
    _write(tmp_path, {"weight": torch.zeros(2, 3)})
    with pytest.raises(ModelFolderError, match=r"missing \['bias'\]"):
        load_weights(module, read_model_folder(tmp_path))
    _write(tmp_path, {"weight": torch.ones(2, 3), "bias": torch.ones(2)})
    load_weights(module, read_model_folder(tmp_path))
    assert torch.equal(module.weight.detach(), torch.ones(2, 3))


def test_the_same_weights_give_the_same_file_every_time(tmp_path: Path) -> None:
    """Same seed, same output: a model folder's bytes (and so its recorded hash) depend only
    on its weights and identity, not on the order a map happened to be written in."""
    tensors = {"a": torch.arange(6.0).reshape(2, 3), "b": torch.ones(2)}
    digests = {
        json.loads((_write(tmp_path / str(i), tensors) / "config.json").read_text())[
            "weights_sha256"
        ]
        for i in range(8)
    }
    assert len(digests) == 1

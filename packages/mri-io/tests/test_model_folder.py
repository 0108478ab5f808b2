"""Model folders: config.json plus model.safetensors, written atomically, read with named errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mri_io.errors import ModelFolderError, MriIoError
from mri_io.model_folder import read_model_config, read_model_weights, write_model_folder

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")


class OtherError(MriIoError):
    """A caller's own error type."""


def test_round_trip_keeps_every_tensor_and_the_config(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(0)
    tensors = {
        "conv.weight": torch.randn(4, 2, 3, 3, generator=generator),
        "norm.bias": torch.randn(4, generator=generator).to(torch.bfloat16),
        "step": torch.tensor(7),
        # A non-contiguous view must be stored as its values, not its storage.
        "transposed": torch.randn(3, 5, generator=generator).t(),
    }
    config = {"model": "demo", "sizes": [1, 2, 3]}
    folder = write_model_folder(tmp_path / "m", tensors, config, metadata={"kind": "demo"})
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    assert read_model_config(folder) == config
    loaded = read_model_weights(folder)
    assert loaded.keys() == tensors.keys()
    for name, value in tensors.items():
        assert loaded[name].dtype == value.dtype
        assert torch.equal(loaded[name], value)


def test_a_failed_write_leaves_the_previous_model_whole(tmp_path: Path) -> None:
    write_model_folder(tmp_path, {"w": torch.ones(2)}, {"version": 1})
    shared = torch.zeros(4)
    with pytest.raises(RuntimeError, match="share memory"):  # refused by safetensors
        write_model_folder(tmp_path, {"a": shared, "b": shared}, {"version": 2})
    assert read_model_config(tmp_path) == {"version": 1}
    assert torch.equal(read_model_weights(tmp_path)["w"], torch.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]


def test_missing_and_damaged_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ModelFolderError, match="not a folder"):
        read_model_config(tmp_path / "absent")
    with pytest.raises(ModelFolderError, match=r"no config\.json"):
        read_model_config(tmp_path)
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(ModelFolderError, match="not valid JSON") as info:
        read_model_config(tmp_path)
    assert str(tmp_path / "config.json") in str(info.value)
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ModelFolderError, match="expected a JSON object"):
        read_model_config(tmp_path)
    with pytest.raises(ModelFolderError, match=r"no model\.safetensors"):
        read_model_weights(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ModelFolderError, match="damaged weights file"):
        read_model_weights(tmp_path)


def test_callers_choose_the_error_type(tmp_path: Path) -> None:
    with pytest.raises(OtherError, match=r"no config\.json"):
        read_model_config(tmp_path, error=OtherError)
    (tmp_path / "config.json").write_text(json.dumps({"a": 1}))
    with pytest.raises(OtherError, match=r"no model\.safetensors"):
        read_model_weights(tmp_path, error=OtherError)

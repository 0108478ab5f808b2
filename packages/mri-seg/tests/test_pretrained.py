"""Model folders: config.json + model.safetensors, identical outputs after a round trip."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from mri_seg.errors import ModelFileError
from mri_seg.loader import load_segmenter
from mri_seg.networks import Segmenter2D, UNet3D
from mri_seg.targets import TargetSpec


def test_unet_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = UNet3D.from_preset("tiny", target=TargetSpec("labels"), roi_size=(32, 32, 32)).eval()
    with torch.no_grad():  # non-trivial norm/bias values, not just the initial ones
        for parameter in model.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    model.save_pretrained(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    loaded = UNet3D.from_pretrained(tmp_path / "model")
    assert loaded.config == model.config
    assert loaded.roi_size == (32, 32, 32)
    assert loaded.target == TargetSpec("labels")
    images = torch.randn(1, 4, 16, 16, 24)
    with torch.no_grad():
        assert torch.equal(model(images), loaded(images))


def test_segmenter2d_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = Segmenter2D(tumour_types=("gli", "met")).eval()
    model.save_pretrained(tmp_path)
    loaded = load_segmenter(tmp_path)
    assert isinstance(loaded, Segmenter2D)
    assert loaded.tumour_types == ("gli", "met")
    images = torch.randn(2, 4, 16, 16)
    codes = model.codes(["axial", "coronal"], ["met", "gli"])
    with torch.no_grad():
        assert torch.equal(model(images, *codes), loaded(images, *codes))


def test_wrong_class_refused(tmp_path: Path) -> None:
    Segmenter2D().save_pretrained(tmp_path)
    with pytest.raises(ModelFileError, match="holds a 'segmenter2d' model, not a 'unet3d'"):
        UNet3D.from_pretrained(tmp_path)


def test_missing_folder_contents_named(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"no config\.json"):
        load_segmenter(tmp_path)
    UNet3D.from_preset("tiny").save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(ModelFileError, match=r"no model\.safetensors"):
        load_segmenter(tmp_path)


def test_weights_that_do_not_fit_config_refused(tmp_path: Path) -> None:
    UNet3D.from_preset("tiny").save_pretrained(tmp_path)
    document = json.loads((tmp_path / "config.json").read_text())
    document["config"]["channels"] = [8, 16, 32, 128]
    (tmp_path / "config.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="has shape"):
        load_segmenter(tmp_path)
    tensors = load_file(str(tmp_path / "model.safetensors"))
    save_file(dict(list(tensors.items())[1:]), str(tmp_path / "model.safetensors"))
    with pytest.raises(ModelFileError, match="SHA-256 differs"):
        load_segmenter(tmp_path)
    document["config"]["channels"] = [8, 16, 32, 64]
    document["weights_sha256"] = hashlib.sha256(
        (tmp_path / "model.safetensors").read_bytes()
    ).hexdigest()
    (tmp_path / "config.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="missing"):
        load_segmenter(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        (
            '{"kind": "vit", "package": "mri-seg", "config": {}}',
            "mri-seg loads .*segmenter2d, synthtumour, unet3d",
        ),
        ('{"kind": "hfgan", "package": "mri-gen", "config": {}}', "holds a mri-gen 'hfgan'"),
        ('{"kind": "unet3d", "package": "mri-seg", "config": {"channels": "x"}}', "invalid model"),
        ('{"model_type": "unet3d", "format": 1, "channels": "x"}', "invalid model settings"),
        ('{"kind": "unet3d"}', "not a model config"),
    ],
)
def test_bad_config_named(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ModelFileError, match=message) as info:
        load_segmenter(tmp_path)
    assert "config.json" in str(info.value)


def test_run_folder_loads_its_best_model_else_its_last(tmp_path: Path) -> None:
    torch.manual_seed(2)
    last = UNet3D.from_preset("tiny").eval()
    last.save_pretrained(tmp_path / "last")
    for name, value in load_segmenter(tmp_path).state_dict().items():
        assert torch.equal(value, last.state_dict()[name])
    best = UNet3D.from_preset("tiny").eval()
    best.save_pretrained(tmp_path / "best")
    loaded = load_segmenter(tmp_path)
    for name, value in best.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value)


def test_folder_of_the_earlier_format_still_loads(tmp_path: Path) -> None:
    torch.manual_seed(3)
    model = Segmenter2D().eval()
    model.save_pretrained(tmp_path)
    document = json.loads((tmp_path / "config.json").read_text())
    legacy = {"model_type": document["kind"], "format": 1, **document["config"]}
    (tmp_path / "config.json").write_text(json.dumps(legacy))
    loaded = load_segmenter(tmp_path)
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value)


def test_flipped_bit_in_the_weights_is_refused(tmp_path: Path) -> None:
    UNet3D.from_preset("tiny").save_pretrained(tmp_path)
    data = bytearray((tmp_path / "model.safetensors").read_bytes())
    data[-5] ^= 0x10  # inside the last tensor's values: safetensors alone would not notice
    (tmp_path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="SHA-256 differs") as info:
        load_segmenter(tmp_path)
    assert "model.safetensors" in str(info.value)

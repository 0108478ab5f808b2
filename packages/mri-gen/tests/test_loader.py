"""``load_generator``: one entry point that opens any mri-gen model or run folder by its kind."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from mri_gen import HFGANGenerator, Synthesiser, Translator, load_generator
from mri_gen.errors import CheckpointError
from mri_gen.hfgan.config import HFGANConfig
from mri_gen.ummgat.config import PRESETS as UMMGAT_PRESETS
from mri_gen.ummgat.networks import UMMGATModel
from mri_io.intensity import PRESETS as STATS_PRESETS


def _equal_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    other = b.state_dict()
    return all(torch.equal(value, other[name]) for name, value in a.state_dict().items())


def test_hfgan_folder_gives_a_synthesiser_with_its_weights(
    small: HFGANConfig, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    generator = HFGANGenerator(small.generator)
    stats = {name: vars(value) for name, value in STATS_PRESETS["brasyn25"].items()}
    generator.save_pretrained(tmp_path / "run" / "last", {"stats": stats})
    loaded = load_generator(tmp_path / "run")  # a run folder: its last model
    assert isinstance(loaded, Synthesiser)
    assert _equal_weights(loaded.generator, generator)
    assert loaded.stats["t1n"] == STATS_PRESETS["brasyn25"]["t1n"]


def test_ummgat_folder_gives_a_translator_with_its_weights(tmp_path: Path) -> None:
    torch.manual_seed(1)
    config = replace(UMMGAT_PRESETS["tiny"], domains=("a:t1n", "a:t2w"), image_size=32)
    model = UMMGATModel(config)
    model.save_pretrained(tmp_path)
    loaded = load_generator(tmp_path)
    assert isinstance(loaded, Translator)
    assert loaded.domains == ("a:t1n", "a:t2w")
    assert _equal_weights(loaded.model, model)


def test_another_packages_model_is_refused_naming_the_file(tmp_path: Path) -> None:
    document = {"kind": "unet3d", "package": "mri-seg", "version": "0.1.0", "config": {}}
    (tmp_path / "config.json").write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match="holds a mri-seg 'unet3d' model") as info:
        load_generator(tmp_path)
    assert str(tmp_path / "config.json") in str(info.value)

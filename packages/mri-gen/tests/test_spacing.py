"""Generators record the voxel size they were trained at; completion resamples a case of
another voxel size to it, generates there, and returns the results on the case's own grid."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mri_gen import HFGANGenerator, Synthesiser, Translator
from mri_gen.errors import ConfigError
from mri_gen.hfgan import PRESETS as HFGAN_PRESETS
from mri_gen.ummgat import PRESETS as UMMGAT_PRESETS
from mri_gen.ummgat.networks import UMMGATModel
from mri_io.case import Case, load_case
from mri_io.intensity import PRESETS as STATS_PRESETS
from mri_io.layouts import scan_cases
from mri_io.synthetic import FULL_GRID, write_cohort

#: The model's voxel size: the BraTS field of view at 4 mm is 60 x 60 x 39 voxels, which fits
#: the 64 px slices of the models below; at 2 mm (120 x 120 x 78) it does not.
MODEL_SPACING = [4.0, 4.0, 4.0]
DOMAINS = ("research-3t:t1n", "research-3t:t2f")


def _case(folder: Path, coarsening: int) -> Case:
    write_cohort(folder, 1, seed=3, centres=["research-3t"],
                 grid=FULL_GRID.coarsened(coarsening), progress=False)  # fmt: skip
    return load_case(scan_cases(folder)[0])


@pytest.fixture(scope="module")
def fine(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """One case at 2 mm."""
    return _case(tmp_path_factory.mktemp("fine"), 2)


def _without(case: Case, name: str) -> Case:
    images = {k: v for k, v in case.images.items() if k != name}
    return Case(case.case_id, images, case.seg, (*case.missing, name))


def _hfgan(folder: Path, spacing: Any) -> Path:
    torch.manual_seed(0)
    generator = HFGANGenerator(HFGAN_PRESETS["tiny"].with_image_size(64).generator)
    stats = {name: vars(value) for name, value in STATS_PRESETS["brasyn25"].items()}
    generator.save_pretrained(folder, {"stats": stats, "spacing": spacing})
    return folder


def _recording(method: Any, seen: list[tuple[int, ...]]) -> Any:
    def wrapped(case: Case, *args: Any, **kwargs: Any) -> Any:
        seen.append(next(iter(case.images.values())).shape)
        return method(case, *args, **kwargs)

    return wrapped


def test_hfgan_generates_at_its_voxel_size_and_answers_on_the_case_grid(
    fine: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = Synthesiser.from_pretrained(_hfgan(tmp_path / "model", MODEL_SPACING))
    assert model.spacing == (4.0, 4.0, 4.0)
    seen: list[tuple[int, ...]] = []
    monkeypatch.setattr(model, "synthesise", _recording(model.synthesise, seen))
    case = _without(fine, "t2f")
    out = model.complete(case)
    assert seen == [(60, 60, 39)]
    reference = next(iter(case.images.values()))
    assert out["t2f"].shape == reference.shape == (120, 120, 78)
    assert out["t2f"].dtype == np.float32
    assert np.isfinite(out["t2f"]).all()
    assert out["t2f"].std() > 0
    # Without the recorded voxel size the 2 mm slices do not fit the model's 64 px input.
    model.spacing = None
    with pytest.raises(ConfigError, match="do not fit"):
        model.complete(case)


def test_a_malformed_recorded_spacing_is_refused_naming_the_file(tmp_path: Path) -> None:
    folder = _hfgan(tmp_path / "model", [4.0, -1.0, 4.0])
    with pytest.raises(ConfigError, match="spacing") as caught:
        Synthesiser.from_pretrained(folder)
    assert "config.json" in str(caught.value)


def test_ummgat_translates_at_its_voxel_size_and_answers_on_the_case_grid(
    fine: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    config = replace(UMMGAT_PRESETS["tiny"], domains=DOMAINS, image_size=64)
    UMMGATModel(config).save_pretrained(tmp_path / "model", {"spacing": MODEL_SPACING})
    model = Translator.from_pretrained(tmp_path / "model")
    assert model.spacing == (4.0, 4.0, 4.0)
    seen: list[tuple[int, ...]] = []
    monkeypatch.setattr(model, "translate_volume", _recording_volume(model.translate_volume, seen))
    case = _without(fine, "t2f")
    out = model.complete(case, ["t2f"], centre="research-3t")
    assert seen
    assert set(seen) == {(60, 60, 39)}
    assert out["t2f"].shape == (120, 120, 78)
    assert np.isfinite(out["t2f"]).all()
    saved = json.loads((tmp_path / "model" / "config.json").read_text())
    assert saved["config"]["spacing"] == MODEL_SPACING


def _recording_volume(method: Any, seen: list[tuple[int, ...]]) -> Any:
    def wrapped(volume: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(tuple(volume.shape))
        return method(volume, *args, **kwargs)

    return wrapped

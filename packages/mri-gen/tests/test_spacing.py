"""Generators record the grid they were trained on (voxel size, orientation) and their input
preprocessing; completion brings a case on another grid to it, generates there, and returns
the results on the case's own grid."""

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
from mri_io.nifti import Volume
from mri_io.orientation import reorient
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


TRAINED = ["L", "P", "S"]  # the synthetic cohort's axis codes
TURNED = ("I", "R", "P")  # the same anatomy with the array's axes permuted and flipped


def _turned(case: Case) -> Case:
    images = {name: reorient(volume, TURNED)[0] for name, volume in case.images.items()}
    return Case(case.case_id, images, None, case.missing, case.label_convention)


def _as_turned(array: np.ndarray, case: Case) -> np.ndarray:
    """An output on ``case``'s grid as it lies on the grid of ``_turned(case)``."""
    reference = next(iter(case.images.values()))
    return reorient(Volume(array, reference.affine, reference.header), TURNED)[0].data


@pytest.fixture(scope="module")
def coarse(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """One case at the models' 4 mm voxel size, without T2-FLAIR."""
    return _without(_case(tmp_path_factory.mktemp("coarse"), 4), "t2f")


def test_hfgan_completes_a_case_in_another_orientation_in_its_training_orientation(
    coarse: Case, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    generator = HFGANGenerator(HFGAN_PRESETS["tiny"].with_image_size(64).generator)
    stats = {name: vars(value) for name, value in STATS_PRESETS["brasyn25"].items()}
    grid = {"spacing": MODEL_SPACING, "orientation": TRAINED}
    generator.save_pretrained(tmp_path / "model", {"stats": stats, **grid})
    model = Synthesiser.from_pretrained(tmp_path / "model")
    assert model.orientation == tuple(TRAINED)
    expected = _as_turned(model.complete(coarse)["t2f"], coarse)
    np.testing.assert_array_equal(model.complete(_turned(coarse))["t2f"], expected)
    # Without the recorded orientation the generator slices the turned arrays as they are.
    model.orientation = None
    assert not np.allclose(model.complete(_turned(coarse))["t2f"], expected, atol=1e-3)


def test_ummgat_completes_a_case_in_another_orientation_in_its_training_orientation(
    coarse: Case, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    config = replace(UMMGAT_PRESETS["tiny"], domains=DOMAINS, image_size=64)
    grid = {"spacing": MODEL_SPACING, "orientation": TRAINED}
    UMMGATModel(config).save_pretrained(tmp_path / "model", grid)
    model = Translator.from_pretrained(tmp_path / "model")
    assert model.orientation == tuple(TRAINED)
    out = model.complete(coarse, ["t2f"], centre="research-3t")["t2f"]
    expected = _as_turned(out, coarse)
    answer = model.complete(_turned(coarse), ["t2f"], centre="research-3t")["t2f"]
    np.testing.assert_array_equal(answer, expected)
    model.orientation = None
    answer = model.complete(_turned(coarse), ["t2f"], centre="research-3t")["t2f"]
    assert not np.allclose(answer, expected, atol=1e-3)


@pytest.mark.parametrize(("key", "value"), [("normalisation", "minmax-1-1"), ("crop", "whole")])
def test_a_model_prepared_otherwise_is_refused_naming_the_file(
    key: str, value: str, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    generator = HFGANGenerator(HFGAN_PRESETS["tiny"].with_image_size(64).generator)
    stats = {name: vars(v) for name, v in STATS_PRESETS["brasyn25"].items()}
    generator.save_pretrained(tmp_path / "hfgan", {"stats": stats, key: value})
    with pytest.raises(ConfigError, match=value) as caught:
        Synthesiser.from_pretrained(tmp_path / "hfgan")
    assert "config.json" in str(caught.value)
    config = replace(UMMGAT_PRESETS["tiny"], domains=DOMAINS, image_size=64)
    UMMGATModel(config).save_pretrained(tmp_path / "ummgat", {key: value})
    with pytest.raises(ConfigError, match=value):
        Translator.from_pretrained(tmp_path / "ummgat")

"""Folders and command lines from before label maps were called conventions keep working.

Earlier versions wrote ``label_profile`` into a model's ``config.json`` and a run's ``run.json``
and named the predict option ``--label-profile``; each must still load, resume and parse.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mri_io import load_case, load_labels, scan_cases
from mri_io.labels import convert_labels
from mri_seg import load_segmenter
from mri_seg.cli import main
from mri_seg.networks import UNet3D
from mri_seg.targets import TargetSpec
from mri_seg.unet.config import TrainConfig


def _as_written_before(document: object) -> object:
    """``document`` with every ``label_convention`` key named ``label_profile`` again."""
    if isinstance(document, dict):
        return {
            ("label_profile" if key == "label_convention" else key): _as_written_before(value)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [_as_written_before(value) for value in document]
    return document


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny U-Net writing BraTS 2021 labels, saved as now and as an earlier version did."""
    torch.manual_seed(0)
    model = UNet3D.from_preset("tiny", target=TargetSpec("labels", "brats2021"))
    now = tmp_path_factory.mktemp("now")
    model.save_pretrained(now)
    before = tmp_path_factory.mktemp("before")
    model.save_pretrained(before)
    config = json.loads((before / "config.json").read_text())
    old = _as_written_before(config)
    assert "label_profile" in json.dumps(old)
    assert "label_convention" not in json.dumps(old)
    (before / "config.json").write_text(json.dumps(old))
    return now, before


def test_a_model_folder_written_with_label_profile_loads_and_segments_the_same(
    folders: tuple[Path, Path], case_dir: Path
) -> None:
    now, before = (load_segmenter(folder) for folder in folders)
    assert before.label_convention == now.label_convention == "brats2021"
    case = load_case(next(iter(scan_cases(case_dir.parent))), require=now.sequences)
    np.testing.assert_array_equal(before.segment(case).data, now.segment(case).data)


def test_a_run_config_written_with_label_profile_reads_as_now() -> None:
    config = TrainConfig(label_convention="brats2021")
    written = config.to_json()
    old = _as_written_before(written)
    assert isinstance(old, dict)
    assert old["label_profile"] == "brats2021"
    assert TrainConfig.from_json(old) == config
    target = TargetSpec("labels", "brats2021")
    old_target = _as_written_before(target.to_json())
    assert isinstance(old_target, dict)
    assert TargetSpec.from_json(old_target) == target


@pytest.mark.parametrize("option", ["--label-convention", "--label-profile"])
def test_predict_takes_the_option_under_both_names(
    folders: tuple[Path, Path], cohort: Path, tmp_path: Path, option: str
) -> None:
    arguments = ["predict", "--model", str(folders[0]), "--cohort", str(cohort)]
    assert main([*arguments, "--out", str(tmp_path / "own")]) == 0
    assert main([*arguments, "--out", str(tmp_path / "out"), option, "brats2023"]) == 0
    own = sorted((tmp_path / "own").iterdir())
    assert own
    assert [p.name for p in own] == sorted(p.name for p in (tmp_path / "out").iterdir())
    for path in own:
        model_labels = load_labels(path).data
        assert 4 in model_labels  # the untrained model writes ET somewhere: the option matters
        expected = convert_labels(model_labels, "brats2021", "brats2023")
        np.testing.assert_array_equal(load_labels(tmp_path / "out" / path.name).data, expected)

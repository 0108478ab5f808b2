"""The ``mri-seg`` command line: train, predict, one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from mri_io.nifti import load_labels
from mri_seg.cli import main
from mri_seg.networks import UNet3D


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model")
    UNet3D.from_preset("tiny").save_pretrained(folder)
    return folder


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_train_then_predict_cohort(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    arguments = ["train", "unet", "--data", str(cohort), "--preset", "tiny", "--out", str(run)]
    options = [
        "--epochs",
        "1",
        "--steps-per-epoch",
        "1",
        "--batch-size",
        "1",
        "--crop",
        "16",
        "16",
        "16",
    ]
    assert main([*arguments, *options, "--device", "cpu"]) == 0
    assert "best epoch 1 (WT " in capsys.readouterr().out
    out = tmp_path / "pred"
    code = main(
        [
            "predict",
            "--model",
            str(run),
            "--cohort",
            str(cohort),
            "--out",
            str(out),
            "--remove-small",
            "--label-convention",
            "brats2021",
            "--overlap",
            "0.25",
        ]
    )
    assert code == 0
    written = sorted(path.name for path in out.iterdir())
    assert written == [f"BraTS-GLI-0000{i}-000-seg.nii.gz" for i in range(4)]
    assert set(load_labels(out / written[0]).data.ravel()) <= {0, 1, 2, 4}


def test_predict_missing_sequence_is_one_line(
    model_dir: Path, case_without_flair: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "predict",
            "--model",
            str(model_dir),
            "--case",
            str(case_without_flair),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    line = _error_line(capsys)
    assert line.startswith("mri-seg: error: ")
    assert str(case_without_flair) in line
    assert "no t2f image" in line


def test_predict_bad_model_folder_is_one_line(
    case_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["predict", "--model", str(tmp_path), "--case", str(case_dir), "--out", str(tmp_path)]
    )
    assert code == 2
    assert "no config.json: not a saved model or run folder" in _error_line(capsys)


def test_train_on_folder_without_cases_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data").mkdir()
    code = main(["train", "unet", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run")])
    assert code == 2
    assert "no case files found" in _error_line(capsys)


def test_train_bad_option_is_one_line(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "unet", "--data", str(cohort), "--out", str(tmp_path), "--epochs", "0"])
    assert code == 2
    assert "epochs must be >= 1" in _error_line(capsys)


@pytest.mark.parametrize("command", [["train", "unet"], ["train", "segmenter2d"], ["predict"]])
def test_help_of_every_command(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: mri-seg {' '.join(command)}" in out
    assert "--data" in out or "--model" in out


def _train_with_tensorboard(cohort: Path, run: Path) -> int:
    return main(
        [
            "train",
            "unet",
            "--data",
            str(cohort),
            "--out",
            str(run),
            "--epochs",
            "1",
            "--steps-per-epoch",
            "1",
            "--crop",
            "16",
            "16",
            "16",
            "--device",
            "cpu",
            "--tensorboard",
        ]
    )


def test_tensorboard_without_package_names_the_extra(
    cohort: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # tensorboard absent
    assert _train_with_tensorboard(cohort, tmp_path / "run") == 2
    assert 'pip install "mri-seg[tensorboard]"' in _error_line(capsys)


def test_tensorboard_logs_the_run_when_installed(cohort: Path, tmp_path: Path) -> None:
    """The tensorboard extra is declared, so it is imported directly: missing, this fails."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    assert _train_with_tensorboard(cohort, run) == 0
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    assert events.Tags()["scalars"]

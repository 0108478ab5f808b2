"""mri-seg's writers killed while they write: a training run leaves its previous model whole and
resumes, and a threshold report is the previous one or the new one, never half of one."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from mri_io.layouts import scan_cases
from mri_io.synthetic.cohort import write_cohort
from mri_io.testing import kill_at_call, kill_at_rename, kill_in_model_save, run_killed, visible
from mri_seg import load_segmenter
from mri_seg.cli import main
from mri_seg.ganet.networks import InpaintingGAN, load_gan

from .conftest import SMALL_GRID


def epochs_logged(run: Path) -> list[str]:
    with (run / "log.csv").open() as handle:
        return [row["epoch"] for row in csv.DictReader(handle)]


#: Each family's options for two epochs of one step on the small cohort.
FAMILIES = {
    "unet": ["--preset", "tiny", "--batch-size", "1", "--crop", "16", "16", "16"],
    "segmenter2d": ["--views", "axial", "--batch-size", "2"],
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_training_killed_while_saving_last_keeps_a_whole_model_and_resumes(
    cohort: Path, tmp_path: Path, family: str
) -> None:
    run = tmp_path / "run"
    arguments = ["train", family, "--data", str(cohort), "--out", str(run), *FAMILIES[family]]
    arguments += ["--epochs", "2", "--steps-per-epoch", "1", "--device", "cpu"]
    command = f"from mri_seg.cli import main\nmain({arguments!r})"
    run_killed(kill_in_model_save(2, folder="last"), command)  # the second epoch's last/
    # last/ is the first epoch's model, whole: load_segmenter checks its weights' hash.
    assert visible(run / "last") == ["config.json", "model.safetensors"]
    load_segmenter(run / "last")
    assert main([*arguments, "--resume"]) == 0
    assert epochs_logged(run) == ["1", "2"]
    load_segmenter(run / "last")
    load_segmenter(run)


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three tumour-free cases on the cohort's grid."""
    folder = tmp_path_factory.mktemp("healthy")
    write_cohort(
        folder, 3, seed=12, centres=["research-3t"], tumour="none", grid=SMALL_GRID, progress=False
    )
    return folder


def test_synthtumour_killed_while_drawing_its_validation_cases_resumes_with_whole_ones(
    cohort: Path, healthy: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    arguments = ["train", "synthtumour", "--healthy", str(healthy), "--unlabelled", str(cohort)]
    arguments += ["--out", str(run), "--preset", "tiny", "--epochs", "1", "1"]
    arguments += ["--steps-per-epoch", "1", "--batch-size", "1", "--device", "cpu"]
    # Five files per validation case: the seventh is the second case's second.
    run_killed(
        kill_at_call("mri_seg.synthtumour.data.save_volume", 7),
        f"""
        from mri_seg.cli import main
        main({arguments!r})
        """,
    )
    drawn = scan_cases(run / "validation")
    assert [case.case_id for case in drawn] == ["BraTS-SYN-00000-000"]
    assert all(case.missing == () and case.seg is not None for case in drawn)
    assert main([*arguments, "--resume"]) == 0
    drawn = scan_cases(run / "validation")
    assert [case.case_id for case in drawn] == ["BraTS-SYN-00000-000", "BraTS-SYN-00001-000"]
    assert all(case.missing == () and case.seg is not None for case in drawn)
    load_segmenter(run / "senior")


def test_ganet_killed_while_pretraining_saves_its_gan_keeps_the_last_one_and_resumes(
    cohort: Path, healthy: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    arguments = ["train", "ganet", "--healthy", str(healthy), "--data", str(cohort)]
    arguments += ["--gan-epochs", "2", "--gan-steps-per-epoch", "1", "--gan-batch-size", "2"]
    arguments += ["--epochs", "1", "--phase1-epochs", "1", "--steps-per-epoch", "1"]
    arguments += ["--batch-size", "2", "--device", "cpu", "--out", str(run)]
    command = f"from mri_seg.cli import main\nmain({arguments!r})"
    run_killed(kill_in_model_save(2, folder="last"), command)  # the GAN of epoch 2
    pretrain = run / "pretrain"
    assert visible(pretrain / "last") == ["config.json", "model.safetensors"]
    load_gan(pretrain / "last")  # whole: its weights' hash is checked
    assert main([*arguments, "--resume"]) == 0
    # Epoch 2's row, logged before its checkpoint, is dropped and logged again: once.
    assert epochs_logged(pretrain) == ["1", "2"]
    assert epochs_logged(run) == ["1"]
    load_gan(pretrain / "last")
    load_segmenter(run)


@pytest.mark.parametrize("commit", [1, 2])
def test_ganet_thresholds_killed_while_writing_keeps_the_previous_report(
    cohort: Path, tmp_path: Path, commit: int
) -> None:
    torch.manual_seed(0)
    InpaintingGAN().save_pretrained(tmp_path / "gan")
    report = tmp_path / "report" / "thresholds.json"
    report.parent.mkdir()
    report.write_text('{"previous": true}\n')
    report.with_suffix(".csv").write_text("previous\n")
    arguments = ["ganet-thresholds", "--gan", str(tmp_path / "gan"), "--data", str(cohort)]
    arguments += ["--out", str(report), "--device", "cpu"]
    run_killed(kill_at_rename(commit), f"from mri_seg.cli import main\nmain({arguments!r})")
    # The JSON is the report of record: while it is the previous one, so may the CSV be; once
    # it is new, the CSV beside it is new too.
    assert report.read_text() == '{"previous": true}\n'
    assert visible(report.parent) == ["thresholds.csv", "thresholds.json"]
    assert main(arguments) == 0
    rows = json.loads(report.read_text())["rows"]
    with report.with_suffix(".csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert [float(row["threshold"]) for row in table] == [row["threshold"] for row in rows]
    assert visible(report.parent) == ["thresholds.csv", "thresholds.json"]


def test_ganet_thresholds_refuses_to_overwrite_an_input_label_map(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seg = cohort / "BraTS-GLI-00000-000" / "BraTS-GLI-00000-000-seg.nii.gz"
    before = seg.read_bytes()
    # The GAN folder does not exist: the output check comes first, before loading anything.
    arguments = ["ganet-thresholds", "--gan", str(tmp_path / "gan"), "--data", str(cohort)]
    assert main([*arguments, "--out", str(seg)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"mri-seg: error: {seg}: is an input file of case ")
    assert seg.read_bytes() == before
    assert visible(seg.parent) == sorted(p.name for p in seg.parent.iterdir())

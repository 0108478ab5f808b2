"""SynthTumour's two-stage training: run folder, pseudo labels without label leakage, resume,
model folders, the command line, and learning in a fixed number of steps."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mri_io.layouts import link_cases, scan_cases
from mri_io.nifti import load_labels, load_volume, new_volume, save_volume
from mri_io.synthetic import FULL_GRID
from mri_io.synthetic.cohort import write_cohort
from mri_seg import load_segmenter
from mri_seg.cli import main
from mri_seg.synthtumour import SynthTumourUNet, preset_config, train_synthtumour, training
from mri_seg.synthtumour.training import warm_start

SMALL_GRID = FULL_GRID.coarsened(4)
TINY = preset_config("tiny", device="cpu")


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five healthy brains of the 4 mm grid: four train, one holds the validation tumours."""
    folder = tmp_path_factory.mktemp("healthy")
    write_cohort(
        folder, 5, seed=21, centres=["research-3t"], tumour="none", grid=SMALL_GRID, progress=False
    )
    return folder


@pytest.fixture(scope="module")
def unlabelled(cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared glioblastoma cohort with its segmentation files withheld."""
    return link_cases(
        scan_cases(cohort), tmp_path_factory.mktemp("unlabelled") / "cases", labels=False
    )


@pytest.fixture(scope="module")
def reference_run(
    healthy: Path, unlabelled: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """An uninterrupted tiny run."""
    out = tmp_path_factory.mktemp("runs") / "reference"
    train_synthtumour(healthy, unlabelled, out, TINY, progress=False)
    return out


def _same_weights(first: Path, second: Path) -> bool:
    """Tensors equal (the files' metadata order may differ)."""
    a, b = (load_file(folder / "model.safetensors") for folder in (first, second))
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def test_run_folder_holds_both_stages(reference_run: Path, unlabelled: Path) -> None:
    for name in ("run.json", "split.json", "validation", "junior", "pseudo", "senior"):
        assert (reference_run / name).exists(), name
    assert len(scan_cases(reference_run / "validation")) == TINY.val_cases
    for files in scan_cases(unlabelled):
        pseudo = load_labels(reference_run / "pseudo" / f"{files.case_id}-seg.nii.gz")
        assert pseudo.shape == (60, 60, 39)
    for stage in ("junior", "senior"):
        log = (reference_run / stage / "log.csv").read_text().splitlines()
        assert len(log) == 1 + TINY.junior_epochs
        model = load_segmenter(reference_run / stage)
        assert isinstance(model, SynthTumourUNet)
        assert model.stage == stage
        assert (model.spacing, model.orientation) == ((4.0, 4.0, 4.0), ("L", "P", "S"))


def test_unlabelled_labels_never_leak(
    reference_run: Path, healthy: Path, unlabelled: Path, tmp_path: Path
) -> None:
    """Garbled segmentation files beside the unlabelled images change nothing."""
    garbled = tmp_path / "garbled"
    shutil.copytree(unlabelled, garbled)
    rng = np.random.default_rng(0)
    for files in scan_cases(garbled):
        reference = load_volume(next(iter(files.sequences.values())))
        labels = rng.choice(np.array([0, 1, 2, 3], dtype=np.uint8), size=reference.shape)
        save_volume(
            new_volume(labels, reference.affine),
            files.folder / f"{files.case_id}-seg.nii.gz",
            dtype=np.uint8,
        )
    assert all(files.seg is not None for files in scan_cases(garbled))
    out = tmp_path / "run"
    train_synthtumour(healthy, garbled, out, TINY, progress=False)
    for pseudo in sorted((reference_run / "pseudo").iterdir()):
        assert (out / "pseudo" / pseudo.name).read_bytes() == pseudo.read_bytes()
    assert _same_weights(out / "senior" / "last", reference_run / "senior" / "last")


def test_resumed_run_equals_uninterrupted(
    reference_run: Path, healthy: Path, unlabelled: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    stopped = train_synthtumour(
        healthy, unlabelled, out, replace(TINY, max_minutes=0.0), progress=False
    )
    assert stopped.run_dir == out / "junior"
    assert stopped.epochs_done == 1
    assert not (out / "senior").exists()
    result = train_synthtumour(healthy, unlabelled, out, TINY, resume=True, progress=False)
    assert result.run_dir == out / "senior"
    assert result.epochs_done == TINY.senior_epochs
    for stage in ("junior", "senior"):
        assert _same_weights(out / stage / "last", reference_run / stage / "last")


def test_warm_start_copies_the_juniors_selected_weights(reference_run: Path) -> None:
    fresh = SynthTumourUNet.for_stage("senior", "tiny")
    junior = load_segmenter(reference_run / "junior").state_dict()
    assert not all(torch.equal(fresh.state_dict()[k], junior[k]) for k in junior)
    warm_start(fresh, reference_run / "junior")
    assert all(torch.equal(fresh.state_dict()[k], junior[k]) for k in junior)
    assert fresh.stage == "senior"


def test_a_warm_senior_starts_from_the_junior_once(
    reference_run: Path,
    healthy: Path,
    unlabelled: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(
        training,
        "warm_start",
        lambda model, junior: (calls.append(junior), warm_start(model, junior)),
    )
    out = tmp_path / "warm"
    warm = replace(TINY, senior_init="junior")
    train_synthtumour(healthy, unlabelled, out, warm, progress=False)
    assert calls == [out / "junior"]
    assert json.loads((out / "run.json").read_text())["senior_init"] == "junior"
    # The junior is the reference run's; the senior, started elsewhere, ends elsewhere.
    assert _same_weights(out / "junior" / "last", reference_run / "junior" / "last")
    assert not _same_weights(out / "senior" / "last", reference_run / "senior" / "last")
    # Resuming the finished run continues from its own checkpoint: no second warm start.
    train_synthtumour(healthy, unlabelled, out, warm, resume=True, progress=False)
    assert calls == [out / "junior"]


def test_model_folder_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = SynthTumourUNet.for_stage("senior", "tiny", spacing=(4.0, 4.0, 4.0)).eval()
    model.save_pretrained(tmp_path / "model")
    loaded = load_segmenter(tmp_path / "model")
    assert isinstance(loaded, SynthTumourUNet)
    assert loaded.stage == "senior"
    assert loaded.config == model.config
    images = torch.randn(1, 4, 16, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), model(images))


def test_stage_is_checked() -> None:
    with pytest.raises(ValueError, match="stage"):
        SynthTumourUNet.for_stage("middle", "tiny")  # type: ignore[arg-type]


def test_command_line_trains_then_predicts(
    healthy: Path, unlabelled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    code = main(["train", "synthtumour", "--healthy", str(healthy), "--unlabelled",
                 str(unlabelled), "--out", str(run), "--preset", "tiny", "--epochs", "1", "1",
                 "--steps-per-epoch", "2", "--batch-size", "1", "--lr", "0.002",
                 "--device", "cpu"])  # fmt: skip
    assert code == 0
    settings = json.loads((run / "run.json").read_text())
    assert (settings["junior_epochs"], settings["steps_per_epoch"]) == (1, 2)
    assert (settings["batch_size"], settings["learning_rate"]) == (1, 0.002)
    assert "saved to" in capsys.readouterr().out
    out = tmp_path / "pred"
    for stage in ("junior", "senior"):
        code = main(["predict", "--model", str(run / stage), "--cohort", str(unlabelled),
                     "--out", str(out / stage), "--device", "cpu"])  # fmt: skip
        assert code == 0
        for files in scan_cases(unlabelled):
            predicted = load_labels(out / stage / f"{files.case_id}-seg.nii.gz")
            assert predicted.shape == (60, 60, 39)
            assert set(np.unique(predicted.data)) <= {0, 1, 2, 3}


def test_command_line_refuses_too_few_healthy_brains(
    healthy: Path, unlabelled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = tmp_path / "one"
    case = scan_cases(healthy)[0]
    shutil.copytree(case.folder, one / case.case_id)
    code = main(["train", "synthtumour", "--healthy", str(one), "--unlabelled", str(unlabelled),
                 "--out", str(tmp_path / "run"), "--preset", "tiny"])  # fmt: skip
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "needs at least 2" in lines[0]


def test_junior_learns_synthetic_tumours_in_fixed_steps(
    healthy: Path, unlabelled: Path, tmp_path: Path
) -> None:
    """80 steps of batch 4 (seed 0, one thread) give the junior model a whole-tumour Dice on
    the distribution-shifted validation cases far above what no learning gives.

    Floor 0.2: the untrained network scores about 0.01 there, and labelling the whole brain
    as tumour scores at most 2 * 80000 / (80000 + 1.04e6) = 0.14 (the largest tumour in a
    4 mm brain of 1.04e6 mm^3), so 0.2 is out of reach of any trivial answer. The recipe
    reached 0.234 when the floor was set: 80 steps are early in learning (about 40 s on one
    idle thread), so the margin is small and the test says only that learning happens.
    """
    config = replace(
        TINY, junior_epochs=4, senior_epochs=1, steps_per_epoch=20, batch_size=4,
        learning_rate=3e-3,
    )  # fmt: skip
    train_synthtumour(healthy, unlabelled, tmp_path / "run", config, progress=False)
    rows = (tmp_path / "run" / "junior" / "log.csv").read_text().splitlines()
    header, last = rows[0].split(","), rows[-1].split(",")
    whole = float(last[header.index("val_dice_WT")])
    assert whole >= 0.2, whole

"""Every model family of the suite trains and infers on a CUDA device, through its real command.

Why this file exists: no CI machine has a GPU, so the package tests only ever run the CPU paths,
and device mix-ups pass them unseen (a training step of HF-GAN crashed on CUDA when a tensor
drawn from a CPU random generator met a CUDA mask). Here each family is trained for a couple of
steps with ``--device cuda`` through ``mri-gen train`` or ``mri-seg train``, then its inference
command (``mri-gen complete``/``translate``, ``mri-seg predict``) runs on CUDA too, and the
tests check what was written: the run folder, and predictions or syntheses of the input's shape
and labels with finite values. Tiny presets, one or two steps and 4 mm synthetic cases keep the
whole file to a minute or two on a GPU.

Run with ``nox -s gpu`` (tests marked ``gpu``); without a CUDA device every test is skipped.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from mri_gen.cli import main as mri_gen
from mri_io.layouts import link_cases, scan_cases
from mri_io.nifti import load_labels, load_volume
from mri_io.synthetic import FULL_GRID
from mri_io.synthetic.cohort import write_cohort
from mri_seg.cli import main as mri_seg

pytestmark = pytest.mark.gpu

#: The device every command trains and infers on.
DEVICE = "cuda"
#: 4 mm voxels (60 x 60 x 39): a brain and a tumour, small enough for a few seconds a family.
SMALL_GRID = FULL_GRID.coarsened(4)
SHAPE = (60, 60, 39)
SEQUENCES = ("t1c", "t1n", "t2f", "t2w")
#: UMMGAT's two acquisition centres: all four sequences, and T1/T2 only.
CENTRES = ("research-3t", "local-t1-t2")


@pytest.fixture(scope="module", autouse=True)
def _on_cuda() -> Iterator[None]:
    """Skip without a CUDA device (before any cohort is written); let a failing command
    raise its traceback instead of the CLI's one-line error, which would hide the device
    mix-up this file is here to catch."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MRI_SUITE_DEBUG", "1")
        yield


@pytest.fixture(autouse=True)
def _count_device_memory() -> None:
    """Each test starts with the device's peak memory at zero (see :func:`_used_the_device`)."""
    if DEVICE.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(DEVICE)


def _used_the_device() -> bool:
    """Whether the commands of this test put tensors on the GPU (always true on the CPU)."""
    return not DEVICE.startswith("cuda") or torch.cuda.max_memory_allocated(DEVICE) > 0


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four labelled glioblastoma cases with all four sequences (mri-seg's test cohort)."""
    folder = tmp_path_factory.mktemp("cohort")
    write_cohort(
        folder, 4, seed=11, centres=["research-3t"], tumour="gbm", grid=SMALL_GRID, progress=False
    )
    return folder


@pytest.fixture(scope="module")
def centres_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight cases of two centres: enough patients for every one of UMMGAT's six domains."""
    folder = tmp_path_factory.mktemp("centres")
    write_cohort(folder, 8, seed=3, centres=CENTRES, grid=SMALL_GRID, progress=False)
    return folder


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three tumour-free brains: GANet-Seg's GAN and SynthTumour's junior stage train on them."""
    folder = tmp_path_factory.mktemp("healthy")
    write_cohort(
        folder, 3, seed=12, centres=["research-3t"], tumour="none", grid=SMALL_GRID, progress=False
    )
    return folder


@pytest.fixture(scope="module")
def unlabelled(cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cohort without its segmentation files (SynthTumour's senior stage)."""
    return link_cases(
        scan_cases(cohort), tmp_path_factory.mktemp("unlabelled") / "cases", labels=False
    )


def _log_rows(run: Path) -> list[dict[str, str]]:
    with (run / "log.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _finite_numbers(row: dict[str, str]) -> list[float]:
    """The row's numeric cells (empty ones skipped), each checked finite."""
    values = [float(text) for text in row.values() if text not in ("", None)]
    assert all(math.isfinite(value) for value in values), row
    return values


def _model_files(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()}


def _incomplete_copy(cohort: Path, out: Path, drops: dict[int, tuple[str, ...]]) -> Path:
    """Copies of the cohort's cases ``drops`` names (by index), without those sequences."""
    cases = scan_cases(cohort)
    for index, names in drops.items():
        source = cases[index]
        shutil.copytree(source.folder, out / source.case_id)
        for name in names:
            (out / source.case_id / source.sequences[name].name).unlink()
    return out


def _check_volume(path: Path, reference: Path) -> None:
    """A written volume: on the reference's grid and affine, every value finite."""
    volume = load_volume(path)
    source = load_volume(reference)
    assert volume.data.shape == source.data.shape == SHAPE, path
    np.testing.assert_allclose(volume.affine, source.affine, atol=1e-4)
    assert np.isfinite(volume.data).all(), path


# --- mri-gen ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "bf16"),
    [("others", False), ("subsets", False), ("subsets", True)],
    ids=["others", "subsets", "subsets-bf16"],
)
def test_hfgan_trains_then_completes_on_the_device(
    inputs: str, bf16: bool, cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--inputs subsets`` is the path that crashed: the cycle and feature terms pick the
    hidden input with a CPU generator and index the batch on the device."""
    run = tmp_path / "run"
    args = ["train", "hfgan", "--data", str(cohort), "--out", str(run), "--preset", "tiny"]
    args += ["--steps", "2", "--batch-size", "2", "--views", "axial,coronal", "--view-embedding"]
    args += ["--ema", "0.9", "--losses", "adv=0.5", "--stats", "brasyn25", "--inputs", inputs]
    args += ["--checkpoint-every", "1", "--device", DEVICE, *(["--bf16"] if bf16 else [])]
    assert mri_gen(args) == 0
    assert "trained 2 steps" in capsys.readouterr().out
    assert _model_files(run) == {"run.json", "log.csv", "state.pt", "last", "stats.json"}
    assert _model_files(run / "last") == {"config.json", "model.safetensors"}
    train = json.loads((run / "run.json").read_text())["train"]
    assert (train["inputs"], train["bf16"]) == (inputs, bf16)
    rows = _log_rows(run)
    assert [row["step"] for row in rows] == ["1", "2"]
    for row in rows:
        _finite_numbers(row)
        assert float(row["l1"]) > 0
        assert float(row["cycle"]) > 0
    # BraSyn's case (one sequence missing); the subsets model also fills two at once.
    drops: dict[int, tuple[str, ...]] = {0: ("t2f",), 1: ("t1c",)}
    if inputs == "subsets":
        drops[2] = ("t1n", "t2w")
    incomplete = _incomplete_copy(cohort, tmp_path / "in", drops)
    out = tmp_path / "out"
    args = ["complete", "--model", str(run), "--cohort", str(incomplete), "--out", str(out)]
    args += ["--views", "axial,coronal", "--bf16", "--batch-size", "8", "--device", DEVICE]
    assert mri_gen(args) == 0
    generated = sum(len(names) for names in drops.values())
    assert f"wrote {generated} volumes" in capsys.readouterr().out
    originals = {files.case_id: files for files in scan_cases(cohort)}
    completed = scan_cases(out)
    assert len(completed) == len(drops)
    for files in completed:
        assert files.missing == ()
        assert sorted(files.sequences) == sorted(SEQUENCES)
        for name, path in files.sequences.items():
            _check_volume(path, originals[files.case_id].sequences[name])
    assert _used_the_device()


def test_ummgat_trains_then_completes_and_harmonises_on_the_device(
    centres_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The paper's recipe (R1 penalty, a double backward, on every step), then both of
    UMMGAT's inference commands: ``complete`` (the generator contract) and ``translate``."""
    run = tmp_path / "run"
    args = ["train", "ummgat", "--data", str(centres_cohort), "--out", str(run)]
    args += ["--steps", "2", "--batch-size", "2", "--image-size", "32"]
    args += ["--checkpoint-every", "1", "--device", DEVICE]
    assert mri_gen(args) == 0
    capsys.readouterr()
    assert {"run.json", "log.csv", "state.pt", "last", "assignment.json"} <= _model_files(run)
    assert _model_files(run / "last") == {"config.json", "model.safetensors"}
    rows = _log_rows(run)
    assert [row["step"] for row in rows] == ["1", "2"]
    for row in rows:
        _finite_numbers(row)
        assert float(row["g_total_latent"]) > 0
        assert float(row["d_r1_latent"]) > 0
    saved = json.loads((run / "last" / "config.json").read_text())["config"]["config"]
    assert len(saved["domains"]) == 6  # research-3t: four sequences; local-t1-t2: t1n and t2w
    assert set(json.loads((run / "assignment.json").read_text()).values()) == set(saved["domains"])

    originals = {files.case_id: files for files in scan_cases(centres_cohort)}
    out = tmp_path / "completed"
    args = ["complete", "--model", str(run), "--cohort", str(centres_cohort), "--out", str(out)]
    args += ["--to-centre", "research-3t", "--batch-size", "16", "--device", DEVICE]
    assert mri_gen(args) == 0
    completed = scan_cases(out)
    assert len(completed) == len(originals)
    for files in completed:
        assert files.missing == ()
        assert sorted(files.sequences) == sorted(SEQUENCES)
        reference = next(iter(originals[files.case_id].sequences.values()))
        for path in files.sequences.values():
            _check_volume(path, reference)

    out = tmp_path / "harmonised"
    args = ["translate", "--model", str(run), "--cohort", str(centres_cohort), "--out", str(out)]
    args += ["--harmonise", "research-3t", "--device", DEVICE]
    assert mri_gen(args) == 0
    written = sum(len(files.sequences) for files in originals.values())
    assert f"wrote {written} volumes into {out}; 0 cases skipped" in capsys.readouterr().out
    for files in scan_cases(out):
        assert sorted(files.sequences) == sorted(originals[files.case_id].sequences)
        for name, path in files.sequences.items():
            _check_volume(path, originals[files.case_id].sequences[name])
            data = load_volume(path).data
            assert data.min() >= 0.0
            assert data.max() <= 255.0
    assert _used_the_device()


# --- mri-seg ----------------------------------------------------------------------------------


def _predict_and_check(
    model: Path, cohort: Path, out: Path, labels: set[int], *options: str
) -> None:
    """``mri-seg predict`` on the device: one uint8 label map per case, on the case's grid,
    with labels of the model's convention only."""
    args = ["predict", "--model", str(model), "--cohort", str(cohort), "--out", str(out)]
    assert mri_seg([*args, *options, "--device", DEVICE]) == 0
    cases = scan_cases(cohort)
    assert sorted(path.name for path in out.iterdir()) == sorted(
        f"{files.case_id}-seg.nii.gz" for files in cases
    )
    for files in cases:
        predicted = load_labels(out / f"{files.case_id}-seg.nii.gz")
        reference = load_volume(next(iter(files.sequences.values())))
        assert predicted.data.shape == SHAPE
        assert predicted.data.dtype == np.uint8
        np.testing.assert_allclose(predicted.affine, reference.affine, atol=1e-4)
        assert set(np.unique(predicted.data).tolist()) <= labels


def _check_seg_run(run: Path, epochs: int) -> None:
    """A finished mri-seg run folder: settings, one finite log row per epoch, both models."""
    assert {"run.json", "log.csv", "state.pt", "best", "last"} <= _model_files(run)
    for model in ("best", "last"):
        assert {"config.json", "model.safetensors"} <= _model_files(run / model)
    rows = _log_rows(run)
    assert [row["epoch"] for row in rows] == [str(epoch + 1) for epoch in range(epochs)]
    for row in rows:
        _finite_numbers(row)


def test_unet_trains_then_predicts_on_the_device(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    args = ["train", "unet", "--data", str(cohort), "--preset", "tiny", "--out", str(run)]
    args += ["--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "1"]
    args += ["--crop", "16", "16", "16", "--device", DEVICE]
    assert mri_seg(args) == 0
    assert "best epoch 1 (WT " in capsys.readouterr().out
    _check_seg_run(run, 1)
    _predict_and_check(
        run, cohort, tmp_path / "pred", {0, 1, 2, 4},
        "--remove-small", "--label-convention", "brats2021", "--overlap", "0.25",
    )  # fmt: skip
    assert _used_the_device()


def test_segmenter2d_trains_then_predicts_on_the_device(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    args = ["train", "segmenter2d", "--data", str(cohort), "--out", str(run)]
    args += ["--views", "axial", "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "4"]
    assert mri_seg([*args, "--device", DEVICE]) == 0
    assert "NETC" in capsys.readouterr().out
    _check_seg_run(run, 1)
    _predict_and_check(run, cohort, tmp_path / "pred", {0, 1, 2, 3})
    assert _used_the_device()


def test_ganet_seg_trains_predicts_and_reports_thresholds_on_the_device(
    cohort: Path, healthy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GAN pre-training on healthy brains, then both phases of the segmenter (epoch 2 is
    phase 2), then prediction and the threshold report."""
    run = tmp_path / "run"
    args = ["train", "ganet", "--healthy", str(healthy), "--data", str(cohort)]
    args += ["--gan-epochs", "1", "--gan-steps-per-epoch", "5", "--gan-batch-size", "2"]
    args += ["--epochs", "2", "--phase1-epochs", "1", "--steps-per-epoch", "2"]
    args += ["--batch-size", "2", "--enhance", "--weighting", "loss", "--device", DEVICE]
    assert mri_seg([*args, "--out", str(run)]) == 0
    assert "best epoch" in capsys.readouterr().out
    _check_seg_run(run, 2)
    _predict_and_check(run, cohort, tmp_path / "pred", {0, 2})
    report = tmp_path / "thresholds.json"
    args = ["ganet-thresholds", "--gan", str(run), "--data", str(cohort), "--out", str(report)]
    assert mri_seg([*args, "--device", DEVICE]) == 0
    document = json.loads(report.read_text())
    assert [row["threshold"] for row in document["rows"]] == [0.1, 0.2, 0.3, 0.4]
    for row in document["rows"]:
        assert row["tp"] + row["fn"] + row["fp"] + row["tn"] == document["slices"]
    assert _used_the_device()


def test_synthtumour_trains_both_stages_then_predicts_on_the_device(
    healthy: Path, unlabelled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The junior stage learns synthetic tumours in healthy brains, the senior stage the
    junior's pseudo labels of real ones; both stages' models predict."""
    run = tmp_path / "run"
    args = ["train", "synthtumour", "--healthy", str(healthy), "--unlabelled", str(unlabelled)]
    args += ["--out", str(run), "--preset", "tiny", "--epochs", "1", "1"]
    args += ["--steps-per-epoch", "2", "--batch-size", "1", "--lr", "0.002", "--device", DEVICE]
    assert mri_seg(args) == 0
    assert "saved to" in capsys.readouterr().out
    settings = json.loads((run / "run.json").read_text())
    assert (settings["junior_epochs"], settings["senior_epochs"]) == (1, 1)
    for stage in ("junior", "senior"):
        _check_seg_run(run / stage, 1)
        _predict_and_check(run / stage, unlabelled, tmp_path / stage, {0, 1, 2, 3})
    assert _used_the_device()

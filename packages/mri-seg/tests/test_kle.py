"""The KLE anomaly channel: the basis, its residual, its files, and a U-Net that uses it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from mri_io.case import load_case
from mri_io.errors import RunFolderError
from mri_io.layouts import scan_cases
from mri_io.sequences import SEQUENCES
from mri_io.synthetic.cohort import write_cohort
from mri_seg import load_segmenter
from mri_seg.cli import main
from mri_seg.errors import ModelFileError
from mri_seg.inputs import image_stack
from mri_seg.networks import UNet3D
from mri_seg.unet import KLEBasis, TrainConfig, train_unet
from mri_seg.unet.inference import case_inputs

from .conftest import SMALL_GRID

Stacks = list[np.ndarray]


@pytest.fixture(scope="module")
def tumour_cases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Stacks, list[np.ndarray]]:
    """Ten glioblastoma cases (normalised stacks and whole-tumour masks)."""
    folder = tmp_path_factory.mktemp("kle-cohort")
    write_cohort(
        folder, 10, seed=3, centres=["research-3t"], tumour="gbm", grid=SMALL_GRID, progress=False
    )
    cases = [load_case(files) for files in scan_cases(folder)]
    stacks = [image_stack(case, SEQUENCES) for case in cases]
    masks = [np.asarray(case.seg.data) > 0 for case in cases if case.seg is not None]
    return stacks, masks


@pytest.fixture(scope="module")
def basis(tumour_cases: tuple[Stacks, list[np.ndarray]]) -> KLEBasis:
    """Four coefficients fitted on the first eight cases (two held out)."""
    return KLEBasis.fit(tumour_cases[0][:8], SEQUENCES, components=4)


def test_reconstructs_training_cases_better_than_held_out(
    basis: KLEBasis, tumour_cases: tuple[Stacks, list[np.ndarray]]
) -> None:
    stacks = tumour_cases[0]
    training = [basis.residual_energy(stack) for stack in stacks[:8]]
    held_out = [basis.residual_energy(stack) for stack in stacks[8:]]
    assert min(held_out) > 2 * float(np.mean(training))


def test_residual_is_higher_inside_tumours(
    basis: KLEBasis, tumour_cases: tuple[Stacks, list[np.ndarray]]
) -> None:
    stacks, masks = tumour_cases
    for stack, tumour in zip(stacks[8:], masks[8:], strict=True):
        anomaly = basis.anomaly(stack)
        assert anomaly.shape == stack.shape[1:]
        healthy = np.any(stack != -1, axis=0) & ~tumour
        assert anomaly[tumour].mean() > 1.5 * anomaly[healthy].mean()
        assert np.all(anomaly[np.all(stack == -1, axis=0)] == 0)


def test_components_are_orthonormal_and_capped_by_cases(
    tumour_cases: tuple[Stacks, list[np.ndarray]],
) -> None:
    small = KLEBasis.fit(tumour_cases[0][:3], SEQUENCES)
    assert small.components == 2  # 3 cases span 2 directions around their mean
    assert small.basis.shape == (2, len(SEQUENCES) * 48**3)
    gram = small.basis.astype(np.float64) @ small.basis.T.astype(np.float64)
    np.testing.assert_allclose(gram, np.eye(2), atol=1e-5)
    assert small.variances[0] >= small.variances[1] > 0
    with pytest.raises(ValueError, match="at least 2 cases"):
        KLEBasis.fit(tumour_cases[0][:1], SEQUENCES)


def test_fit_is_deterministic(tumour_cases: tuple[Stacks, list[np.ndarray]]) -> None:
    first = KLEBasis.fit(tumour_cases[0][:5], SEQUENCES, components=3)
    second = KLEBasis.fit(tumour_cases[0][:5], SEQUENCES, components=3)
    for name, array in first.arrays().items():
        assert array.tobytes() == second.arrays()[name].tobytes()


def test_save_load_round_trip(
    basis: KLEBasis, tumour_cases: tuple[Stacks, list[np.ndarray]], tmp_path: Path
) -> None:
    basis.save(tmp_path / "kle")
    loaded = KLEBasis.load(tmp_path / "kle")
    assert (
        loaded.describe()
        == basis.describe()
        == {
            "sequences": list(SEQUENCES),
            "grid": 48,
            "cases": 8,
            "components": 4,
        }
    )
    for name, array in basis.arrays().items():
        np.testing.assert_array_equal(loaded.arrays()[name], array)
    stack = tumour_cases[0][9]
    np.testing.assert_array_equal(loaded.anomaly(stack), basis.anomaly(stack))
    arrays = tmp_path / "kle" / "kle.safetensors"
    data = bytearray(arrays.read_bytes())
    data[-1] ^= 1
    arrays.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="hash"):
        KLEBasis.load(tmp_path / "kle")


KLE_CONFIG = TrainConfig(
    epochs=1,
    steps_per_epoch=2,
    batch_size=1,
    crop=(16, 16, 16),
    val_fraction=0.25,
    device="cpu",
    kle=True,
    workers=0,
)


def test_kle_unet_trains_saves_and_segments(cohort: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train_unet(cohort, run, KLE_CONFIG, progress=False)
    saved = KLEBasis.load(run / "kle")
    assert saved.cases == 3
    assert saved.components == 2
    model = load_segmenter(run)
    assert isinstance(model, UNet3D)
    assert model.input_channels == len(SEQUENCES) + 1
    carried = model.kle_basis()
    assert carried is not None
    np.testing.assert_array_equal(carried.basis, saved.basis)
    config = json.loads((run / "best" / "config.json").read_text())["config"]
    assert config["kle"]["components"] == 2
    assert TrainConfig.from_json(json.loads((run / "run.json").read_text())) == KLE_CONFIG
    case = load_case(scan_cases(cohort)[0])
    labels = model.segment(case)
    assert labels.shape == case.images["t1n"].shape
    assert np.array_equal(labels.data, model.segment(case).data)


def test_kle_channel_changes_the_prediction(cohort: Path, basis: KLEBasis) -> None:
    """The anomaly channel reaches the network: zeroing its weights changes the logits."""
    torch.manual_seed(0)
    model = UNet3D.from_preset("tiny", kle=basis)
    case = load_case(scan_cases(cohort)[0])
    inputs = torch.from_numpy(case_inputs(model, case))
    assert inputs.shape[0] == 5
    crop = inputs[None, :, 22:38, 22:38, 12:28]
    assert float(crop[0, 4].min()) > 0  # the brain's centre: the anomaly map is never 0 there
    blank = crop.clone()
    blank[:, 4] = 0
    with torch.no_grad():
        assert not torch.allclose(model(crop), model(blank))


def test_cli_trains_a_kle_unet(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    arguments = ["train", "unet", "--data", str(cohort), "--out", str(run), "--kle"]
    options = ["--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "1"]
    crop = ["--crop", "16", "16", "16", "--workers", "0", "--kle-components", "1"]
    assert main([*arguments, *options, *crop, "--device", "cpu"]) == 0
    assert "best epoch 1" in capsys.readouterr().out
    assert KLEBasis.load(run / "kle").components == 1
    out = tmp_path / "pred"
    assert main(["predict", "--model", str(run), "--cohort", str(cohort), "--out", str(out)]) == 0
    assert len(list(out.iterdir())) == 4


def test_training_crops_carry_the_unaugmented_anomaly_map(basis: KLEBasis) -> None:
    """The map is cropped and flipped with the image, not intensity-augmented, and negative
    crops still centre on the brain (the map's 0 background is not taken for brain)."""
    from mri_seg.targets import TargetSpec
    from mri_seg.unet.data import ANOMALY, IMAGE, LABEL, training_transforms

    config = TrainConfig(crop=(8, 8, 8), kle=True, foreground_fraction=0.0, noise_prob=1.0)
    transform = training_transforms(config, TargetSpec())
    images = np.full((4, 30, 30, 20), -1.0, dtype=np.float32)
    images[:, 10:20, 10:20, 5:15] = 1.0
    anomaly = np.zeros((1, 30, 30, 20), dtype=np.float32)
    anomaly[0, 10:20, 10:20, 5:15] = np.arange(1000, dtype=np.float32).reshape(10, 10, 10)
    labels = np.zeros((1, 30, 30, 20), dtype=np.uint8)
    for seed in range(5):
        transform.set_random_state(seed=seed)
        out = transform({IMAGE: images, LABEL: labels, ANOMALY: anomaly})
        item = out[0] if isinstance(out, list) else out
        image = np.asarray(item[IMAGE])
        assert image.shape == (5, 8, 8, 8)
        values = image[4][image[4] > 0]
        assert values.size > 0  # centred on the brain
        assert np.all(np.isin(values, anomaly))  # exact values: not augmented


def test_a_resumed_kle_run_keeps_its_basis(cohort: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train_unet(cohort, run, KLE_CONFIG, progress=False)
    first = (run / "kle" / "kle.safetensors").read_bytes()
    longer = replace(KLE_CONFIG, epochs=2)
    with pytest.raises(RunFolderError):
        train_unet(cohort, run, longer, resume=True, progress=False)  # the schedule changed
    resumable = replace(KLE_CONFIG, max_minutes=5.0)
    result = train_unet(cohort, run, resumable, resume=True, progress=False)
    assert result.epochs_done == 1
    assert (run / "kle" / "kle.safetensors").read_bytes() == first
    model = load_segmenter(run)
    assert isinstance(model, UNet3D)
    carried = model.kle_basis()
    assert carried is not None
    np.testing.assert_array_equal(carried.basis, KLEBasis.load(run / "kle").basis)

"""Segmenters record the grid they were trained on (voxel size, orientation) and their input
preprocessing; inference brings other cases to that grid and returns labels on the case's own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mri_io.case import Case, load_case
from mri_io.layouts import scan_cases
from mri_io.orientation import reorient
from mri_io.synthetic import FULL_GRID
from mri_io.synthetic.cohort import write_cohort
from mri_metrics import dice
from mri_seg import InferenceSettings, load_segmenter
from mri_seg.errors import ModelFileError
from mri_seg.ganet import GANetSeg
from mri_seg.ganet import inference as ganet_inference
from mri_seg.segmenter2d import Segmenter2D
from mri_seg.segmenter2d import inference as segmenter2d_inference
from mri_seg.synthtumour import SynthTumourUNet
from mri_seg.unet import UNet3D
from mri_seg.unet import inference as unet_inference

from .conftest import SMALL_GRID


@pytest.fixture(scope="module")
def finer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The conftest cohort's cases (same seed) written at 2 mm instead of 4 mm."""
    folder = tmp_path_factory.mktemp("finer")
    write_cohort(
        folder, 4, seed=11, centres=["research-3t"], tumour="gbm",
        grid=FULL_GRID.coarsened(2), progress=False,
    )  # fmt: skip
    return folder


def _stand_in(seen: list[tuple[int, ...]]):  # type: ignore[no-untyped-def]
    """A network stand-in whose whole tumour is the brain (every voxel that is not background in
    some sequence), recording the shape it was given: what is tested is the resampling around
    the network, on a large structure whose boundary any misplacement would move."""

    def predict(model: UNet3D, images: np.ndarray, settings: InferenceSettings) -> torch.Tensor:
        seen.append(tuple(images.shape[1:]))
        brain = (torch.as_tensor(images) != -1.0).any(dim=0).float()
        return torch.stack([brain, torch.zeros_like(brain), torch.zeros_like(brain)])

    return predict


def test_spacing_is_saved_with_the_model(tmp_path: Path) -> None:
    UNet3D.from_preset("tiny", spacing=(4.0, 4.0, 4.0)).save_pretrained(tmp_path)
    loaded = load_segmenter(tmp_path)
    assert isinstance(loaded, UNet3D)
    assert loaded.spacing == (4.0, 4.0, 4.0)


def test_a_finer_case_is_segmented_at_the_model_spacing_and_returned_on_its_grid(
    cohort: Path, finer: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, ...]] = []
    monkeypatch.setattr(unet_inference, "predict_probabilities", _stand_in(seen))
    model = UNet3D.from_preset("tiny", spacing=(4.0, 4.0, 4.0))
    coarse = load_case(scan_cases(cohort)[0])
    fine = load_case(scan_cases(finer)[0])
    reference = next(iter(fine.images.values()))
    resampled = unet_inference.segment_case(model, fine)
    unet_inference.segment_case(model, coarse)
    # The network always sees 4 mm voxels: the fine case is brought to the coarse grid.
    assert seen == [SMALL_GRID.shape, SMALL_GRID.shape]
    assert resampled.shape == reference.shape
    np.testing.assert_array_equal(resampled.affine, reference.affine)
    # Without a recorded spacing the network gets the fine case as it is.
    model.spacing = None
    native = unet_inference.segment_case(model, fine)
    assert seen[-1] == reference.shape
    # Resampling down, predicting and resampling the probabilities back loses only detail
    # finer than 4 mm, at the boundary: the result agrees with predicting at 2 mm.
    assert (native.data > 0).mean() > 0.1
    assert dice(resampled.data > 0, native.data > 0) > 0.95


def test_ganet_segments_at_its_voxel_size_and_answers_on_the_case_grid(
    finer: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, ...]] = []
    real = ganet_inference.predict_probabilities

    def recording(model: GANetSeg, stack: np.ndarray, device: str = "cpu") -> np.ndarray:
        seen.append(tuple(stack.shape[1:]))
        return real(model, stack, device)

    monkeypatch.setattr(ganet_inference, "predict_probabilities", recording)
    torch.manual_seed(0)
    model = GANetSeg(spacing=(4.0, 4.0, 4.0))
    fine = load_case(scan_cases(finer)[0])
    reference = next(iter(fine.images.values()))
    labels = model.segment(fine)
    assert seen == [SMALL_GRID.shape]
    assert labels.shape == reference.shape
    np.testing.assert_array_equal(labels.affine, reference.affine)
    # Without a recorded voxel size the network gets the case as it is.
    assert GANetSeg().segment(fine).shape == reference.shape
    assert seen[-1] == reference.shape


#: The synthetic cohort is written L-P-S; a scanner export might come I-R-P (axes permuted and
#: flipped): the same anatomy in world terms, another array.
TRAINED = ("L", "P", "S")
TURNED = ("I", "R", "P")


def _turned(case: Case) -> Case:
    images = {name: reorient(volume, TURNED)[0] for name, volume in case.images.items()}
    return Case(case.case_id, images, None, case.missing, case.label_convention)


def _lopsided(images: object) -> np.ndarray:
    """A tumour that depends on the array's axes, not only on the anatomy: the brain voxels in
    the first half of axis 0 and the first 60 % of axis 1 (any axis confusion moves it)."""
    stack = np.asarray(images)
    brain = (stack != -1.0).any(axis=0)
    x, y, _ = stack.shape[1:]
    brain[x // 2 :] = False
    brain[:, int(0.6 * y) :] = False
    return brain.astype(np.float32)


def _unet_stand_in(model: object, images: object, settings: object) -> torch.Tensor:
    mask = torch.from_numpy(_lopsided(images))
    return torch.stack([mask, torch.zeros_like(mask), torch.zeros_like(mask)])


def _ganet_stand_in(model: object, stack: object, device: object = "cpu") -> np.ndarray:
    mask = _lopsided(stack)
    return np.stack([1.0 - mask, mask])


def _segmenter2d_stand_in(
    model: object, images: object, tumour_type: str, device: object = "cpu"
) -> np.ndarray:
    mask = _lopsided(images)
    return np.stack([1.0 - mask, 0 * mask, mask, 0 * mask])


FAMILIES = {
    "unet3d": (lambda: UNet3D.from_preset("tiny", orientation=TRAINED), unet_inference,
               _unet_stand_in),
    "synthtumour": (lambda: SynthTumourUNet.for_stage("junior", "tiny", orientation=TRAINED),
                    unet_inference, _unet_stand_in),
    "ganet-seg": (lambda: GANetSeg(orientation=TRAINED), ganet_inference, _ganet_stand_in),
    "segmenter2d": (lambda: Segmenter2D(features=(8, 16), orientation=TRAINED),
                    segmenter2d_inference, _segmenter2d_stand_in),
}  # fmt: skip


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_case_in_another_orientation_is_segmented_in_the_training_orientation(
    family: str, cohort: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build, module, stand_in = FAMILIES[family]
    monkeypatch.setattr(module, "predict_probabilities", stand_in)
    model = build()
    case = load_case(scan_cases(cohort)[0])
    turned = _turned(case)
    original = model.segment(case)
    answer = model.segment(turned)
    assert (original.data > 0).mean() > 0.02
    # The network saw the same arrays; the labels come back on the turned case's own grid.
    expected, _ = reorient(original, TURNED)
    np.testing.assert_array_equal(answer.data, expected.data)
    np.testing.assert_array_equal(answer.affine, next(iter(turned.images.values())).affine)
    # A model without a recorded orientation takes the turned arrays as they are: the answer
    # then differs, which is what recording the orientation prevents.
    model.orientation = None
    assert not np.array_equal(model.segment(turned).data, expected.data)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_grid_and_preprocessing_are_recorded_and_checked(family: str, tmp_path: Path) -> None:
    build, _, _ = FAMILIES[family]
    build().save_pretrained(tmp_path / "model")
    loaded = load_segmenter(tmp_path / "model")
    assert loaded.orientation == TRAINED
    config_path = tmp_path / "model" / "config.json"
    document = json.loads(config_path.read_text())
    assert document["config"]["normalisation"] == "zscore-volume"
    assert document["config"]["crop"]
    # Inputs prepared another way than today's code prepares them are refused, naming the file.
    document["config"]["normalisation"] = "minmax-1-1"
    config_path.write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="normalisation 'minmax-1-1'") as caught:
        load_segmenter(tmp_path / "model")
    assert "config.json" in str(caught.value)

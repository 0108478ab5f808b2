"""A U-Net records the voxel size it was trained at; inference resamples other cases to it and
returns labels on the case's own grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mri_io.case import load_case
from mri_io.layouts import scan_cases
from mri_io.synthetic import FULL_GRID
from mri_io.synthetic.cohort import write_cohort
from mri_metrics import dice
from mri_seg import InferenceSettings, load_segmenter
from mri_seg.ganet import GANetSeg
from mri_seg.ganet import inference as ganet_inference
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

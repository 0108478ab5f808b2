"""The segmenter contract: every family's network labels a case, and the loader returns it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mri_io.case import load_case
from mri_io.errors import MissingSequenceError
from mri_io.nifti import load_labels, load_volume
from mri_seg import InferenceSettings, Segmenter, Segmenter2D, UNet3D, load_segmenter
from mri_seg.cli import main
from mri_seg.inputs import image_stack
from mri_seg.prediction import prediction_path
from mri_seg.segmenter2d import segment_case as segment_slices
from mri_seg.segmenter2d.inference import predict_probabilities


def _families() -> list[torch.nn.Module]:
    torch.manual_seed(0)
    return [
        UNet3D.from_preset("tiny", roi_size=(32, 32, 32)),
        Segmenter2D(features=(4, 8, 8, 8)),
    ]


@pytest.mark.parametrize("index", [0, 1])
def test_loaded_models_are_segmenters_that_label_a_case(
    index: int, case_dir: Path, tmp_path: Path
) -> None:
    _families()[index].save_pretrained(tmp_path / "model")  # type: ignore[operator]
    model = load_segmenter(tmp_path / "model")
    assert isinstance(model, Segmenter)
    assert model.sequences == ("t1n", "t1c", "t2w", "t2f")
    assert model.label_convention == "brats2023"
    case = load_case(case_dir)
    labels = model.segment(case, settings=InferenceSettings(overlap=0.25))
    reference = load_volume(case_dir / f"{case_dir.name}-t1n.nii.gz")
    assert labels.shape == reference.shape
    np.testing.assert_allclose(labels.affine, reference.affine)
    assert labels.data.dtype == np.uint8
    assert set(np.unique(labels.data)) <= {0, 1, 2, 3}


def test_segmenter2d_refuses_a_missing_sequence_and_accepts_a_completion(
    case_without_flair: Path, case_dir: Path
) -> None:
    model = _families()[1]
    assert isinstance(model, Segmenter2D)
    case = load_case(case_without_flair)
    with pytest.raises(MissingSequenceError, match="t2f"):
        model.segment(case)
    flair = load_volume(case_dir / f"{case_dir.name}-t2f.nii.gz").data
    completed = model.segment(case, completion={"t2f": flair})
    whole = model.segment(load_case(case_dir))
    np.testing.assert_array_equal(completed.data, whole.data)


def test_segmenter2d_averages_the_views_and_keeps_the_grid(case_dir: Path) -> None:
    model = _families()[1]
    assert isinstance(model, Segmenter2D)
    case = load_case(case_dir)
    images = image_stack(case, model.sequences)
    probabilities = predict_probabilities(model, images, "gli")
    assert probabilities.shape == (4, *images.shape[1:])
    np.testing.assert_allclose(probabilities.sum(axis=0), 1.0, rtol=1e-5)
    labels = segment_slices(model, case, tumour_type="met")
    assert labels.shape == images.shape[1:]


def test_predict_command_takes_any_segmenter(case_dir: Path, tmp_path: Path) -> None:
    _families()[1].save_pretrained(tmp_path / "model")  # type: ignore[operator]
    code = main(
        [
            "predict",
            "--model",
            str(tmp_path / "model"),
            "--case",
            str(case_dir),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    written = load_labels(prediction_path(tmp_path / "out", case_dir.name))
    assert written.shape == load_volume(case_dir / f"{case_dir.name}-t1n.nii.gz").shape

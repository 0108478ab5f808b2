"""Sliding-window inference, written label maps, missing-sequence refusal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mri_io.case import load_case
from mri_io.errors import MissingSequenceError
from mri_io.nifti import load_labels, load_volume
from mri_seg import InferenceSettings, predict_probabilities, predict_to_file, segment_case
from mri_seg.inputs import image_stack
from mri_seg.networks import UNet3D
from mri_seg.prediction import prediction_path
from mri_seg.targets import TargetSpec


def _model(kind: str = "regions", roi: int = 32) -> UNet3D:
    torch.manual_seed(0)
    spec = TargetSpec(kind)  # type: ignore[arg-type]
    return UNet3D.from_preset("tiny", target=spec, roi_size=(roi, roi, roi)).eval()


@pytest.mark.parametrize("mode", ["gaussian", "constant"])
def test_one_window_equals_direct_forward_pass(mode: str) -> None:
    model = _model()
    images = torch.randn(4, 32, 32, 24)
    stitched = predict_probabilities(model, images, InferenceSettings(overlap=0.5, mode=mode))
    with torch.no_grad():
        direct = torch.sigmoid(model(images[None]))[0]
    torch.testing.assert_close(stitched, direct, rtol=1e-5, atol=1e-6)


def test_overlapping_windows_stay_close_to_direct_pass() -> None:
    # Gaussian blending of 16^3 windows over a 32^3 volume: a weighted mean of per-window
    # probabilities, so within [0, 1] and close to (not equal to) the one-window answer.
    model = _model(roi=16)
    images = torch.randn(4, 32, 32, 32)
    stitched = predict_probabilities(model, images, InferenceSettings(overlap=0.5))
    with torch.no_grad():
        direct = torch.sigmoid(model(images[None]))[0]
    assert stitched.shape == direct.shape
    assert float(stitched.min()) >= 0
    assert float(stitched.max()) <= 1
    assert float((stitched - direct).abs().mean()) < 0.1


def test_labels_model_probabilities_sum_to_one() -> None:
    model = _model("labels")
    probabilities = predict_probabilities(model, torch.randn(4, 20, 28, 36), InferenceSettings())
    assert probabilities.shape == (4, 20, 28, 36)
    torch.testing.assert_close(probabilities.sum(0), torch.ones(20, 28, 36))


def test_written_prediction_keeps_input_geometry(case_dir: Path, tmp_path: Path) -> None:
    model = _model(roi=64)
    path = predict_to_file(model, case_dir, tmp_path)
    assert path == prediction_path(tmp_path, case_dir.name)
    assert path.name == f"{case_dir.name}-seg.nii.gz"
    written = load_labels(path)
    source = load_volume(case_dir / f"{case_dir.name}-t1n.nii.gz")
    assert written.shape == source.shape
    np.testing.assert_array_equal(written.affine, source.affine)
    for field in ("qform_code", "sform_code", "pixdim", "xyzt_units"):
        np.testing.assert_array_equal(written.header[field], source.header[field])
    assert written.header["datatype"] == 2  # NIfTI DT_UINT8
    case = load_case(case_dir)
    expected = segment_case(model, case)
    np.testing.assert_array_equal(written.data, expected.data)
    assert set(np.unique(written.data)) <= {0, 1, 2, 3}


def test_label_convention_conversion(case_dir: Path) -> None:
    model = _model(roi=64)
    convolutions = [m for m in model.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)]
    with torch.no_grad():  # bias the output layer to "yes" for every region: all ET
        assert convolutions[-1].bias is not None
        convolutions[-1].bias.fill_(1000.0)
    case = load_case(case_dir)
    brats2023 = segment_case(model, case)
    brats2021 = segment_case(model, case, InferenceSettings(label_convention="brats2021"))
    assert set(np.unique(brats2023.data)) == {3}
    np.testing.assert_array_equal(brats2021.data, np.where(brats2023.data == 3, 4, brats2023.data))


def test_missing_sequence_refused_by_name(case_without_flair: Path, tmp_path: Path) -> None:
    with pytest.raises(MissingSequenceError, match="has no t2f image") as info:
        predict_to_file(_model(roi=64), case_without_flair, tmp_path)
    assert str(case_without_flair) in str(info.value)
    assert not list(tmp_path.glob("*.nii.gz"))


def test_completion_fills_missing_sequence(case_dir: Path, case_without_flair: Path) -> None:
    model = _model(roi=64)
    flair = load_volume(case_dir / f"{case_dir.name}-t2f.nii.gz").data
    completed = segment_case(model, load_case(case_without_flair), completion={"t2f": flair})
    complete = segment_case(model, load_case(case_dir))
    np.testing.assert_array_equal(completed.data, complete.data)
    with pytest.raises(ValueError, match="completion for t2f has shape"):
        image_stack(load_case(case_without_flair), model.sequences, {"t2f": flair[:-1]})


def test_input_is_zscored_per_channel_on_nonzero_voxels(case_dir: Path) -> None:
    case = load_case(case_dir)
    stack = image_stack(case, ("t1n", "t2f"))
    for channel, key in enumerate(("t1n", "t2f")):
        raw = case.images[key].data
        brain = raw > 0
        clipped = np.minimum(raw[brain].astype(np.float64), np.percentile(raw[brain], 99.5))
        expected = (clipped - clipped.mean()) / clipped.std()
        np.testing.assert_allclose(stack[channel][brain], expected, rtol=1e-4, atol=1e-4)
        assert (stack[channel][~brain] == -1).all()


def test_settings_validation() -> None:
    with pytest.raises(ValueError, match="overlap"):
        InferenceSettings(overlap=1.0)
    with pytest.raises(ValueError, match="blending"):
        InferenceSettings(mode="mean")

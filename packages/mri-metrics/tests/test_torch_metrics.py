"""Torch SSIM against the numpy path; Metric classes: values, sum states, merging; extractors."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import torch
from scipy import ndimage
from torchmetrics.utilities.data import dim_zero_sum

from mri_metrics import intensity
from mri_metrics import similarity as np_ssim
from mri_metrics.errors import MetricInputError, NonFiniteError, ShapeMismatchError
from mri_metrics.frechet import frechet_distance
from mri_metrics.torch import (
    FeatureExtractor,
    ForegroundSSIM,
    FrechetDistance,
    InceptionV3Features,
    MaskedMAE,
    MaskedPSNR,
    RandomConvEncoder,
    ssim,
    ssim_map,
)

Array = npt.NDArray[np.float64]


def _batch(shape: tuple[int, ...], seed: int) -> tuple[Array, Array, npt.NDArray[np.bool_]]:
    rng = np.random.default_rng(seed)
    ref = ndimage.gaussian_filter(rng.random(shape), 1.0) * 3000 + 500
    pred = ref + rng.normal(0, 80, shape)
    mask = rng.random(shape) < 0.4
    return pred, ref, mask


@pytest.mark.parametrize("shape", [(3, 30, 26), (2, 20, 22, 18)])
def test_torch_ssim_equals_numpy_path(shape: tuple[int, ...]) -> None:
    pred, ref, mask = _batch(shape, 0)
    dims = len(shape) - 1
    for dtype, tolerance in ((torch.float64, 1e-10), (torch.float32, 1e-5)):
        p, r = torch.from_numpy(pred).to(dtype), torch.from_numpy(ref).to(dtype)
        local = ssim_map(p, r, spatial_dims=dims)
        masked = ssim(p, r, mask=torch.from_numpy(mask), spatial_dims=dims)
        interior = ssim(p, r, spatial_dims=dims)
        for i in range(shape[0]):
            expected_map = np_ssim.ssim_map(pred[i], ref[i])
            assert (
                float((local[i].double() - torch.from_numpy(expected_map)).abs().max()) < tolerance
            )
            assert float(masked[i]) == pytest.approx(
                np_ssim.ssim(pred[i], ref[i], mask=mask[i]), abs=tolerance
            )
            assert float(interior[i]) == pytest.approx(np_ssim.ssim(pred[i], ref[i]), abs=tolerance)


@pytest.mark.parametrize("shape", [(3, 40, 36), (3, 30, 26, 24)])
def test_masked_ssim_filters_only_the_masks_box_and_keeps_the_numbers(
    shape: tuple[int, ...],
) -> None:
    """Small masks in the middle, on the border and of one voxel in a corner (a box smaller
    than the window): the torch score filters only the box around the batch's masks and still
    equals the numpy path on the whole image."""
    pred, ref, _ = _batch(shape, 3)
    dims = len(shape) - 1
    mask = np.zeros(shape, dtype=bool)
    middle = tuple(slice(n // 2 - 3, n // 2 + 2) for n in shape[1:])
    mask[(0, *middle)] = True
    mask[(1, *(slice(0, 4) for _ in shape[1:]))] = True  # touching the image border
    mask[(2, *(0 for _ in shape[1:]))] = True  # one voxel in the corner
    for batch in (slice(0, 3), slice(0, 1), slice(2, 3)):
        p, r = torch.from_numpy(pred[batch]), torch.from_numpy(ref[batch])
        got = ssim(p, r, mask=torch.from_numpy(mask[batch]), spatial_dims=dims)
        for i, j in enumerate(range(shape[0])[batch]):
            expected = np_ssim.ssim(pred[j], ref[j], mask=mask[j])
            assert float(got[i]) == pytest.approx(expected, abs=1e-10)


def test_a_nan_outside_the_masks_box_is_still_refused() -> None:
    pred, ref, _ = _batch((1, 40, 36), 4)
    mask = np.zeros(pred.shape, dtype=bool)
    mask[0, 15:20, 15:20] = True
    pred[0, 0, 0] = np.nan  # far from the box that is filtered
    with pytest.raises(NonFiniteError, match="pred"):
        ssim(
            torch.from_numpy(pred),
            torch.from_numpy(ref),
            mask=torch.from_numpy(mask),
            spatial_dims=2,
        )


def test_metrics_equal_the_mean_of_numpy_per_image_scores() -> None:
    pred, ref, mask = _batch((4, 24, 24), 1)
    tensors = [torch.from_numpy(a) for a in (pred, ref, mask)]
    metrics = {"ssim": ForegroundSSIM(2), "psnr": MaskedPSNR(2), "mae": MaskedMAE(2)}
    for metric in metrics.values():
        metric.update(*tensors)
    expected = {
        "ssim": np.mean([np_ssim.ssim(pred[i], ref[i], mask=mask[i]) for i in range(4)]),
        "psnr": np.mean([intensity.psnr(pred[i], ref[i], mask=mask[i]) for i in range(4)]),
        "mae": np.mean([intensity.mae(pred[i], ref[i], mask=mask[i]) for i in range(4)]),
    }
    for name, metric in metrics.items():
        assert float(metric.compute()) == pytest.approx(expected[name], rel=1e-10)
    fixed = MaskedPSNR(2, data_range=4000.0)
    fixed.update(*tensors)
    expected_fixed = np.mean(
        [intensity.psnr(pred[i], ref[i], mask=mask[i], data_range=4000.0) for i in range(4)]
    )
    assert float(fixed.compute()) == pytest.approx(expected_fixed, rel=1e-12)


def test_states_are_sums_and_halves_merge_to_the_whole() -> None:
    """DDP safety: every state reduces with "sum", and merged halves equal one pass."""
    pred, ref, mask = _batch((6, 22, 20), 2)
    tensors = [torch.from_numpy(a) for a in (pred, ref, mask)]
    features = torch.from_numpy(np.random.default_rng(3).normal(size=(40, 5)))
    for make in (lambda: ForegroundSSIM(2), lambda: MaskedPSNR(2), lambda: MaskedMAE(2)):
        whole, first, second = make(), make(), make()
        assert set(whole._reductions.values()) == {dim_zero_sum}
        whole.update(*tensors)
        first.update(*(t[:2] for t in tensors))
        second.update(*(t[2:] for t in tensors))
        first.merge_state(second)
        assert float(first.compute()) == pytest.approx(float(whole.compute()), rel=1e-12)
        first.reset()
        assert float(first.images) == 0.0
    whole_fd, first_fd, second_fd = (FrechetDistance(num_features=5) for _ in range(3))
    assert set(whole_fd._reductions.values()) == {dim_zero_sum}
    for metric, rows in (
        (whole_fd, slice(None)),
        (first_fd, slice(0, 13)),
        (second_fd, slice(13, None)),
    ):
        metric.update(features[rows], real=True)
        metric.update(features[rows] * 1.5 + 0.2, real=False)
    first_fd.merge_state(second_fd)
    expected = frechet_distance(features.numpy(), features.numpy() * 1.5 + 0.2)
    assert float(whole_fd.compute()) == pytest.approx(expected, rel=1e-9)
    assert float(first_fd.compute()) == pytest.approx(expected, rel=1e-9)


def test_random_encoder_is_seeded_and_feeds_the_frechet_metric() -> None:
    images = torch.from_numpy(np.random.default_rng(4).random((6, 1, 32, 32))).float()
    encoder = RandomConvEncoder(num_features=16, seed=7)
    assert isinstance(encoder, FeatureExtractor)
    again = RandomConvEncoder(num_features=16, seed=7)(images)
    other = RandomConvEncoder(num_features=16, seed=8)(images)
    features = encoder(images)
    assert features.shape == (6, 16)
    assert torch.equal(features, again)
    assert not torch.allclose(features, other)
    metric = FrechetDistance(encoder)
    assert metric.extractor_name == "random-conv-2d(seed=7, width=32, in_channels=1, features=16)"
    metric.update(images, real=True)
    metric.update(images.flip(-1) * 0.5, real=False)
    assert float(metric.compute()) == pytest.approx(
        frechet_distance(
            features.double().numpy(), encoder(images.flip(-1) * 0.5).double().numpy()
        ),
        rel=1e-6,
    )


def test_inception_needs_a_weights_file_on_disk(tmp_path: Path) -> None:
    missing = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    with pytest.raises(FileNotFoundError, match="pt_inception"):
        InceptionV3Features(missing)


def test_bad_inputs() -> None:
    pred, ref, _ = _batch((2, 20, 20), 5)
    p, r = torch.from_numpy(pred), torch.from_numpy(ref)
    with pytest.raises(ShapeMismatchError):
        ssim(p, r[:, :19], spatial_dims=2)
    with pytest.raises(MetricInputError, match="no voxel"):
        ssim(p, r, mask=torch.zeros_like(p, dtype=torch.bool), spatial_dims=2)
    with (
        pytest.warns(UserWarning, match="before"),
        pytest.raises(MetricInputError, match="before update"),
    ):
        MaskedMAE(2).compute()
    with pytest.raises(MetricInputError, match="num_features"):
        FrechetDistance()
    assert math.isinf(float(_identical_psnr(p)))


def _identical_psnr(images: torch.Tensor) -> torch.Tensor:
    metric = MaskedPSNR(2)
    metric.update(images, images)
    return metric.compute()


def test_import_without_torch_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "try:\n    import mri_metrics.torch\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "mri-metrics[torch]"' in out.stdout

"""The torch SSIM map's two paddings: replicate (HF-GAN's loss) against a float64 reference and
skimage, and reflect (the numpy path's) against replicate away from the border."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import torch
from scipy import ndimage
from skimage.metrics import structural_similarity

from mri_metrics.errors import MetricInputError
from mri_metrics.torch import ssim_map

Array = npt.NDArray[np.float64]
RADIUS = 5


def replicate_reference(pred: Array, ref: Array, span: float) -> Array:
    """Wang et al.'s map in float64 with edge-repeating borders (scipy's ``nearest`` mode)."""

    def blur(x: Array) -> Array:
        return ndimage.gaussian_filter(x, 1.5, mode="nearest", truncate=RADIUS / 1.5)

    mu_p, mu_r = blur(pred), blur(ref)
    var_p = blur(pred * pred) - mu_p**2
    var_r = blur(ref * ref) - mu_r**2
    cov = blur(pred * ref) - mu_p * mu_r
    c1, c2 = (0.01 * span) ** 2, (0.03 * span) ** 2
    return ((2 * mu_p * mu_r + c1) * (2 * cov + c2)) / (
        (mu_p**2 + mu_r**2 + c1) * (var_p + var_r + c2)
    )


def _pair(shape: tuple[int, ...], seed: int) -> tuple[Array, Array]:
    rng = np.random.default_rng(seed)
    ref = ndimage.gaussian_filter(rng.normal(size=shape), 1.0)
    return ref + 0.3 * rng.normal(size=shape), ref


@pytest.mark.parametrize("shape", [(48, 40), (20, 22, 18)])
def test_replicate_map_equals_the_float64_reference_everywhere(shape: tuple[int, ...]) -> None:
    pred, ref = _pair(shape, 0)
    span = float(ref.max() - ref.min())
    expected = replicate_reference(pred, ref, span)
    for dtype, tolerance in ((torch.float64, 1e-10), (torch.float32, 1e-4)):
        got = ssim_map(
            torch.from_numpy(pred).to(dtype),
            torch.from_numpy(ref).to(dtype),
            data_range=span,
            padding="replicate",
        )
        np.testing.assert_allclose(got.double().numpy(), expected, atol=tolerance)


def test_replicate_map_matches_skimage_away_from_the_border() -> None:
    pred, ref = _pair((48, 48), 1)
    span = float(ref.max() - ref.min())
    _, expected = structural_similarity(  # type: ignore[no-untyped-call]
        pred,
        ref,
        data_range=span,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        full=True,
    )
    batch = torch.tensor([span, span], dtype=torch.float64)
    stacked = np.stack([pred, pred])[:, None], np.stack([ref, ref])[:, None]
    got = ssim_map(
        torch.from_numpy(stacked[0]),
        torch.from_numpy(stacked[1]),
        spatial_dims=2,
        data_range=batch,
        padding="replicate",
    )
    inner = (slice(RADIUS + 1, -RADIUS - 1),) * 2
    for image in got[:, 0].numpy():
        np.testing.assert_allclose(image[inner], expected[inner], rtol=1e-6, atol=1e-8)


def test_paddings_differ_only_at_the_border_and_the_map_is_differentiable() -> None:
    pred, ref = (torch.from_numpy(a) for a in _pair((32, 30), 2))
    pred.requires_grad_(True)
    reflect = ssim_map(pred, ref)
    replicate = ssim_map(pred, ref, padding="replicate")
    inner = (slice(RADIUS, -RADIUS),) * 2
    torch.testing.assert_close(reflect[inner], replicate[inner], rtol=0, atol=1e-12)
    assert float((reflect - replicate).detach().abs().max()) > 1e-6
    (1 - replicate).mean().backward()
    assert pred.grad is not None
    assert bool(torch.isfinite(pred.grad).all())
    with pytest.raises(MetricInputError, match="padding must be one of"):
        ssim_map(pred, ref, padding="zeros")  # type: ignore[arg-type]

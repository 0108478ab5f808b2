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


@pytest.mark.parametrize("padding", ["reflect", "replicate"])
def test_cpu_slabs_give_the_whole_volume_map_and_gradient(
    padding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a CPU a 3D map is filtered in slabs of planes; slab edges (here 10 + 10 + 10 + 7
    planes) and both paddings give the map and gradient of one pass over the whole volume."""
    from mri_metrics.torch import similarity

    rng = np.random.default_rng(7)
    ref = torch.from_numpy(ndimage.gaussian_filter(rng.random((2, 37, 24, 20)), 1.0) * 900)
    noisy = ref + torch.from_numpy(rng.normal(0, 40, ref.shape))

    def map_and_gradient() -> tuple[torch.Tensor, torch.Tensor]:
        pred = noisy.clone().requires_grad_(True)
        local = ssim_map(pred, ref, spatial_dims=3, data_range=900.0, padding=padding)  # type: ignore[arg-type]
        local.sum().backward()  # type: ignore[no-untyped-call]
        assert pred.grad is not None
        return local.detach(), pred.grad

    # Moments of one padded plane: 4 images x 2 volumes x 34 x 30 voxels x 8 bytes.
    plane = 4 * 2 * 34 * 30 * 8
    monkeypatch.setattr(similarity, "CPU_SLAB_BYTES", plane * (10 + 2 * RADIUS))
    padded = torch.zeros(2, 1, 47, 34, 30, dtype=torch.float64)
    assert similarity._planes_per_slab(padded, 3, RADIUS) == 10
    slabbed = map_and_gradient()
    monkeypatch.setattr(similarity, "CPU_SLAB_BYTES", 2**40)
    assert similarity._planes_per_slab(padded, 3, RADIUS) == 37
    whole = map_and_gradient()
    torch.testing.assert_close(slabbed[0], whole[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(slabbed[1], whole[1], rtol=1e-10, atol=1e-12)

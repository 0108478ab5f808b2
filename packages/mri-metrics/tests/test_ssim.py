"""SSIM: parity with skimage, torchmetrics and MONAI; foreground averaging; the BraSyn profile."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from monai.metrics.regression import SSIMMetric
from scipy import ndimage
from skimage.metrics import structural_similarity
from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim

from mri_metrics import similarity
from mri_metrics.errors import MetricInputError, NonFiniteError, NotBinaryError, ShapeMismatchError
from mri_metrics.similarity import brasyn_normalise, gaussian_window, scoring_mask, ssim, ssim_map

Array = npt.NDArray[np.float64]
SHAPES = [(40, 33), (26, 30, 22)]


def _pair(shape: tuple[int, ...], seed: int, offset: float = 0.0) -> tuple[Array, Array]:
    rng = np.random.default_rng(seed)
    ref = ndimage.gaussian_filter(rng.random(shape), 1.0) * 900 + offset
    pred = ref + rng.normal(0, 40, shape)
    pred[tuple(slice(0, n // 3) for n in shape)] = offset  # flat block: zero-variance windows
    return pred, ref


def _scalar(value: object) -> float:
    """A peer's 0-d tensor result as a float (their signatures return unions)."""
    assert isinstance(value, torch.Tensor)
    return float(value)


def _torch(a: Array) -> torch.Tensor:
    return torch.from_numpy(a)[None, None]


def _brain_phantom(shape: tuple[int, int, int], seed: int) -> tuple[Array, Array, Array]:
    """Skull-stripped brain: textured ellipsoid on zero background, with a spherical tumour."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*(np.arange(n, dtype=float) for n in shape), indexing="ij"))
    centre = np.array([n / 2 for n in shape])[:, None, None, None]
    radii = np.array([0.30, 0.36, 0.34])[:, None, None, None] * np.array(shape)[:, None, None, None]
    brain = (((grid - centre) / radii) ** 2).sum(axis=0) < 1
    tumour_centre = centre + np.array([4.0, 5.0, 2.0])[:, None, None, None]
    tumour = (((grid - tumour_centre) ** 2).sum(axis=0) < 7.5**2) & brain
    texture = ndimage.gaussian_filter(rng.standard_normal(shape), 1.5)
    ref = np.where(brain, 600.0 + 2500.0 * texture, 0.0).clip(0.0)
    ref[tumour] += 800.0
    return ref, brain.astype(np.float64), tumour.astype(np.float64)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("sample_covariance", [False, True])
def test_interior_mean_equals_skimage(shape: tuple[int, ...], sample_covariance: bool) -> None:
    for seed, offset in [(0, 0.0), (1, 3000.0)]:
        pred, ref = _pair(shape, seed, offset)
        data_range = float(np.ptp(ref))
        expected = structural_similarity(  # type: ignore[no-untyped-call]
            pred,
            ref,
            data_range=data_range,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=sample_covariance,
        )
        ours = ssim(
            pred, ref, data_range=data_range, profile="skimage", sample_covariance=sample_covariance
        )
        assert ours == pytest.approx(expected, abs=1e-10)
        assert ssim(pred, ref, data_range=data_range, sample_covariance=sample_covariance) == ours


@pytest.mark.parametrize("shape", SHAPES)
def test_uniform_window_equals_skimage(shape: tuple[int, ...]) -> None:
    pred, ref = _pair(shape, 2)
    expected = structural_similarity(  # type: ignore[no-untyped-call]
        pred, ref, data_range=900.0, win_size=7, use_sample_covariance=False
    )
    ours = ssim(pred, ref, data_range=900.0, gaussian=False, win_size=7, profile="skimage")
    assert ours == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("shape", SHAPES)
def test_whole_map_equals_torchmetrics(shape: tuple[int, ...]) -> None:
    pred, ref = _pair(shape, 3)
    score, full = tm_ssim(_torch(pred), _torch(ref), data_range=900.0, return_full_image=True)
    assert isinstance(full, torch.Tensor)
    np.testing.assert_allclose(
        ssim_map(pred, ref, data_range=900.0), full[0, 0].numpy(), atol=1e-10
    )
    assert ssim(pred, ref, data_range=900.0, profile="torchmetrics") == pytest.approx(
        _scalar(score), abs=1e-10
    )
    # torchmetrics' own data_range rule: the larger of the two images' ranges.
    auto = _scalar(tm_ssim(_torch(pred), _torch(ref)))
    assert ssim(pred, ref, profile="torchmetrics") == pytest.approx(auto, abs=1e-10)


@pytest.mark.parametrize("shape", SHAPES)
def test_interior_mean_equals_monai(shape: tuple[int, ...]) -> None:
    """MONAI convolves without padding (the interior), population covariance.

    MONAI always computes in float32 and without centring, so it loses about 1e-6 on smooth,
    low-variance images; unsmoothed data keeps its rounding well below the tolerance.
    """
    rng = np.random.default_rng(4)
    ref = rng.random(shape)
    pred = np.clip(ref + rng.normal(0, 0.2, shape), 0, 1)
    expected = _scalar(
        SSIMMetric(spatial_dims=len(shape), data_range=1.0)(_torch(pred), _torch(ref))
    )
    assert ssim(pred, ref, data_range=1.0, profile="monai") == pytest.approx(expected, abs=1e-6)


def test_mask_average_equals_brute_force_on_the_full_map() -> None:
    pred, ref = _pair((30, 28, 24), 5, 200.0)
    full = ssim_map(pred, ref, data_range=900.0)
    rng = np.random.default_rng(6)
    for box in [(slice(0, 6), slice(20, 28), slice(3, 9)), (slice(12, 16),) * 3]:
        mask = np.zeros(pred.shape, dtype=bool)
        mask[box] = rng.random(mask[box].shape) < 0.7  # sparse mask touching the border
        assert ssim(pred, ref, mask=mask, data_range=900.0) == pytest.approx(
            float(full[mask].mean()), abs=1e-12
        )


def test_mask_spanning_many_slabs_equals_brute_force(monkeypatch: pytest.MonkeyPatch) -> None:
    """An irregular brain-like mask over many slabs (some holding no voxel), as a whole-map
    average; the result is the same on one thread or several, to the last bit."""
    ref, brain, tumour = _brain_phantom((60, 44, 36), 12)
    rng = np.random.default_rng(13)
    pred = np.where(brain > 0, ref + rng.normal(0, 120, ref.shape), 0.0)
    mask = brain.astype(bool)
    mask[20:36] = False  # one empty slab in the middle
    mask |= tumour.astype(bool)
    mask[0, 0, 0] = mask[59, 43, 35] = True  # corner voxels: windows mirrored at the border
    full = ssim_map(pred, ref, data_range=3000.0)
    expected = float(full[mask].mean())
    results = []
    for workers in (1, 2, 3):
        monkeypatch.setattr(similarity, "WORKERS", workers)
        results.append(ssim(pred, ref, mask=mask, data_range=3000.0))
    assert results[0] == pytest.approx(expected, abs=1e-12)
    assert results[1] == results[0]
    assert results[2] == results[0]


@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.uint16])
def test_any_real_dtype_scores_as_its_float64_values(dtype: type[np.generic]) -> None:
    """Images are converted slab by slab; the score is that of the float64 values."""
    ref, brain, _ = _brain_phantom((40, 36, 30), 14)
    rng = np.random.default_rng(15)
    pred = np.where(brain > 0, ref + rng.normal(0, 200, ref.shape), 0.0).clip(0, 30000)
    pred_t, ref_t = pred.astype(dtype), ref.astype(dtype)
    as_float = pred_t.astype(np.float64), ref_t.astype(np.float64)
    for kwargs in ({"mask": brain}, {"profile": "torchmetrics"}, {}):
        expected = ssim(*as_float, **kwargs)
        assert ssim(pred_t, ref_t, **kwargs) == pytest.approx(expected, abs=1e-13)


def test_integer_range_does_not_wrap() -> None:
    """int16 max - min overflows in int16; the data range is taken in float64."""
    ref = np.zeros((20, 20), dtype=np.int16)
    ref[:10] = -30000
    ref[10:] = 30000
    ref[5:15, 5:15] = 1000
    pred = ref.copy()
    pred[8:12, 8:12] = 0
    assert ssim(pred, ref) == pytest.approx(ssim(pred.astype(float), ref.astype(float)), abs=1e-15)


def test_gaussian_window_matches_scipy_gaussian_filter() -> None:
    impulse = np.zeros(21)
    impulse[10] = 1.0
    expected = ndimage.gaussian_filter1d(impulse, 1.5, truncate=3.5)[5:16]
    np.testing.assert_allclose(gaussian_window(11, 1.5), expected, atol=1e-15)


def test_appendix_a_background_inflates_masked_with_zeros_ssim(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Random tumour content: ~0.99 when the zero background is averaged, low on the tumour.

    As in the thesis' experiment, tumour voxels are replaced by values drawn uniformly from the
    range of the original (here the brain's intensity range); the tumour is ~1% of the volume
    and the brain ~17%, the proportions of BraTS GLI.
    """
    ref, brain, tumour = _brain_phantom((64, 64, 48), 7)
    rng = np.random.default_rng(8)
    pred = ref.copy()
    inside = tumour.astype(bool)
    tissue = ref[brain.astype(bool)]
    pred[inside] = rng.uniform(tissue.min(), tissue.max(), int(inside.sum()))
    whole_map = ssim(pred * brain, ref * brain, profile="torchmetrics")
    brasyn = ssim(pred, ref, mask=brain, profile="brasyn")
    on_tumour = ssim(pred, ref, mask=tumour)
    on_brain = ssim(pred, ref, mask=brain)
    with capsys.disabled():
        print(
            f"\nAppendix A: tumour {inside.mean():.2%} of voxels, brain {brain.mean():.2%}; "
            f"masked-with-zeros whole-map SSIM {whole_map:.4f}, BraSyn {brasyn:.4f}, "
            f"brain-only {on_brain:.4f}, tumour-only {on_tumour:.4f}"
        )
    assert whole_map > 0.98
    assert brasyn > 0.97
    assert on_tumour < 0.4
    assert on_tumour < on_brain < whole_map


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_brasyn_profile_equals_torchmetrics_on_clipped_masked_volumes(dtype: torch.dtype) -> None:
    ref, brain, _ = _brain_phantom((40, 44, 36), 9)
    rng = np.random.default_rng(10)
    pred = np.where(brain > 0, ref + rng.normal(0, 150, ref.shape), 0.0)
    pred[0, 0, 0] = 9000.0  # an outlier the percentile clip must remove
    a = torch.from_numpy(brasyn_normalise(pred) * brain).to(dtype)[None, None]
    b = torch.from_numpy(brasyn_normalise(ref) * brain).to(dtype)[None, None]
    expected = _scalar(tm_ssim(a, b, data_range=1.0, kernel_size=11, sigma=1.5))
    tolerance = 1e-10 if dtype == torch.float64 else 1e-5
    assert ssim(pred, ref, mask=brain, profile="brasyn") == pytest.approx(expected, abs=tolerance)


def test_brasyn_normalise_clips_to_percentiles_and_scales() -> None:
    values = np.arange(1000, dtype=float).reshape(10, 10, 10)
    low, high = np.percentile(values, [0.5, 99.5])
    scaled = brasyn_normalise(values)
    assert scaled.min() == 0.0
    assert scaled.max() == 1.0
    np.testing.assert_allclose(scaled[5, 0, 0], (500 - low) / (high - low))
    with pytest.raises(MetricInputError, match="percentiles"):
        brasyn_normalise(np.ones((12, 12, 12)))


def test_region_masks_partition_the_brain() -> None:
    image = np.zeros((4, 5, 6))
    image[1:3, 1:4, 1:5] = 7.0
    labels = np.zeros(image.shape, dtype=np.uint8)
    labels[2, 2, 2:4] = 2
    labels[0, 0, 0] = 1  # labelled voxel outside the intensity brain still counts as brain
    brain = scoring_mask(image, labels)
    tumour = scoring_mask(image, labels, region="tumour")
    healthy = scoring_mask(image, labels, region="healthy")
    assert int(brain.sum()) == 2 * 3 * 4 + 1
    assert int(tumour.sum()) == 3
    assert np.array_equal(healthy, brain & ~tumour)
    assert np.array_equal(scoring_mask(image), image != 0)
    with pytest.raises(MetricInputError, match="label map"):
        scoring_mask(image, region="tumour")


def test_bad_inputs_raise_specific_errors() -> None:
    pred, ref = _pair((20, 20), 11)
    with pytest.raises(ShapeMismatchError, match="pred"):
        ssim(pred[:, :19], ref)
    bad = pred.copy()
    bad[3, 3] = np.nan
    with pytest.raises(NonFiniteError, match="pred"):
        ssim(bad, ref)
    with pytest.raises(MetricInputError, match="no voxel"):
        ssim(pred, ref, mask=np.zeros(ref.shape, dtype=bool))
    with pytest.raises(NotBinaryError):
        ssim(pred, ref, mask=np.full(ref.shape, 2))
    with pytest.raises(MetricInputError, match="unknown SSIM profile"):
        ssim(pred, ref, profile="bogus")  # type: ignore[arg-type]
    with pytest.raises(MetricInputError, match="takes no mask"):
        ssim(pred, ref, mask=np.ones(ref.shape, dtype=bool), profile="skimage")
    with pytest.raises(MetricInputError, match="region mask"):
        ssim(pred, ref, profile="brasyn")
    with pytest.raises(MetricInputError, match="window"):
        ssim(pred[:8, :8], ref[:8, :8])
    with pytest.raises(MetricInputError, match="odd"):
        ssim(pred, ref, win_size=4)
    with pytest.raises(MetricInputError, match="dynamic range"):
        ssim(pred, np.ones_like(ref))


images = arrays(
    np.float64,
    st.tuples(st.integers(11, 16), st.integers(11, 16)),
    elements=st.floats(0, 1000, allow_nan=False, width=32),
)


@settings(max_examples=40, deadline=None)
@given(images, st.integers(0, 2**32 - 1))
def test_properties_identity_symmetry_bounds(x: Array, seed: int) -> None:
    y = x + np.random.default_rng(seed).normal(0, 100, x.shape)
    assert ssim(x, x, data_range=1000.0) == pytest.approx(1.0, abs=1e-12)
    forward = ssim(x, y, data_range=1000.0)
    assert forward == pytest.approx(ssim(y, x, data_range=1000.0), abs=1e-12)
    local = ssim_map(x, y, data_range=1000.0)
    assert np.all(local <= 1.0 + 1e-12)
    assert np.all(local >= -1.0 - 1e-12)

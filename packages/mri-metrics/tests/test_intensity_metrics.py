"""PSNR, MAE and MSE on a mask: brute force, skimage, and input checks."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage.metrics import peak_signal_noise_ratio

from mri_metrics.errors import MetricInputError, NonFiniteError, NotBinaryError, ShapeMismatchError
from mri_metrics.intensity import mae, mse, psnr

Array = npt.NDArray[np.float64]


def test_whole_image_psnr_equals_skimage() -> None:
    rng = np.random.default_rng(0)
    ref = rng.uniform(0, 4000, (24, 30, 20))
    pred = ref + rng.normal(0, 50, ref.shape)
    for data_range in (4000.0, 1234.5):
        expected = peak_signal_noise_ratio(ref, pred, data_range=data_range)  # type: ignore[no-untyped-call]
        assert psnr(pred, ref, data_range=data_range) == pytest.approx(expected, rel=1e-12)


def test_default_data_range_is_the_reference_range_over_the_mask() -> None:
    ref = np.array([[0.0, 10.0], [30.0, 100.0]])
    pred = ref + np.array([[5.0, 1.0], [-1.0, 0.0]])
    mask = np.array([[False, True], [True, True]])
    # Masked voxels: errors 1, -1, 0 -> MSE 2/3; reference range over the mask 100 - 10.
    assert psnr(pred, ref, mask=mask) == pytest.approx(10 * math.log10(90.0**2 / (2 / 3)))
    assert mae(pred, ref, mask=mask) == pytest.approx(2 / 3)
    assert mse(pred, ref, mask=mask) == pytest.approx(2 / 3)


def test_identical_images_have_infinite_psnr() -> None:
    ref = np.arange(27.0).reshape(3, 3, 3)
    assert psnr(ref, ref) == math.inf


def test_bad_inputs() -> None:
    ref = np.ones((4, 4))
    with pytest.raises(ShapeMismatchError):
        mae(ref[:3], ref)
    with pytest.raises(NonFiniteError, match="pred"):
        mse(np.full((4, 4), np.inf), ref)
    with pytest.raises(NotBinaryError):
        mae(ref, ref, mask=np.full((4, 4), 3))
    with pytest.raises(ShapeMismatchError, match="mask"):
        mae(ref, ref, mask=np.ones((4, 5), dtype=bool))
    with pytest.raises(MetricInputError, match="no voxel"):
        mae(ref, ref, mask=np.zeros((4, 4), dtype=bool))
    with pytest.raises(MetricInputError, match="dynamic range"):
        psnr(ref * 2, ref)
    with pytest.raises(MetricInputError, match="data_range"):
        psnr(ref * 2, ref, data_range=-1.0)


pairs = st.integers(1, 40).flatmap(
    lambda n: st.tuples(
        arrays(np.float64, n, elements=st.floats(-1e4, 1e4, allow_nan=False)),
        arrays(np.float64, n, elements=st.floats(-1e4, 1e4, allow_nan=False)),
        arrays(np.bool_, n),
    )
)


@settings(max_examples=80, deadline=None)
@given(pairs)
def test_against_brute_force_loops(pair: tuple[Array, Array, npt.NDArray[np.bool_]]) -> None:
    pred, ref, mask = pair
    mask[0] = True
    chosen = [i for i in range(mask.size) if mask[i]]
    abs_err = sum(abs(float(pred[i]) - float(ref[i])) for i in chosen) / len(chosen)
    sq_err = sum((float(pred[i]) - float(ref[i])) ** 2 for i in chosen) / len(chosen)
    assert mae(pred, ref, mask=mask) == pytest.approx(abs_err, rel=1e-9, abs=1e-12)
    assert mse(pred, ref, mask=mask) == pytest.approx(sq_err, rel=1e-9, abs=1e-12)
    if sq_err > 0:
        expected = 10 * math.log10(1000.0**2 / sq_err)
        assert psnr(pred, ref, mask=mask, data_range=1000.0) == pytest.approx(expected, rel=1e-9)

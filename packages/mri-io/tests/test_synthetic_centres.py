"""Acquisition centres: noise, thick-slice blur and bias differ as the profiles say."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import ndimage

from mri_io.synthetic import CENTRES, Centre, generate_case
from mri_io.synthetic.centres import acquire, resolve_centre
from mri_io.synthetic.grid import Grid

ONE_MM = np.ones(3)


def _acquire(
    relative: NDArray[np.floating[Any]],
    centre: Centre,
    sequence: str,
    bias: NDArray[np.float32] | None = None,
    seed: int = 0,
) -> NDArray[np.float32]:
    return acquire(
        relative.astype(np.float32),
        sequence,
        centre,
        spacing=ONE_MM,
        bias=np.zeros_like(relative, dtype=np.float32) if bias is None else bias,
        foreground=np.ones(relative.shape, dtype=bool),
        gain=1.0,
        rng=np.random.default_rng(seed),
    )


@pytest.mark.parametrize("name", list(CENTRES))
def test_rician_noise_has_the_profile_sigma(name: str) -> None:
    centre = CENTRES[name]
    sequence = centre.sequences[0]
    flat = np.full((40, 40, 40), 0.6)
    image = _acquire(flat, centre, sequence)
    expected_mean = centre.scale[sequence] * 0.6**centre.gamma
    sigma = centre.noise * centre.scale[sequence]
    # At this SNR a Rician magnitude is Gaussian to within ~sigma^2 / (2 * mean).
    assert image.mean() == pytest.approx(expected_mean + sigma**2 / (2 * expected_mean), rel=2e-3)
    assert image.std() == pytest.approx(sigma, rel=0.03)
    # Pure noise (no signal) gives the Rayleigh mean sigma * sqrt(pi / 2).
    background = _acquire(np.zeros((40, 40, 40)), centre, sequence)
    assert background.mean() == pytest.approx(sigma * np.sqrt(np.pi / 2), rel=0.02)


def _edge_width(profile: NDArray[np.float32]) -> int:
    low, high = profile.min(), profile.max()
    normalised = (profile - low) / (high - low)
    return int(np.count_nonzero((normalised > 0.1) & (normalised < 0.9)))


def test_thick_slices_blur_only_along_the_slice_axis() -> None:
    quiet = {name: Centre(**{**c.__dict__, "noise": 0.0}) for name, c in CENTRES.items()}
    step = np.zeros((40, 40, 40))
    step[20:, :, :] = 1.0
    step[:, 20:, :] += 1.0
    step[:, :, 20:] += 1.0
    clinical = _acquire(step, quiet["clinical-1.5t"], "t2f")
    research = _acquire(step, quiet["research-3t"], "t2f")
    assert _edge_width(clinical[5, 5, :]) >= 4  # 5 mm axial slices: FWHM 5 voxels
    assert _edge_width(research[5, 5, :]) == 0
    assert _edge_width(clinical[:, 5, 5]) == 0
    assert _edge_width(clinical[5, :, 5]) == 0
    # The coronal legacy protocol blurs along axis 1 instead.
    legacy = _acquire(step, quiet["legacy-2d"], "t2f")
    assert _edge_width(legacy[5, :, 5]) >= 3
    assert _edge_width(legacy[5, 5, :]) == 0


def test_bias_field_scales_log_intensity_by_the_profile() -> None:
    rng = np.random.default_rng(1)
    field = rng.standard_normal((30, 30, 30)).astype(np.float32)
    for centre in CENTRES.values():
        quiet = Centre(**{**centre.__dict__, "noise": 0.0})
        image = _acquire(np.full((30, 30, 30), 0.5), quiet, "t1n", bias=field)
        log_ratio = np.log(image / image.mean())
        assert log_ratio.std() == pytest.approx(centre.bias, rel=0.02)


def test_local_centre_drops_sequences() -> None:
    grid = Grid((40, 40, 26), np.diag([-6.0, -6.0, 6.0, 1.0]))
    case = generate_case(0, seed=5, grid=grid, tumour="none", centre="local-t1-t2")
    assert set(case.images) == {"t1n", "t2w"}
    assert case.sequences == ("t1n", "t2w")


def test_unknown_centre_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"unknown centre 'mars'.*research-3t"):
        resolve_centre("mars")


def _high_pass_std(image: NDArray[np.float32], mask: NDArray[np.float32]) -> float:
    residual = image - ndimage.uniform_filter(image, 3)
    return float(residual[mask].std() / np.median(image[mask]))


def test_centres_differ_measurably_on_the_same_anatomy(small_grid: Grid) -> None:
    # The centre is drawn from its own stream, so the same seed and index give the same
    # anatomy and tumour at every centre: differences are due to acquisition only.
    cases = {
        name: generate_case(4, seed=11, grid=small_grid, tumour="gbm", centre=name)
        for name in ("research-3t", "clinical-1.5t", "legacy-2d")
    }
    np.testing.assert_array_equal(cases["research-3t"].labels, cases["legacy-2d"].labels)
    white = ndimage.binary_erosion(cases["research-3t"].tissues == 3, iterations=1)
    noise = {n: _high_pass_std(c.images["t1n"], white) for n, c in cases.items()}
    # Texture (3 % in white matter) is common to both; noise adds 1.7 % vs 4.6 %.
    assert noise["clinical-1.5t"] > 1.3 * noise["research-3t"]
    # Thick slices: without noise (which is isotropic and would mask it), the clinical 5 mm
    # axial FLAIR has less through-plane detail inside the brain than the 1 mm one.
    quiet = {
        name: generate_case(
            4,
            seed=11,
            grid=small_grid,
            tumour="gbm",
            centre=Centre(**{**CENTRES[name].__dict__, "noise": 0.0, "bias": 0.0}),
        )
        for name in ("research-3t", "clinical-1.5t")
    }
    inside = ndimage.binary_erosion(quiet["research-3t"].tissues > 0, iterations=2)

    def through_plane(image: NDArray[np.float32]) -> float:
        axial = np.abs(np.diff(image, axis=2))[inside[:, :, 1:] & inside[:, :, :-1]]
        in_plane = np.abs(np.diff(image, axis=0))[inside[1:] & inside[:-1]]
        return float(axial.mean() / in_plane.mean())

    sharp = through_plane(quiet["research-3t"].images["t2f"])
    assert through_plane(quiet["clinical-1.5t"].images["t2f"]) < 0.85 * sharp
    assert through_plane(quiet["clinical-1.5t"].images["t1n"]) == pytest.approx(
        through_plane(quiet["research-3t"].images["t1n"]), rel=0.05
    )

    # Bias: smooth white-matter intensity variation is larger at the strong-bias centre.
    def smooth_spread(image: NDArray[np.float32]) -> float:
        values = np.log(ndimage.gaussian_filter(image, 2)[white])
        return float(values.std())

    assert smooth_spread(cases["legacy-2d"].images["t1n"]) > 1.5 * smooth_spread(
        cases["research-3t"].images["t1n"]
    )

"""Acquisition centres: what a scanner and protocol do to an ideal image.

A centre is a profile: slice thickness per sequence (thick slices blur along one axis), a bias
field (smooth multiplicative inhomogeneity, from the receive coil), Rician noise (magnitude
images of complex Gaussian noise), a contrast gamma (protocols weight tissues differently) and
an intensity scale (scanner units differ by vendor and software). A centre may also acquire only
some sequences, as local datasets often do. Mixing centres in a cohort gives the domain shift
that multi-centre methods have to survive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from mri_io.sequences import SEQUENCES
from mri_io.synthetic.fields import FloatArray


@dataclass(frozen=True)
class Centre:
    """An acquisition profile.

    ``slice_thickness`` maps a sequence to its slice thickness in mm along ``slice_axis`` (array
    axis: 2 axial, 1 coronal, 0 sagittal); ``bias`` is the standard deviation of the log bias
    field; ``noise`` the Rician noise sigma as a fraction of ``scale``; ``gamma`` the exponent
    applied to relative intensities; ``scale`` the scanner units of relative intensity 1 per
    sequence; ``sequences`` those the centre acquires.
    """

    name: str
    description: str
    slice_thickness: Mapping[str, float]
    slice_axis: int
    bias: float
    noise: float
    gamma: float
    scale: Mapping[str, float]
    sequences: tuple[str, ...] = field(default=SEQUENCES)


CENTRES: Mapping[str, Centre] = {
    centre.name: centre
    for centre in (
        Centre(
            "research-3t",
            "3D isotropic 1 mm protocol, mild bias, low noise",
            {"t1n": 1.0, "t1c": 1.0, "t2w": 1.0, "t2f": 1.0},
            slice_axis=2,
            bias=0.08,
            noise=0.015,
            gamma=1.0,
            scale={"t1n": 900.0, "t1c": 1100.0, "t2w": 1000.0, "t2f": 700.0},
        ),
        Centre(
            "clinical-1.5t",
            "1.5 T clinical routine: 3D T1, 2D axial T2 and FLAIR with 5 mm slices",
            {"t1n": 1.0, "t1c": 1.0, "t2w": 5.0, "t2f": 5.0},
            slice_axis=2,
            bias=0.20,
            noise=0.04,
            gamma=0.9,
            scale={"t1n": 500.0, "t1c": 650.0, "t2w": 1500.0, "t2f": 900.0},
        ),
        Centre(
            "legacy-2d",
            "older scanner: every sequence 2D with 4 mm coronal slices, strong bias",
            {"t1n": 4.0, "t1c": 4.0, "t2w": 4.0, "t2f": 4.0},
            slice_axis=1,
            bias=0.30,
            noise=0.03,
            gamma=1.15,
            scale={"t1n": 2200.0, "t1c": 2600.0, "t2w": 2500.0, "t2f": 1800.0},
        ),
        Centre(
            "local-t1-t2",
            "local dataset with T1 and T2 only, 3 mm sagittal slices",
            {"t1n": 3.0, "t1c": 3.0, "t2w": 3.0, "t2f": 3.0},
            slice_axis=0,
            bias=0.15,
            noise=0.025,
            gamma=1.05,
            scale={"t1n": 1200.0, "t1c": 1400.0, "t2w": 1300.0, "t2f": 1000.0},
            sequences=("t1n", "t2w"),
        ),
    )
}


def resolve_centre(centre: str | Centre) -> Centre:
    """A :class:`Centre` from itself or its name in :data:`CENTRES`."""
    if isinstance(centre, Centre):
        return centre
    try:
        return CENTRES[centre]
    except KeyError:
        raise ValueError(
            f"unknown centre {centre!r}: expected one of {', '.join(CENTRES)}"
        ) from None


def acquire(
    relative: FloatArray,
    sequence: str,
    centre: Centre,
    *,
    spacing: NDArray[np.float64],
    bias: FloatArray,
    foreground: NDArray[np.bool_],
    gain: float,
    rng: np.random.Generator,
) -> FloatArray:
    """Scanner image (float32, scanner units, 0 outside ``foreground``) of a relative image.

    ``bias`` is a unit-variance smooth field shared by the sequences of a case (one coil);
    ``gain`` a per-case scale jitter. Order: contrast gamma, slice-thickness blur, bias, scale,
    Rician noise, skull-stripping mask.
    """
    image = np.power(np.maximum(relative, 0.0), np.float32(centre.gamma), dtype=np.float32)
    thickness = centre.slice_thickness[sequence]
    voxel = float(spacing[centre.slice_axis])
    if thickness > voxel:
        # Gaussian slice profile whose FWHM is the slice thickness, on top of the voxel size.
        sigma = np.sqrt(thickness**2 - voxel**2) / (2 * np.sqrt(2 * np.log(2))) / voxel
        image = np.asarray(
            ndimage.gaussian_filter1d(image, sigma, axis=centre.slice_axis, mode="nearest"),
            dtype=np.float32,
        )
    image *= np.exp(np.float32(centre.bias) * bias)
    image *= np.float32(centre.scale[sequence] * gain)
    sigma_noise = np.float32(centre.noise * centre.scale[sequence] * gain)
    real = image + sigma_noise * rng.standard_normal(image.shape, dtype=np.float32)
    imaginary = sigma_noise * rng.standard_normal(image.shape, dtype=np.float32)
    magnitude: FloatArray = np.sqrt(real * real + imaginary * imaginary)
    magnitude[~foreground] = 0.0
    return magnitude

"""Cross-centre shifts: what another scanner and protocol would have done to a case.

A :class:`Shift` changes the available sequences of a case the way a different centre would:
scanner units (``scale``), contrast weighting (``gamma``, MONAI's ``AdjustContrast`` formula),
receive-coil inhomogeneity (``bias``, one smooth multiplicative field per case shared by its
sequences, as MONAI's ``RandBiasField``), Rician noise (``noise``, a fraction of the
foreground's 99th percentile, as MONAI's ``RandRicianNoise``) and thick slices
(``slice_thickness`` in mm along ``slice_axis``, a Gaussian slice profile whose FWHM is the
thickness). The operations are written here with numpy and scipy so the core of mri-bench does
not need MONAI; the random parts are drawn from the scenario's seed and the case id, so a shifted
case is the same in every run. The background stays 0 (skull-stripped data).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

FloatArray = npt.NDArray[np.floating[Any]]
#: Control points per axis of the smooth bias field.
BIAS_POINTS = 4


@dataclass(frozen=True)
class Shift:
    """Changes another centre makes; the identity when every field has its default."""

    scale: float = 1.0
    gamma: float = 1.0
    bias: float = 0.0
    noise: float = 0.0
    slice_thickness: float = 0.0
    slice_axis: int = 2

    def __post_init__(self) -> None:
        problems = []
        if self.scale <= 0:
            problems.append(f"scale must be > 0, got {self.scale}")
        if self.gamma <= 0:
            problems.append(f"gamma must be > 0, got {self.gamma}")
        if self.bias < 0 or self.noise < 0 or self.slice_thickness < 0:
            problems.append("bias, noise and slice_thickness must be >= 0")
        if self.slice_axis not in (0, 1, 2):
            problems.append(f"slice_axis must be 0, 1 or 2, got {self.slice_axis}")
        if problems:
            raise ValueError("; ".join(problems))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], scenario: str) -> Shift:
        extra = sorted(set(data) - set(cls.__dataclass_fields__))
        if extra:
            raise ValueError(f"scenario {scenario!r}: unknown shift fields {extra}")
        try:
            return cls(**{key: type(getattr(cls(), key))(value) for key, value in data.items()})
        except ValueError as exc:
            raise ValueError(f"scenario {scenario!r}: {exc}") from None

    def apply(
        self,
        images: Mapping[str, FloatArray],
        spacing: tuple[float, float, float],
        rng: np.random.Generator,
    ) -> dict[str, npt.NDArray[np.float32]]:
        """The shifted images (float32), in the order contrast, blur, bias, scale, noise."""
        if not images:
            return {}
        shape = next(iter(images.values())).shape
        field = bias_field(shape, rng) if self.bias > 0 else None
        shifted = {}
        for key in sorted(images):
            image = np.asarray(images[key], dtype=np.float64)
            foreground = image > 0
            out = adjust_contrast(image, self.gamma) if self.gamma != 1 else image.copy()
            voxel = spacing[self.slice_axis]
            if self.slice_thickness > voxel:
                fwhm = np.sqrt(self.slice_thickness**2 - voxel**2) / voxel
                sigma = fwhm / (2 * np.sqrt(2 * np.log(2)))
                out = ndimage.gaussian_filter1d(out, sigma, axis=self.slice_axis, mode="nearest")
            if field is not None:
                out *= np.exp(self.bias * field)
            out *= self.scale
            if self.noise > 0 and foreground.any():
                sigma_noise = self.noise * float(np.percentile(out[foreground], 99))
                real = out + sigma_noise * rng.standard_normal(shape)
                imaginary = sigma_noise * rng.standard_normal(shape)
                out = np.sqrt(real * real + imaginary * imaginary)
            out[~foreground] = 0.0
            shifted[key] = out.astype(np.float32)
        return shifted


def adjust_contrast(image: FloatArray, gamma: float) -> npt.NDArray[np.float64]:
    """MONAI's ``AdjustContrast``: rescale to [0, 1] over the image's range, raise to
    ``gamma``, rescale back."""
    values = np.asarray(image, dtype=np.float64)
    low = float(values.min())
    span = float(values.max()) - low
    scaled: npt.NDArray[np.float64] = ((values - low) / (span + 1e-7)) ** gamma * span + low
    return scaled


def bias_field(shape: tuple[int, ...], rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """A smooth zero-mean, unit-variance field: cubic interpolation of a coarse random grid."""
    coarse = rng.standard_normal((BIAS_POINTS,) * len(shape))
    factors = [n / BIAS_POINTS for n in shape]
    field = np.asarray(ndimage.zoom(coarse, factors, order=3, mode="nearest"), dtype=np.float64)
    field = field[tuple(slice(0, n) for n in shape)]
    std = float(field.std())
    unit: npt.NDArray[np.float64] = (field - field.mean()) / (std if std > 0 else 1.0)
    return unit

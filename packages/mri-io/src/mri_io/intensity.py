"""Intensity normalisation of MRI volumes and its exact inverse.

MR intensities are unbounded and a few voxels per volume are extreme outliers (BraSyn25's T2w
training maximum is 4.5 million against a 99.5th percentile of 8233), so every scheme here does
the same three things first, as in the BraSyn25 HF-GAN thesis (ch. 4.2):

1. negatives are acquisition artefacts: they are clamped to 0;
2. the foreground is the voxels that are still non-zero; background (0) never enters a
   statistic, because it dominates the volume (about 82 % of a BraTS case);
3. the foreground is clipped at its 99.5th percentile (per dataset or per volume).

Then one affine map ``y = (x - offset) / scale`` sends the foreground to the model's range and
the background to a constant: -1 for the signed schemes (the same -1 that marks a missing
sequence at the generator's input), 0 for the ``[0, 255]`` scheme. Because every scheme is that
affine map, the inverse is the same for all of them: ``x = y * scale + offset``, clamp negatives
to 0, background back to 0. :class:`NormalisationParams` records the four numbers the inverse
needs and serialises to JSON, so a volume normalised today can be de-normalised exactly later.

Dataset statistics are computed by :class:`StatsAccumulator` in two passes over the cohort,
with an exact percentile and exact float64 moments (see its docstring for why two passes).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mri_io.atomic import atomic_write_text
from mri_io.errors import StatsFileError

__all__ = [
    "BACKGROUND",
    "BRASYN25",
    "DEFAULT_PERCENTILE",
    "FOREGROUND_RULE",
    "PRESETS",
    "SCHEMES",
    "STATS_FORMAT",
    "IntensityStats",
    "NormalisationParams",
    "Normalised",
    "Normaliser",
    "Scheme",
    "StatsAccumulator",
    "dataset_stats",
    "foreground_percentile",
    "load_stats",
    "missing_placeholder",
    "save_stats",
]

#: Percentile of the foreground at which intensities are clipped (thesis Table 4.1).
DEFAULT_PERCENTILE = 99.5

#: How the statistics choose their voxels; stored with every statistic so it is never guessed.
FOREGROUND_RULE = "voxels > 0 after clamping negatives to 0"

#: Value that background voxels and missing sequences take after a signed normalisation
#: (``mri_io.NORMALISED_BACKGROUND`` at the top level; every package's models use it).
BACKGROUND = -1.0

Scheme = Literal["zscore-dataset", "zscore-volume", "minmax-1-1", "uint8-0-255"]

#: Every normalisation scheme, in the order the command line lists them.
SCHEMES: tuple[Scheme, ...] = get_args(Scheme)

#: Version of the JSON layout written by :func:`save_stats`.
STATS_FORMAT = 1


@dataclass(frozen=True)
class IntensityStats:
    """Dataset-wide statistics of one sequence, enough to z-score and to invert it exactly.

    ``mean`` and ``std`` (population, ``ddof=0``) are taken over the foreground after clipping
    at ``clip``, which is the ``percentile``-th percentile of the foreground before clipping.
    ``count`` is the number of foreground voxels they summarise (0 for published presets whose
    count is unknown).
    """

    clip: float
    mean: float
    std: float
    percentile: float = DEFAULT_PERCENTILE
    foreground: str = FOREGROUND_RULE
    count: int = 0

    def __post_init__(self) -> None:
        values = (self.clip, self.mean, self.std, self.percentile)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"intensity statistics must be finite, got {self}")
        if self.clip < 0 or self.std < 0 or not 0 <= self.percentile <= 100 or self.count < 0:
            raise ValueError(f"intensity statistics out of range: {self}")


def _brasyn25(clip: float, mean: float, std: float) -> IntensityStats:
    return IntensityStats(clip=clip, mean=mean, std=std)


#: BraSyn25 training-set statistics (GLI + MET) of the HF-GAN thesis, Tables 4.1 and 4.2.
BRASYN25: Mapping[str, IntensityStats] = {
    "t1c": _brasyn25(8664.0, 1066.34, 1301.70),
    "t1n": _brasyn25(7315.0, 781.22, 944.34),
    "t2f": _brasyn25(8842.0, 510.99, 769.42),
    "t2w": _brasyn25(8233.0, 673.44, 804.39),
}

#: Named statistics presets, as the ``--preset`` option of ``mri-io normalise`` offers them.
PRESETS: Mapping[str, Mapping[str, IntensityStats]] = {"brasyn25": BRASYN25}


def save_stats(stats: Mapping[str, IntensityStats], path: str | PathLike[str]) -> Path:
    """Write per-sequence statistics as JSON (atomically) and return the path written."""
    document = {
        "format": STATS_FORMAT,
        "sequences": {name: asdict(value) for name, value in sorted(stats.items())},
    }
    target = Path(path)
    atomic_write_text(target, json.dumps(document, indent=2) + "\n")
    return target


def load_stats(path: str | PathLike[str]) -> dict[str, IntensityStats]:
    """Read statistics written by :func:`save_stats`; bad files raise :class:`StatsFileError`."""
    source = Path(path)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StatsFileError(source, "statistics file does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StatsFileError(source, f"cannot read statistics JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != STATS_FORMAT:
        raise StatsFileError(source, f"not an mri-io statistics file (format {STATS_FORMAT})")
    sequences = document.get("sequences")
    if not isinstance(sequences, dict) or not sequences:
        raise StatsFileError(source, "no per-sequence statistics under 'sequences'")
    try:
        return {str(name): _stats_from_json(fields) for name, fields in sequences.items()}
    except KeyError as exc:
        raise StatsFileError(source, f"invalid statistics (missing field {exc})") from None
    except (TypeError, ValueError) as exc:
        raise StatsFileError(source, f"invalid statistics ({exc})") from None


def _stats_from_json(fields: Any) -> IntensityStats:
    if not isinstance(fields, dict):
        raise TypeError(f"expected an object, got {fields!r}")
    return IntensityStats(
        clip=float(fields["clip"]),
        mean=float(fields["mean"]),
        std=float(fields["std"]),
        percentile=float(fields.get("percentile", DEFAULT_PERCENTILE)),
        foreground=str(fields.get("foreground", FOREGROUND_RULE)),
        count=int(fields.get("count", 0)),
    )


def _as_float64(array: ArrayLike) -> NDArray[np.float64]:
    values = np.asarray(array, dtype=np.float64)
    _check_finite(values)
    return values


def _as_real(array: ArrayLike) -> NDArray[np.floating[Any]]:
    """``array`` in the narrowest float type that holds it exactly (float32 or float64)."""
    values = np.asarray(array)
    real: NDArray[np.floating[Any]] = values.astype(
        np.result_type(values.dtype, np.float32), copy=False
    )
    _check_finite(real)
    return real


def _check_finite(values: NDArray[np.floating[Any]]) -> None:
    if not np.isfinite(values).all():
        raise ValueError("intensities must be finite (found NaN or infinity)")


def foreground_percentile(array: ArrayLike, percentile: float = DEFAULT_PERCENTILE) -> float:
    """The ``percentile``-th percentile (numpy's linear rule) of the positive voxels; 0 if none."""
    values = _as_real(array)
    foreground = values[values > 0].astype(np.float64)
    return float(np.percentile(foreground, percentile)) if foreground.size else 0.0


@dataclass(frozen=True)
class NormalisationParams:
    """What the inverse of one normalised volume needs: ``y = (min(x, clip) - offset) / scale``.

    ``background`` is the value the background (and a missing sequence) takes.
    """

    scheme: Scheme
    clip: float
    offset: float
    scale: float
    background: float

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_json` reads it back."""
        return asdict(self)

    @classmethod
    def of_dataset(cls, stats: IntensityStats) -> NormalisationParams:
        """The ``zscore-dataset`` map of ``stats``: the same for every volume of the sequence,
        so a generated one is de-normalised with exactly the map its inputs were z-scored with
        (a zero ``std`` divides by 1 both ways)."""
        return cls("zscore-dataset", stats.clip, stats.mean, _nonzero(stats.std), BACKGROUND)

    @classmethod
    def from_json(cls, fields: Mapping[str, Any]) -> NormalisationParams:
        """Parameters from :meth:`to_json` output; unknown schemes raise ``ValueError``."""
        scheme = fields["scheme"]
        if scheme not in SCHEMES:
            raise ValueError(f"unknown normalisation scheme {scheme!r}")
        return cls(
            scheme=scheme,
            clip=float(fields["clip"]),
            offset=float(fields["offset"]),
            scale=float(fields["scale"]),
            background=float(fields["background"]),
        )


@dataclass(frozen=True)
class Normalised:
    """A normalised volume, the parameters of its map and the foreground it was computed on."""

    data: NDArray[np.float32]
    params: NormalisationParams
    foreground: NDArray[np.bool_]


@dataclass(frozen=True)
class Normaliser:
    """One normalisation scheme for one sequence; ``forward`` and ``inverse`` are exact inverses.

    - ``zscore-dataset``: clip at ``stats.clip``, z-score with ``stats.mean``/``stats.std``;
      background -1 (thesis ch. 4.2).
    - ``zscore-volume``: the same with this volume's own percentile, mean and std.
    - ``minmax-1-1``: ``[0, clip]`` to ``[-1, 1]`` (original HF-GAN); 0 maps to -1 itself.
    - ``uint8-0-255``: ``[0, clip]`` to ``[0, 255]`` (UMMGAT), as float32; background 0.
      Rounding to ``uint8`` is left to the caller because it is not invertible.

    The min-max schemes clip at ``stats.clip`` when ``stats`` is given, else at the volume's own
    percentile. A volume without foreground (or a constant one) is mapped without dividing by 0.
    """

    scheme: Scheme
    stats: IntensityStats | None = None
    percentile: float = DEFAULT_PERCENTILE

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {self.scheme!r}; choose one of {SCHEMES}")
        if self.scheme == "zscore-dataset" and self.stats is None:
            raise ValueError("the zscore-dataset scheme needs dataset statistics")
        if self.scheme == "zscore-volume" and self.stats is not None:
            raise ValueError("the zscore-volume scheme takes no dataset statistics")

    def params_for(self, array: ArrayLike) -> NormalisationParams:
        """The affine map this scheme applies to ``array`` (which it only reads)."""
        if self.scheme == "zscore-dataset":
            assert self.stats is not None
            return NormalisationParams.of_dataset(self.stats)
        values = _as_real(array)
        foreground = values[values > 0].astype(np.float64)
        if self.stats is not None:
            clip = self.stats.clip
        else:
            clip = float(np.percentile(foreground, self.percentile)) if foreground.size else 0.0
        if self.scheme == "zscore-volume":
            clipped = np.minimum(foreground, clip)
            mean = float(clipped.mean()) if clipped.size else 0.0
            std = float(clipped.std()) if clipped.size else 0.0
            return NormalisationParams(self.scheme, clip, mean, _nonzero(std), BACKGROUND)
        half = _nonzero(clip / 2.0)
        if self.scheme == "minmax-1-1":
            return NormalisationParams(self.scheme, clip, half, half, BACKGROUND)
        return NormalisationParams(self.scheme, clip, 0.0, _nonzero(clip / 255.0), 0.0)

    def forward(self, array: ArrayLike) -> Normalised:
        """Clamp negatives, clip, map the foreground affinely and set the background (float32).

        Arithmetic runs in float32 for inputs that float32 holds exactly (float32, 8- and
        16-bit integers, the usual NIfTI storage) and in float64 otherwise; the extra rounding
        of float32 arithmetic is a few units in the last place, below what storing the result
        as float32 costs anyway, and it halves the time and memory of a 240x240x155 volume.
        """
        values = _as_real(array)
        params = self.params_for(values)
        foreground = values > 0
        data = np.minimum(values, params.clip)
        data -= params.offset
        data /= params.scale
        np.copyto(data, params.background, where=~foreground)
        return Normalised(data.astype(np.float32, copy=False), params, foreground)

    @staticmethod
    def inverse(
        array: ArrayLike, params: NormalisationParams, foreground: ArrayLike
    ) -> NDArray[np.float32]:
        """De-normalise, clamp negatives to 0 and set everything outside ``foreground`` to 0.

        ``foreground`` is the brain mask: :attr:`Normalised.foreground` for the exact inverse of
        :meth:`forward`, or :func:`mri_io.slicing.background_majority` negated for a generated
        sequence. The result equals the clipped input up to float32 rounding.
        """
        values = np.asarray(array, dtype=np.float64)
        mask = np.asarray(foreground, dtype=bool)
        if mask.shape != values.shape:
            raise ValueError(f"foreground mask {mask.shape} does not match volume {values.shape}")
        restored = np.maximum(values * params.scale + params.offset, 0.0)
        return np.where(mask, restored, 0.0).astype(np.float32)


def _nonzero(scale: float) -> float:
    """A divisor that is never 0: a constant or empty foreground keeps its values unscaled."""
    return scale if scale > 0 else 1.0


def missing_placeholder(shape: tuple[int, ...], background: float = BACKGROUND) -> NDArray[Any]:
    """The volume that stands in for a missing sequence: background everywhere (float32)."""
    return np.full(shape, background, dtype=np.float32)


#: Bits of a float64 dropped to form a histogram bin: sign, 11 exponent bits and the top 7
#: mantissa bits remain, so a bin spans at most 2**-7 (0.8 %) of its values' magnitude.
_BIN_SHIFT = 45


def _bins(values: NDArray[np.float64]) -> NDArray[np.int64]:
    """Monotonic histogram bin of positive float64 values, from their IEEE-754 bit pattern."""
    return (values.view(np.int64) >> _BIN_SHIFT).astype(np.int64)


class StatsAccumulator:
    """Exact dataset statistics of one sequence, streamed over a cohort in two passes.

    The z-score statistics are taken *after* clipping at the percentile, so they cannot be
    known before the percentile is: any exact method needs two looks at the data, and this class
    makes both look cheap and bounded in memory:

    - **Pass 1** (:meth:`add_first_pass`) counts the foreground in a histogram whose bins are
      the top 19 bits of each value's float64 bit pattern (monotonic for positive numbers, no
      range needed in advance, each bin 0.8 % wide).
    - Between the passes the bins holding the two order statistics that numpy's linear
      percentile interpolates between are known. **Pass 2** (:meth:`add_second_pass`) keeps the
      values inside those bins (a sliver of the cohort), merges the exact float64 moments of the
      values below them (Chan et al.'s parallel update of mean and sum of squared deviations),
      and only counts the values above them, which all clip to the percentile.
    - :meth:`result` selects the exact order statistics from the kept values, clips them, and
      merges their moments and those of the clipped tail into the total.

    The percentile equals ``np.percentile`` of the concatenated foreground bit for bit; the mean
    and std equal numpy's on the clipped concatenation up to float64 rounding.
    """

    def __init__(self, percentile: float = DEFAULT_PERCENTILE) -> None:
        if not 0 <= percentile <= 100:
            raise ValueError(f"percentile must lie in [0, 100], got {percentile}")
        self.percentile = percentile
        self._histogram: dict[int, int] = {}
        self._count = 0
        self._window: tuple[int, int] | None = None
        self._second_count = 0
        self._below = (0, 0.0, 0.0)
        self._above = 0
        self._kept: list[NDArray[np.float64]] = []

    @staticmethod
    def _foreground(array: ArrayLike) -> NDArray[np.float64]:
        values = _as_float64(array).ravel()
        return values[values > 0]

    def add_first_pass(self, array: ArrayLike) -> None:
        """Count one volume's foreground; call for every volume before the second pass."""
        if self._window is not None:
            raise RuntimeError("the second pass has started; first-pass volumes are closed")
        foreground = self._foreground(array)
        if not foreground.size:
            return
        bins, counts = np.unique(_bins(foreground), return_counts=True)
        for key, count in zip(bins.tolist(), counts.tolist(), strict=True):
            self._histogram[key] = self._histogram.get(key, 0) + count
        self._count += int(foreground.size)

    def _order_window(self) -> tuple[int, int]:
        """Bins holding the two order statistics the percentile interpolates between."""
        low_rank, high_rank, _ = _order_ranks(self._count, self.percentile)
        keys = sorted(self._histogram)
        cumulative = np.cumsum([self._histogram[key] for key in keys])
        low = keys[int(np.searchsorted(cumulative, low_rank, side="right"))]
        high = keys[int(np.searchsorted(cumulative, high_rank, side="right"))]
        return low, high

    @property
    def has_foreground(self) -> bool:
        """Whether the first pass has seen any foreground voxel (else there is no statistic)."""
        return self._count > 0

    def add_second_pass(self, array: ArrayLike) -> None:
        """Visit one volume again (same volumes, any order) to gather the clipped moments."""
        if self._window is None:
            if not self._count:
                raise ValueError("the first pass saw no foreground voxel")
            self._window = self._order_window()
        low, high = self._window
        foreground = self._foreground(array)
        self._second_count += int(foreground.size)
        bins = _bins(foreground)
        below = foreground[bins < low]
        if below.size:
            self._below = _merge(self._below, _moments(below))
        self._above += int(np.count_nonzero(bins > high))
        self._kept.append(foreground[(bins >= low) & (bins <= high)])

    def result(self) -> IntensityStats:
        """Percentile, clipped mean and std; raises if the two passes saw different data."""
        if self._window is None:
            raise RuntimeError("call add_second_pass for every volume before result()")
        if self._second_count != self._count:
            raise ValueError(
                f"the passes disagree: {self._count} foreground voxels in the first pass, "
                f"{self._second_count} in the second"
            )
        kept = np.sort(np.concatenate(self._kept))
        low_rank, high_rank, weight = _order_ranks(self._count, self.percentile)
        below_count = self._below[0]
        clip = _lerp(kept[low_rank - below_count], kept[high_rank - below_count], weight)
        moments = _merge(self._below, _moments(np.minimum(kept, clip)))
        moments = _merge(moments, (self._above, clip, 0.0))
        count, mean, squares = moments
        return IntensityStats(
            clip=clip,
            mean=mean,
            std=math.sqrt(squares / count),
            percentile=self.percentile,
            count=count,
        )


def _order_ranks(count: int, percentile: float) -> tuple[int, int, float]:
    """Order statistics and weight of numpy's default ("linear") percentile of ``count`` values.

    Written with numpy's own floating-point steps (``(n - 1) * (q / 100)``) so that the result
    agrees with ``np.percentile`` bit for bit, not merely to rounding.
    """
    rank = (count - 1) * (percentile / 100.0)
    low = min(math.floor(rank), count - 1)
    return low, min(low + 1, count - 1), rank - low


def _lerp(low: float, high: float, weight: float) -> float:
    """numpy's interpolation step, including its switch of end point at ``weight >= 0.5``."""
    difference = high - low
    return float(high - difference * (1 - weight) if weight >= 0.5 else low + difference * weight)


def _moments(values: NDArray[np.float64]) -> tuple[int, float, float]:
    """Count, mean and sum of squared deviations of a non-empty float64 array (two-pass)."""
    mean = float(values.mean())
    return int(values.size), mean, float(np.square(values - mean).sum())


def _merge(a: tuple[int, float, float], b: tuple[int, float, float]) -> tuple[int, float, float]:
    """Chan, Golub and LeVeque's pairwise merge of (count, mean, M2)."""
    count_a, mean_a, m2_a = a
    count_b, mean_b, m2_b = b
    if not count_b:
        return a
    if not count_a:
        return b
    count = count_a + count_b
    delta = mean_b - mean_a
    mean = mean_a + delta * count_b / count
    return count, mean, m2_a + m2_b + delta * delta * count_a * count_b / count


def dataset_stats(
    volumes: Iterable[Mapping[str, ArrayLike]],
    revisit: Iterable[Mapping[str, ArrayLike]],
    percentile: float = DEFAULT_PERCENTILE,
) -> dict[str, IntensityStats]:
    """Per-sequence statistics of a cohort given as two iterations over ``{sequence: array}``.

    ``volumes`` and ``revisit`` must yield the same cases (e.g. two calls of a loader generator);
    sequences absent from a case are simply not counted.
    """
    accumulators: dict[str, StatsAccumulator] = {}
    for case in volumes:
        for name, array in case.items():
            accumulators.setdefault(name, StatsAccumulator(percentile)).add_first_pass(array)
    for case in revisit:
        for name, array in case.items():
            accumulators[name].add_second_pass(array)
    return {name: accumulator.result() for name, accumulator in accumulators.items()}

"""What completion strategies learn from training cases: sequence correlations and histograms.

The copy baselines need two facts about complete training data: which available sequence is
most correlated with a missing one (signed Pearson correlation over brain voxels, averaged over
cases), and what the missing sequence's intensities typically look like (foreground quantiles
after the per-volume [0, 1] scaling), so a copied sequence can be matched to it. Both are
stored as JSON next to the benchmark results so a run can be audited and repeated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mri_io.atomic import atomic_write_text
from mri_io.sequences import SEQUENCES

FloatArray = npt.NDArray[np.floating]
#: Quantile levels kept per sequence for histogram matching.
QUANTILE_LEVELS = np.linspace(0.0, 1.0, 101)


def unit_scale(image: FloatArray, foreground: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """Clip to the 0.5–99.5 percentiles of the foreground and scale to [0, 1] (BraSyn's
    evaluation scaling); background stays 0."""
    values = image[foreground].astype(np.float64)
    out = np.zeros(image.shape, dtype=np.float64)
    if values.size == 0:
        return out
    low, high = np.percentile(values, [0.5, 99.5])
    scale = high - low if high > low else 1.0
    out[foreground] = np.clip((values - low) / scale, 0.0, 1.0)
    return out


@dataclass
class SequenceReference:
    """Correlations between sequences and per-sequence foreground quantiles."""

    correlation: dict[str, dict[str, float]]
    quantiles: dict[str, list[float]]
    n_cases: int
    levels: list[float] = field(default_factory=lambda: QUANTILE_LEVELS.tolist())

    def most_correlated(self, target: str, available: Iterable[str], *, absolute: bool) -> str:
        """The available sequence with the highest (signed or absolute) correlation."""
        candidates = [s for s in available if s != target]
        if not candidates:
            raise ValueError(f"no available sequence to complete {target!r} from")

        def strength(source: str) -> float:
            value = self.correlation[target][source]
            return abs(value) if absolute else value

        return max(candidates, key=strength)

    def to_json(self) -> str:
        return json.dumps(
            {
                "correlation": self.correlation,
                "quantiles": self.quantiles,
                "levels": self.levels,
                "n_cases": self.n_cases,
            },
            indent=2,
        )

    def digest(self) -> str:
        """SHA-256 of the JSON form: identifies the reference in result provenance."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    def save(self, path: str | Path) -> Path:
        atomic_write_text(Path(path), self.to_json() + "\n")
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> SequenceReference:
        data = json.loads(Path(path).read_text())
        return cls(
            correlation=data["correlation"],
            quantiles=data["quantiles"],
            n_cases=int(data["n_cases"]),
            levels=data["levels"],
        )


def estimate_reference(cases: Iterable[Mapping[str, FloatArray]]) -> SequenceReference:
    """Estimate correlations and quantiles from complete training cases (sequence -> array).

    Correlations are Pearson coefficients over the brain (voxels non-zero in any sequence) of
    each case, averaged over cases with Fisher's z so that no case dominates.
    """
    z_sums = dict.fromkeys(combinations(SEQUENCES, 2), 0.0)
    quantile_sums = {s: np.zeros(QUANTILE_LEVELS.size) for s in SEQUENCES}
    n_cases = 0
    for images in cases:
        missing = [s for s in SEQUENCES if s not in images]
        if missing:
            raise ValueError(f"reference cases must be complete; missing {missing}")
        foreground = np.any(np.stack([images[s] > 0 for s in SEQUENCES]), axis=0)
        flat = {s: images[s][foreground].astype(np.float64) for s in SEQUENCES}
        for a, b in z_sums:
            r = float(np.corrcoef(flat[a], flat[b])[0, 1])
            z_sums[a, b] += float(np.arctanh(np.clip(r, -0.999999, 0.999999)))
        for s in SEQUENCES:
            scaled = unit_scale(images[s], foreground)[foreground]
            quantile_sums[s] += np.quantile(scaled, QUANTILE_LEVELS)
        n_cases += 1
    if n_cases == 0:
        raise ValueError("no reference cases given")
    correlation = {s: {s: 1.0} for s in SEQUENCES}
    for (a, b), z in z_sums.items():
        r = float(np.tanh(z / n_cases))
        correlation[a][b] = correlation[b][a] = r
    quantiles = {s: (quantile_sums[s] / n_cases).tolist() for s in SEQUENCES}
    return SequenceReference(correlation=correlation, quantiles=quantiles, n_cases=n_cases)

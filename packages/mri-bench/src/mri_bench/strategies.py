"""Completion strategies: how the missing sequences of a case are filled before segmentation.

A strategy sees only the available sequences of a case, the centre it was acquired at (and what
it learnt from complete training cases) and returns an image for every missing one. A strategy
may also return some of the available sequences: those *replace* the inputs the segmenter sees
(harmonisation into another centre's domains); image quality is still scored only for the
missing ones, against the real images where they exist. The copy and fill baselines below
ignore the centre and never replace an input. The segmenter z-scores each
channel on its own foreground, so a completion only has to be right up to a positive affine
change of intensities; the copy baselines therefore return images on whatever scale is
convenient. Generators from mri-gen plug in through :mod:`mri_bench.generators`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from mri_bench.reference import SequenceReference, unit_scale
from mri_io.case import Case

FloatArray = npt.NDArray[np.floating[Any]]
#: Sequence -> image: every missing sequence, plus any available one the strategy replaces.
Completion = dict[str, npt.NDArray[np.float32]]
#: The centre of a case whose data does not say where it was acquired.
UNKNOWN_CENTRE = "unknown"


class CompletionStrategy(Protocol):
    """Fills the missing sequences of a case from its available ones."""

    name: str

    def complete(
        self, case: Case, missing: Sequence[str], *, centre: str = UNKNOWN_CENTRE
    ) -> Completion:
        """Arrays of the case's shape for every sequence in ``missing`` (and for the available
        sequences the strategy replaces); ``centre`` is where the case was acquired."""
        ...

    def provenance(self) -> dict[str, str]:
        """What identifies this strategy's behaviour (parameters, checkpoint hashes)."""
        ...


def arrays(case: Case) -> dict[str, npt.NDArray[np.float32]]:
    """The case's available images as float32 arrays."""
    return {key: np.asarray(volume.data, dtype=np.float32) for key, volume in case.images.items()}


def foreground(available: Mapping[str, FloatArray]) -> npt.NDArray[np.bool_]:
    """Voxels non-zero in any available sequence (the brain of skull-stripped data)."""
    mask: npt.NDArray[np.bool_] = np.any(np.stack([im > 0 for im in available.values()]), axis=0)
    return mask


def require_available(case: Case) -> None:
    """Refuse a case with nothing to complete from."""
    if not case.images:
        raise ValueError(f"case {case.case_id} has no available sequence to complete from")


@dataclass
class CopyMostCorrelated:
    """Copy the available sequence with the highest signed correlation to the target.

    This is the baseline of the UMMGAT paper. Where contrasts invert (t2w against t1n) the
    most correlated sequence can still be a poor stand-in: that is what it measures.
    """

    reference: SequenceReference
    name: str = "copy"

    def complete(
        self, case: Case, missing: Sequence[str], *, centre: str = UNKNOWN_CENTRE
    ) -> Completion:
        require_available(case)
        available = arrays(case)
        return {
            target: available[self.reference.most_correlated(target, available, absolute=False)]
            for target in missing
        }

    def provenance(self) -> dict[str, str]:
        return {"reference": self.reference.digest()}


@dataclass
class CopyMatched:
    """A stronger, honest baseline: copy the sequence with the highest |correlation|, invert
    it where the correlation is negative, and match its brain histogram to the target's
    typical histogram from training data. Output is on the [0, 1] evaluation scale."""

    reference: SequenceReference
    name: str = "copy-matched"

    def complete(
        self, case: Case, missing: Sequence[str], *, centre: str = UNKNOWN_CENTRE
    ) -> Completion:
        require_available(case)
        available = arrays(case)
        return {target: self._one(target, available) for target in missing}

    def _one(self, target: str, available: Mapping[str, FloatArray]) -> npt.NDArray[np.float32]:
        source = self.reference.most_correlated(target, available, absolute=True)
        brain = foreground(available)
        scaled = unit_scale(available[source], brain)
        if self.reference.correlation[target][source] < 0:
            scaled[brain] = 1.0 - scaled[brain]
        values = scaled[brain]
        ranks = np.argsort(np.argsort(values, kind="stable"), kind="stable")
        levels = (ranks + 0.5) / max(values.size, 1)
        out = np.zeros(scaled.shape, dtype=np.float32)
        out[brain] = np.interp(levels, self.reference.levels, self.reference.quantiles[target])
        return out

    def provenance(self) -> dict[str, str]:
        return {"reference": self.reference.digest()}


@dataclass
class ZeroFill:
    """The missing sequence is all zeros: what a segmenter sees when nothing is done."""

    name: str = "zero"

    def complete(
        self, case: Case, missing: Sequence[str], *, centre: str = UNKNOWN_CENTRE
    ) -> Completion:
        require_available(case)
        shape = next(iter(case.images.values())).shape
        return {target: np.zeros(shape, dtype=np.float32) for target in missing}

    def provenance(self) -> dict[str, str]:
        return {}


@dataclass
class MeanFill:
    """The brain of the missing sequence is one constant (background 0).

    After the segmenter's per-channel z-score that channel is exactly 0 inside the brain and
    the background value outside: the "no information, but a plausible brain" input, distinct
    from zero filling, which erases the brain outline too.
    """

    name: str = "mean"

    def complete(
        self, case: Case, missing: Sequence[str], *, centre: str = UNKNOWN_CENTRE
    ) -> Completion:
        require_available(case)
        available = arrays(case)
        brain = foreground(available)
        out = np.zeros(brain.shape, dtype=np.float32)
        out[brain] = 1.0
        return {target: out.copy() for target in missing}

    def provenance(self) -> dict[str, str]:
        return {}

"""Completion strategies: how a missing sequence is filled before segmentation.

A strategy sees only the available sequences of a case (and what it learnt from complete
training cases) and returns an image for the missing one, in the units of the available
ones. Generators from mri-gen plug in through the same protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from mri_bench.reference import SequenceReference, unit_scale

FloatArray = npt.NDArray[np.floating]


class CompletionStrategy(Protocol):
    """Fills one missing sequence from the available ones."""

    name: str

    def complete(self, target: str, available: Mapping[str, FloatArray]) -> FloatArray: ...


def _foreground(available: Mapping[str, FloatArray]) -> npt.NDArray[np.bool_]:
    foreground: npt.NDArray[np.bool_] = np.any(
        np.stack([image > 0 for image in available.values()]), axis=0
    )
    return foreground


@dataclass
class CopyMostCorrelated:
    """Copy the available sequence with the highest signed correlation to the target.

    This is the baseline of the UMMGAT paper. Where contrasts invert (t2w against t1n) the
    most correlated sequence can still be a poor stand-in: that is what it measures.
    """

    reference: SequenceReference
    name: str = "copy"

    def complete(self, target: str, available: Mapping[str, FloatArray]) -> FloatArray:
        source = self.reference.most_correlated(target, available, absolute=False)
        return np.array(available[source], dtype=np.float32, copy=True)


@dataclass
class CopyMatched:
    """A stronger, honest baseline: copy the sequence with the highest |correlation|, invert
    it where the correlation is negative, and match its brain histogram to the target's
    typical histogram from training data. Output is on the [0, 1] evaluation scale."""

    reference: SequenceReference
    name: str = "copy-matched"

    def complete(self, target: str, available: Mapping[str, FloatArray]) -> FloatArray:
        source = self.reference.most_correlated(target, available, absolute=True)
        foreground = _foreground(available)
        scaled = unit_scale(available[source], foreground)
        if self.reference.correlation[target][source] < 0:
            scaled[foreground] = 1.0 - scaled[foreground]
        values = scaled[foreground]
        ranks = np.argsort(np.argsort(values, kind="stable"), kind="stable")
        levels = (ranks + 0.5) / max(values.size, 1)
        out = np.zeros(scaled.shape, dtype=np.float32)
        out[foreground] = np.interp(levels, self.reference.levels, self.reference.quantiles[target])
        return out


@dataclass
class ZeroFill:
    """The missing sequence is all zeros (what a segmenter sees when nothing is done)."""

    name: str = "zero"

    def complete(self, target: str, available: Mapping[str, FloatArray]) -> FloatArray:
        first = next(iter(available.values()))
        return np.zeros(first.shape, dtype=np.float32)

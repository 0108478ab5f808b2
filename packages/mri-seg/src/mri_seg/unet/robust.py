"""Missing-sequence-robust input: sequence dropout in training, an availability code always.

A network trained on four sequences gives confident nonsense on a blank channel, so an ordinary
model refuses an incomplete case. A robust model is instead trained on crops some of whose
sequences were removed, and is told which ones: its input is the sequence channels, a missing
sequence's channel set to 0 everywhere (the brain's mean after z-scoring, and neither the -1 of
background nor any brain value in particular), followed by one availability channel per
sequence, 1 everywhere where that sequence is present and 0 where it is missing. At inference
the same encoding lets it segment any non-empty subset of its sequences directly.

:class:`SequenceDropout` decides, per training sample and from that sample's own seeded
generator, which sequences it keeps: with probability ``probability`` one of ``subsets`` (each a
non-empty proper subset of the sequences, uniformly), otherwise all of them. So a sample never
loses every sequence, and which samples lose what depends only on the seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import torch

#: The value of a missing sequence's channel.
MISSING_VALUE = 0.0


def proper_subsets(sequences: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """Every non-empty proper subset of ``sequences`` (14 of four), smallest first."""
    return tuple(
        subset for size in range(1, len(sequences)) for subset in combinations(sequences, size)
    )


@dataclass(frozen=True)
class SequenceDropout:
    """Which sequences a training sample keeps (see the module docstring)."""

    sequences: tuple[str, ...]
    probability: float
    subsets: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.probability <= 1:
            raise ValueError(f"sequence dropout must be in [0, 1], got {self.probability}")
        for subset in self.subsets:
            unknown = sorted(set(subset) - set(self.sequences))
            if not subset or unknown or len(set(subset)) != len(subset):
                raise ValueError(
                    f"a kept subset must name distinct sequences of {', '.join(self.sequences)} "
                    f"and at least one; got {list(subset)}"
                )

    @property
    def choices(self) -> tuple[tuple[str, ...], ...]:
        """The subsets a dropped sample may keep."""
        return self.subsets or proper_subsets(self.sequences)

    def sample(self, rng: np.random.Generator) -> tuple[bool, ...]:
        """Per sequence, whether this sample keeps it (never none)."""
        if rng.random() >= self.probability:
            return (True,) * len(self.sequences)
        kept = self.choices[int(rng.integers(len(self.choices)))]
        return tuple(key in kept for key in self.sequences)


def encode(images: torch.Tensor, available: Sequence[bool]) -> torch.Tensor:
    """The robust input of ``(channels, X, Y, Z)`` images whose first ``len(available)``
    channels are the sequences: missing ones set to :data:`MISSING_VALUE`, then one
    availability channel per sequence appended."""
    count = len(available)
    if images.ndim != 4 or images.shape[0] < count:
        raise ValueError(f"expected (>= {count}, X, Y, Z) images, got {tuple(images.shape)}")
    if not any(available):
        raise ValueError("at least one sequence must be available")
    out = images.clone()
    for index, present in enumerate(available):
        if not present:
            out[index] = MISSING_VALUE
    code = torch.tensor([float(flag) for flag in available], dtype=images.dtype)
    planes = code[:, None, None, None].expand(count, *images.shape[1:])
    return torch.cat([out, planes])

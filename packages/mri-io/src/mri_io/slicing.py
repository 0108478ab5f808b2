"""2D slices of multi-sequence volumes for slice-wise models, and their exact re-stacking.

A 2D generator (HF-GAN) sees square slices; the volume it must return is 3D on the original
grid. :class:`SliceLayout` is the record that ties the two: which axis is sliced, how each
slice is padded to a square, and therefore how a stack of model outputs goes back into the
volume (crop the padding, put each slice at its index, fill the slices that were skipped).

Conventions (SPEC §3, thesis 4.2 and 4.6):

- Views are named by the voxel axis they cut, in nibabel's voxel order of a BraTS volume
  (240x240x155, L-P-S): sagittal = axis 0, coronal = axis 1, axial = axis 2 (the last).
  A slice keeps the other two axes in their voxel order; nothing is flipped or transposed.
- Non-square slices are padded on the short side, ``d // 2`` before and the rest after, so a
  240x155 slice gets 42 rows of padding before and 43 after (:class:`~mri_io.geometry.CentreFit`).
- Arrays are channels-first: ``(sequence, x, y, z)``; slices come out as
  ``(slice, sequence, size, size)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mri_io.geometry import CentreFit

__all__ = [
    "MIN_FOREGROUND",
    "VIEWS",
    "SliceLayout",
    "View",
    "background_majority",
    "foreground_counts",
    "iter_batches",
    "select_slices",
    "view_axis",
]

View = Literal["sagittal", "coronal", "axial"]

#: Every view, in voxel-axis order.
VIEWS: tuple[View, ...] = get_args(View)

#: Foreground pixels a slice needs to be worth training on (thesis 4.2: 2000 per sequence,
#: 3.47 % of a 240x240 slice).
MIN_FOREGROUND = 2000


def view_axis(view: View) -> int:
    """Voxel axis that ``view`` cuts: sagittal 0, coronal 1, axial 2."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose one of {VIEWS}")
    return VIEWS.index(view)


@dataclass(frozen=True)
class SliceLayout:
    """How the volumes of one spatial ``shape`` are cut along ``view`` into ``size``² slices.

    ``size`` defaults to the larger in-plane side, so slices are the smallest squares that hold
    the whole plane; a smaller ``size`` centre-crops the plane (and re-stacking fills the
    cropped border with the background).
    """

    shape: tuple[int, int, int]
    view: View
    size: int

    @classmethod
    def square(cls, shape: Sequence[int], view: View, size: int | None = None) -> SliceLayout:
        """The layout for volumes of spatial ``shape``; ``size`` defaults to the larger side."""
        spatial = tuple(int(n) for n in shape)
        if len(spatial) != 3 or min(spatial) < 1:
            raise ValueError(f"expected a 3D spatial shape, got {tuple(shape)}")
        axis = view_axis(view)
        plane = tuple(n for a, n in enumerate(spatial) if a != axis)
        layout = cls(
            (spatial[0], spatial[1], spatial[2]), view, max(plane) if size is None else size
        )
        if layout.size < 1:
            raise ValueError(f"slice size must be positive, got {layout.size}")
        return layout

    @property
    def axis(self) -> int:
        """Voxel axis this layout cuts."""
        return view_axis(self.view)

    @property
    def count(self) -> int:
        """Number of slices along the axis."""
        return self.shape[self.axis]

    @property
    def plane(self) -> CentreFit:
        """The fit of one plane onto the square slice (its offsets are the padding)."""
        plane = tuple(n for a, n in enumerate(self.shape) if a != self.axis)
        return CentreFit(plane, (self.size, self.size))

    def slices(
        self, stack: ArrayLike, indices: ArrayLike | None = None, pad: float = 0.0
    ) -> NDArray[Any]:
        """Slices ``indices`` (all if None) of a ``(..., x, y, z)`` stack, padded with ``pad``.

        Returns ``(n, ..., size, size)``: the slice index first, then any leading axes of the
        stack (typically the sequences), then the square plane.
        """
        values = np.asarray(stack)
        if values.ndim < 3 or values.shape[-3:] != self.shape:
            raise ValueError(f"expected a stack of {self.shape} volumes, got {values.shape}")
        chosen = self.checked_indices(indices)
        moved = np.moveaxis(values, values.ndim - 3 + self.axis, 0)[chosen]
        plane = self.plane
        # Indexing with an array has already copied: pad only when the plane is not square.
        return moved if plane.source == plane.target else plane.apply(moved, fill=pad)

    def restack(
        self, slices: ArrayLike, indices: ArrayLike | None = None, fill: float = 0.0
    ) -> NDArray[Any]:
        """Exact inverse of :meth:`slices`: a ``(..., x, y, z)`` volume from ``(n, ..., s, s)``.

        Padding is cropped away, slice ``k`` of ``slices`` goes to position ``indices[k]`` on
        the axis, and the positions no slice fills (filtered out) get ``fill``.
        """
        values = np.asarray(slices)
        chosen = self.checked_indices(indices)
        if (
            values.ndim < 3
            or values.shape[0] != chosen.size
            or values.shape[-2:]
            != (
                self.size,
                self.size,
            )
        ):
            raise ValueError(
                f"expected {chosen.size} slices of {self.size}x{self.size}, got {values.shape}"
            )
        planes = self.plane.invert(values, fill=fill)
        lead = values.shape[1:-2]
        out = np.full(lead + self.shape, fill, dtype=values.dtype)
        np.moveaxis(out, len(lead) + self.axis, 0)[chosen] = planes
        return out

    def checked_indices(self, indices: ArrayLike | None) -> NDArray[np.intp]:
        """``indices`` as a flat index array (all slices if None), refused if out of range."""
        if indices is None:
            return np.arange(self.count)
        chosen = np.asarray(indices, dtype=np.intp).reshape(-1)
        if chosen.size and (chosen.min() < 0 or chosen.max() >= self.count):
            raise ValueError(f"slice indices must lie in [0, {self.count}), got {chosen}")
        if np.unique(chosen).size != chosen.size:
            raise ValueError("slice indices must not repeat")
        return chosen


def foreground_counts(stack: ArrayLike, view: View, background: float = 0.0) -> NDArray[np.intp]:
    """Voxels different from ``background`` per sequence and slice: ``(sequence, slice)``."""
    values = np.asarray(stack)
    if values.ndim != 4:
        raise ValueError(f"expected a (sequence, x, y, z) stack, got {values.shape}")
    axis = 1 + view_axis(view)
    other = tuple(a for a in (1, 2, 3) if a != axis)
    counts: NDArray[np.intp] = np.count_nonzero(values != background, axis=other)
    return counts.astype(np.intp)


def select_slices(
    stack: ArrayLike,
    view: View,
    min_foreground: int = MIN_FOREGROUND,
    rule: Literal["every", "any"] = "every",
    available: Sequence[bool] | None = None,
    background: float = 0.0,
) -> NDArray[np.intp]:
    """Indices of the slices with at least ``min_foreground`` foreground pixels.

    With ``rule="every"`` each available sequence needs that many (the thesis' training
    filter); with ``"any"`` one is enough. Missing sequences (``available`` False) are not
    consulted; at least one must be available.
    """
    counts = foreground_counts(stack, view, background)
    mask = np.ones(counts.shape[0], dtype=bool) if available is None else np.asarray(available)
    if mask.shape != (counts.shape[0],) or not mask.any():
        raise ValueError(f"available must flag {counts.shape[0]} sequences, at least one True")
    enough = counts[mask] >= min_foreground
    keep = enough.all(axis=0) if rule == "every" else enough.any(axis=0)
    return np.flatnonzero(keep).astype(np.intp)


def iter_batches(
    stack: ArrayLike,
    layout: SliceLayout,
    indices: ArrayLike | None = None,
    batch_size: int = 32,
    pad: float = 0.0,
) -> Iterator[tuple[NDArray[np.intp], NDArray[Any]]]:
    """Yield ``(indices, slices)`` batches of at most ``batch_size``, in index order given.

    Slices are cut batch by batch, so the padded copy of the whole volume never exists at once.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    chosen = layout.checked_indices(indices)
    for start in range(0, chosen.size, batch_size):
        batch = chosen[start : start + batch_size]
        yield batch, layout.slices(stack, batch, pad=pad)


def background_majority(
    stack: ArrayLike, available: Sequence[bool] | None = None, background: float = 0.0
) -> NDArray[np.bool_]:
    """Voxels that a strict majority of the available sequences call background.

    This is how a generated sequence gets its background (thesis 4.6: with three inputs, two
    agreeing suffice). A tie (two of four inputs, or one of two) keeps the voxel as foreground:
    erasing brain tissue cannot be undone downstream, a faint extra voxel at the brain's edge
    is harmless, and BraTS sequences share one skull-strip mask so ties are rare.
    """
    values = np.asarray(stack)
    if values.ndim < 2:
        raise ValueError(f"expected a (sequence, ...) stack, got {values.shape}")
    mask = np.ones(values.shape[0], dtype=bool) if available is None else np.asarray(available)
    if mask.shape != (values.shape[0],) or not mask.any():
        raise ValueError(f"available must flag {values.shape[0]} sequences, at least one True")
    # One comparison per sequence summed in place: indexing ``values[mask]`` would first copy
    # every available volume (a fifth of a second per 240x240x155 case).
    count = int(mask.sum())
    votes = np.zeros(values.shape[1:], dtype=np.uint8 if count < 256 else np.int64)
    for index in np.flatnonzero(mask):
        votes += values[index] == background
    majority: NDArray[np.bool_] = np.asarray(votes > count // 2)  # 2 * votes > count
    return majority

"""Cropping to the brain and fitting volumes to a fixed size, each with its exact inverse.

A model that works on a smaller grid (a brain bounding box to save memory, UMMGAT's fixed
176x176x155 grid) must hand its output back on the original 240x240x155 grid, voxel for voxel,
or the written NIfTI no longer lines up with its affine. So every operation here returns a small
record (:class:`BoundingBox`, :class:`CentreFit`) of where the smaller grid sits inside the
original, and the inverse is computed from that record, never re-derived from the data.

Shapes are spatial and in nibabel's voxel order (axial = last axis). Arrays may carry leading
axes (channels, batch): operations act on the trailing spatial axes only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: UMMGAT's grid, (155, 176, 176) in the paper's (axial, row, column) order, here in nibabel's
#: voxel order: the two in-plane axes are centre-cropped from 240 to 176, the 155 axial kept.
UMMGAT_SHAPE = (176, 176, 155)


def _spatial(array: NDArray[Any], shape: tuple[int, ...], what: str) -> None:
    if array.ndim < len(shape) or array.shape[array.ndim - len(shape) :] != shape:
        raise ValueError(f"{what}: expected trailing axes {shape}, got shape {array.shape}")


def _trailing(window: tuple[slice, ...]) -> tuple[Any, ...]:
    """Index that applies ``window`` to the trailing axes, whatever axes lead them."""
    return (Ellipsis, *window)


@dataclass(frozen=True)
class BoundingBox:
    """A box ``[start, stop)`` per spatial axis inside a volume of spatial ``shape``."""

    start: tuple[int, ...]
    stop: tuple[int, ...]
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        if not len(self.start) == len(self.stop) == len(self.shape):
            raise ValueError(f"bounding box axes disagree: {self}")
        for low, high, size in zip(self.start, self.stop, self.shape, strict=True):
            if not 0 <= low < high <= size:
                raise ValueError(f"bounding box outside its volume or empty: {self}")

    @property
    def slices(self) -> tuple[slice, ...]:
        """Index of the box on the spatial axes."""
        return tuple(slice(low, high) for low, high in zip(self.start, self.stop, strict=True))

    @property
    def size(self) -> tuple[int, ...]:
        """Spatial shape of the cropped array."""
        return tuple(high - low for low, high in zip(self.start, self.stop, strict=True))

    def crop(self, array: ArrayLike) -> NDArray[Any]:
        """The box's part of ``array`` (a copy; leading axes kept)."""
        values = np.asarray(array)
        _spatial(values, self.shape, "crop")
        cropped: NDArray[Any] = values[_trailing(self.slices)].copy()
        return cropped

    def uncrop(self, cropped: ArrayLike, fill: float = 0.0) -> NDArray[Any]:
        """``cropped`` back at the box in a volume of the original shape filled with ``fill``."""
        values = np.asarray(cropped)
        _spatial(values, self.size, "uncrop")
        lead = values.shape[: values.ndim - len(self.shape)]
        out = np.full(lead + self.shape, fill, dtype=values.dtype)
        out[_trailing(self.slices)] = values
        return out


def brain_bounding_box(volumes: ArrayLike | Sequence[ArrayLike], margin: int = 0) -> BoundingBox:
    """Smallest box holding every voxel that is non-zero in any channel, grown by ``margin``.

    ``volumes`` is one volume, a sequence of same-shaped volumes, or a channels-first stack
    (pass a 3D volume for one channel; a 4D array is read as channels x 3D). The margin is
    clipped at the volume's edges. A volume without any non-zero voxel raises ``ValueError``:
    there is no brain to crop to.
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    stack = np.asarray(volumes)
    if stack.ndim < 1:
        raise ValueError("a bounding box needs at least one spatial axis")
    spatial = stack.shape[1:] if stack.ndim == 4 else stack.shape
    nonzero = np.any(stack != 0, axis=0) if stack.ndim == 4 else stack != 0
    if not nonzero.any():
        raise ValueError("no non-zero voxel: the brain bounding box is undefined")
    start, stop = [], []
    for axis in range(nonzero.ndim):
        other = tuple(a for a in range(nonzero.ndim) if a != axis)
        present = np.flatnonzero(nonzero.any(axis=other))
        start.append(max(int(present[0]) - margin, 0))
        stop.append(min(int(present[-1]) + 1 + margin, spatial[axis]))
    return BoundingBox(tuple(start), tuple(stop), tuple(spatial))


@dataclass(frozen=True)
class CentreFit:
    """Centre crop and/or zero-pad from ``source`` to ``target`` shape, axis by axis.

    ``offset[axis]`` is where the source's first voxel lands in the target: positive means that
    many voxels of padding before it, negative means that many voxels cropped away before it.
    A difference ``d`` is split ``d // 2`` before and the rest after, so 155 -> 240 pads 42
    before and 43 after (as the BraSyn25 thesis pads sagittal and coronal slices) and 240 -> 176
    crops 32 on each side.
    """

    source: tuple[int, ...]
    target: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.source) != len(self.target):
            raise ValueError(f"source {self.source} and target {self.target} differ in rank")
        if min(self.source + self.target, default=1) < 1:
            raise ValueError(f"shapes must be positive: {self.source} -> {self.target}")

    @property
    def offset(self) -> tuple[int, ...]:
        """Signed position of the source's origin inside the target, per axis."""
        return tuple((t - s) // 2 if t >= s else -((s - t) // 2) for s, t in self._pairs())

    def _pairs(self) -> zip[tuple[int, int]]:
        return zip(self.source, self.target, strict=True)

    def _windows(self) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
        """Matching windows of the overlap: (in the source, in the target)."""
        in_source, in_target = [], []
        for (s, t), off in zip(self._pairs(), self.offset, strict=True):
            length = min(s, t)
            in_source.append(slice(max(-off, 0), max(-off, 0) + length))
            in_target.append(slice(max(off, 0), max(off, 0) + length))
        return tuple(in_source), tuple(in_target)

    def apply(self, array: ArrayLike, fill: float = 0.0) -> NDArray[Any]:
        """``array`` (source shape on its trailing axes) centred in the target shape."""
        values = np.asarray(array)
        _spatial(values, self.source, "centre fit")
        in_source, in_target = self._windows()
        lead = values.shape[: values.ndim - len(self.source)]
        out = np.full(lead + self.target, fill, dtype=values.dtype)
        out[_trailing(in_target)] = values[_trailing(in_source)]
        return out

    def invert(self, array: ArrayLike, fill: float = 0.0) -> NDArray[Any]:
        """Back to the source shape: padding removed, cropped-away voxels set to ``fill``.

        ``invert(apply(x))`` equals ``x`` wherever the target kept it; where ``apply`` cropped,
        the data is gone and ``fill`` stands in.
        """
        values = np.asarray(array)
        _spatial(values, self.target, "inverse centre fit")
        in_source, in_target = self._windows()
        lead = values.shape[: values.ndim - len(self.target)]
        out = np.full(lead + self.source, fill, dtype=values.dtype)
        out[_trailing(in_source)] = values[_trailing(in_target)]
        return out

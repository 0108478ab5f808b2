"""Bounding boxes of masks, and the split of a sparse mask into boxes that can be treated alone.

Every metric here works on boxes around the voxels rather than on the whole volume, so finding
boxes must cost next to nothing. Reducing a C-contiguous boolean array over its leading axis
(an OR of whole planes) or over its trailing axes (one row per leading index) runs at memory
speed, while ``mask.any(axis=(0, 2))`` or any reduction of a strided crop is many times slower;
:func:`axis_occupancy` therefore reduces one leading axis at a time.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["axis_occupancy", "bounding_box", "box_union", "separated_boxes"]

BoolArray = npt.NDArray[np.bool_]
Slices = tuple[slice, ...]

#: Fixed cost of handling one more box, in voxels of labelling work (measured: one
#: ``ndimage.label`` plus ``find_objects`` call costs what about 4000 voxels of background do).
_BOX_OVERHEAD_VOXELS = 4096


def axis_occupancy(mask: BoolArray) -> list[BoolArray]:
    """For each axis, which of its planes hold at least one voxel of ``mask``."""
    occupancy: list[BoolArray] = []
    rest = np.ascontiguousarray(mask)
    for axis in range(mask.ndim):
        occupancy.append(np.asarray(rest.reshape(rest.shape[0], -1).any(axis=1)))
        if axis < mask.ndim - 1:
            rest = np.asarray(rest.any(axis=0))
    return occupancy


def bounding_box(mask: BoolArray) -> Slices | None:
    """Smallest box holding every voxel of ``mask`` as slices, or ``None`` when it is empty."""
    box = []
    for hits in axis_occupancy(mask):
        index = np.flatnonzero(hits)
        if index.size == 0:
            return None
        box.append(slice(int(index[0]), int(index[-1]) + 1))
    return tuple(box)


def box_union(a: Slices, b: Slices) -> Slices:
    """Smallest box holding boxes ``a`` and ``b``."""
    pairs = zip(a, b, strict=True)
    return tuple(slice(min(x.start, y.start), max(x.stop, y.stop)) for x, y in pairs)


def _volume(box: Slices) -> int:
    return math.prod(s.stop - s.start for s in box)


def separated_boxes(mask: BoolArray, gap: int = 0) -> list[Slices]:
    """Disjoint boxes holding every voxel of ``mask``, far enough apart to be treated alone.

    Any two voxels of ``mask`` in different boxes differ by at least ``gap + 2`` along some
    axis: with ``gap=0`` they are never neighbours (in any connectivity); with ``gap=2 * n``
    no voxel lies within ``n + 1`` voxels (Chebyshev) of two boxes' voxels at once, so the
    boxes grown by ``n`` hold no voxel of another box and their dilations by ``n`` never touch.
    A box is cut along an axis at every run of more than ``gap`` empty planes (an XY-cut),
    and a cut is kept only when the boxes it yields, with a fixed cost per box, are cheaper to
    process than the box itself. Returns ``[]`` for an empty mask.
    """
    leaves: list[Slices] = []
    root = bounding_box(mask)
    stack = [] if root is None else [root]
    while stack:
        box = list(stack.pop())
        children: list[Slices] = []
        for axis, hits in enumerate(axis_occupancy(mask[tuple(box)])):
            index = np.flatnonzero(hits)
            ends = np.flatnonzero(np.diff(index) > gap + 1)
            if ends.size == 0:
                continue
            starts = box[axis].start + index[np.concatenate([[0], ends + 1])]
            stops = box[axis].start + index[np.concatenate([ends, [index.size - 1]])] + 1
            runs = [slice(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]
            cut = [(*box[:axis], run, *box[axis + 1 :]) for run in runs]
            cost = sum(_volume(child) for child in cut) + _BOX_OVERHEAD_VOXELS * (len(cut) - 1)
            if cost < _volume(tuple(box)):
                children = cut
                break
        if children:
            stack.extend(_tighten(mask, child) for child in children)
        else:
            leaves.append(tuple(box))
    return leaves


def _tighten(mask: BoolArray, box: Slices) -> Slices:
    """Bounding box, in ``mask``'s coordinates, of the voxels of ``mask`` inside ``box``."""
    inner = bounding_box(mask[box])
    assert inner is not None
    return tuple(
        slice(b.start + s.start, b.start + s.stop) for b, s in zip(box, inner, strict=True)
    )

"""Connected components of a sparse mask, labelled one occupied box at a time.

``scipy.ndimage.label`` spends about as long on a voxel of background as on one of foreground,
and a tumour with a far satellite or a false positive far away has a bounding box that is
mostly background: labelling it whole costs several times more than labelling the few boxes
that hold voxels (:func:`mri_metrics._boxes.separated_boxes`). :func:`label_pieces` labels each
box on its own and renumbers the components in raster order of the whole array, so the result
equals one ``ndimage.label`` call on the whole mask.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

__all__ = ["Components", "label_pieces"]

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int32]
Slices = tuple[slice, ...]


@dataclass(frozen=True)
class Components:
    """Labelled components: ``labels`` numbered 1..``count`` in raster order of the array.

    ``boxes[i]`` is the bounding box of component ``i + 1`` (as ``ndimage.find_objects``) and
    ``sizes[i]`` its number of voxels.
    """

    labels: IntArray
    count: int
    boxes: list[Slices]
    sizes: list[int]


def _shifted(box: Slices, inner: Slices) -> Slices:
    """``inner``, given relative to ``box``, in the coordinates ``box`` is given in."""
    return tuple(
        slice(b.start + s.start, b.start + s.stop) for b, s in zip(box, inner, strict=True)
    )


def _first_voxel(local: IntArray, label: int, sub: Slices) -> tuple[int, ...]:
    """Raster-first voxel of component ``label`` of ``local``, whose bounding box is ``sub``.

    It lies in the first plane of the bounding box, so only that plane is searched.
    """
    plane = local[sub][0] == label
    corner = np.unravel_index(int(np.argmax(plane)), plane.shape)
    return (sub[0].start, *(s.start + int(c) for s, c in zip(sub[1:], corner, strict=True)))


def label_pieces(
    shape: Sequence[int],
    boxes: Sequence[Slices],
    piece: Callable[[Slices], BoolArray],
    structure: BoolArray,
) -> Components:
    """Label the mask that is ``piece(box)`` inside each of ``boxes`` and background elsewhere.

    ``boxes`` must be disjoint and no component may touch two of them (as
    :func:`mri_metrics._boxes.separated_boxes` guarantees); each is labelled alone with
    ``structure``. Components are then renumbered by their first voxel in raster order of the
    whole array, which is the numbering of one ``ndimage.label`` call on the whole mask.
    """
    labelled: list[tuple[Slices, IntArray]] = []
    # (raster key, piece, local label, box, voxels) of every component
    found: list[tuple[int, int, int, Slices, int]] = []
    for index, box in enumerate(boxes):
        local, _ = ndimage.label(piece(box), structure=structure, output=np.int32)
        labelled.append((box, local))
        for label, sub in enumerate(ndimage.find_objects(local), start=1):
            assert sub is not None
            first = [b.start + c for b, c in zip(box, _first_voxel(local, label, sub), strict=True)]
            key = int(np.ravel_multi_index(first, shape))
            voxels = int(np.count_nonzero(local[sub] == label))
            found.append((key, index, label, _shifted(box, sub), voxels))
    found.sort(key=lambda item: item[0])
    remaps = [np.zeros(int(local.max(initial=0)) + 1, dtype=np.int32) for _, local in labelled]
    for new_label, (_, index, label, _, _) in enumerate(found, start=1):
        remaps[index][label] = new_label
    labels = np.zeros(tuple(shape), dtype=np.int32)
    for (box, local), remap in zip(labelled, remaps, strict=True):
        # A lone box is already numbered in raster order of the whole array.
        labels[box] = local if len(labelled) == 1 else remap[local]
    return Components(labels, len(found), [item[3] for item in found], [item[4] for item in found])

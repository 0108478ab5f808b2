"""The voxel grids a synthetic case is drawn on.

Every synthetic volume lives on a grid in BraTS (SRI24) world space, so that any tool that reads
real BraTS data reads ours the same way. ``"full"`` is the BraTS grid itself; ``"half"`` covers
the same field of view with 2 mm voxels for fast tests and demos. Its affine is derived from the
BraTS affine rather than written out: voxel ``i`` of the half grid is centred on the 2 mm block
made of full-grid voxels ``2i`` and ``2i + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from mri_io.nifti import BRATS_AFFINE, BRATS_SHAPE

GridName = Literal["full", "half"]


@dataclass(frozen=True)
class Grid:
    """A voxel grid: array ``shape`` and the 4x4 voxel-to-world ``affine`` (mm)."""

    shape: tuple[int, int, int]
    affine: NDArray[np.float64]

    @property
    def spacing(self) -> NDArray[np.float64]:
        """Voxel size in mm along each array axis."""
        return np.asarray(np.linalg.norm(self.affine[:3, :3], axis=0), dtype=np.float64)

    @property
    def size(self) -> int:
        """Number of voxels."""
        return int(np.prod(self.shape))

    def coarsened(self, factor: int) -> Grid:
        """The same field of view with ``factor`` times larger voxels.

        The shape is rounded up so no part of the field of view is lost, and the origin moves
        by half the old voxels of one block so that each coarse voxel sits at the centre of the
        fine voxels it replaces.
        """
        if factor < 1:
            raise ValueError(f"grid coarsening factor must be >= 1, got {factor}")
        shape = tuple(-(-n // factor) for n in self.shape)
        block = np.eye(4)
        block[:3, :3] *= factor
        block[:3, 3] = (factor - 1) / 2
        return Grid((shape[0], shape[1], shape[2]), self.affine @ block)


#: The BraTS grid: 240 x 240 x 155 voxels of 1 mm in SRI24 space.
FULL_GRID = Grid(BRATS_SHAPE, np.asarray(BRATS_AFFINE, dtype=np.float64))
#: The BraTS field of view at 2 mm: 120 x 120 x 78 voxels.
HALF_GRID = FULL_GRID.coarsened(2)


def resolve_grid(grid: GridName | Grid) -> Grid:
    """Turn ``"full"``, ``"half"`` or a :class:`Grid` into a :class:`Grid`."""
    if isinstance(grid, Grid):
        return grid
    if grid == "full":
        return FULL_GRID
    if grid == "half":
        return HALF_GRID
    raise ValueError(f"unknown grid {grid!r}: expected 'full', 'half' or a Grid")

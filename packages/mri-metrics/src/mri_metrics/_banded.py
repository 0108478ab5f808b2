"""Valid-mode 1D correlation along one axis, computed as small banded matrix products.

``scipy.ndimage.correlate1d`` filters one line at a time in scalar code and returns an output as
long as its input, so a caller that only wants the voxels whose whole window lies inside the
input (valid mode) computes the border and throws it away. Here the output axis is cut into
blocks of :data:`BLOCK` voxels; each block is the kernel's banded Toeplitz matrix
(``BLOCK x (BLOCK + width - 1)``) times the block's input window, one BLAS matrix product per
block, which runs several times faster than the scalar loop, and only valid outputs are made.

The products are kept small on purpose (a block of rows against one line of the partner axis):
OpenBLAS runs products below about 2.6e5 multiply-adds on the calling thread, and its own
threads, when the machine is busy, made large products up to ten times slower in measurements.
Callers that want parallelism run several of these calls on their own threads (numpy's matmul
releases the GIL).

Results equal ``correlate1d`` followed by trimming ``width // 2`` voxels on each side to a few
units in the last place: BLAS sums the same products in a different order.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

__all__ = ["BLOCK", "banded_operator", "correlate_valid"]

FloatArray = npt.NDArray[np.float64]

#: Output voxels per matrix product along the filtered axis (16 was fastest of 8, 16, 32, 64).
BLOCK = 16


def banded_operator(kernel: FloatArray, rows: int) -> FloatArray:
    """Return the ``rows x (rows + kernel.size - 1)`` matrix whose row i is the kernel at i."""
    operator = np.zeros((rows, rows + kernel.size - 1))
    for row in range(rows):
        operator[row, row : row + kernel.size] = kernel
    return operator


def _blocks(
    array: FloatArray, axis: int, start: int, step: int, count: int, size: int, partner: int
) -> FloatArray:
    """View of ``count`` windows of ``size`` voxels along ``axis``, one every ``step`` from
    ``start``; the window axis and the ``partner`` axis are moved last (in that order) so each
    window is one matrix for :func:`numpy.matmul`, every other axis a batch axis.
    """
    strides = array.strides
    offset = array[(slice(None),) * axis + (slice(start, None),)]
    view: FloatArray = as_strided(
        offset,
        shape=(*array.shape[:axis], count, size, *array.shape[axis + 1 :]),
        strides=(*strides[:axis], step * strides[axis], strides[axis], *strides[axis + 1 :]),
    )
    moved_partner = partner + 1 if partner > axis else partner
    result: FloatArray = np.moveaxis(view, (axis + 1, moved_partner), (-2, -1))
    return result


def correlate_valid(array: FloatArray, kernel: FloatArray, axis: int) -> FloatArray:
    """Correlate ``array`` (float64, 2+ dimensions) with ``kernel`` along ``axis``, valid part.

    Returns a new C-contiguous array whose ``axis`` is ``kernel.size - 1`` voxels shorter: voxel
    i is ``sum_k kernel[k] * array[..., i + k, ...]``.
    """
    axis %= array.ndim
    width = kernel.size
    length = array.shape[axis] - width + 1
    out = np.empty((*array.shape[:axis], length, *array.shape[axis + 1 :]))
    last = axis == array.ndim - 1
    # The matrices' second axis: the contiguous one, so every operand and the output are
    # row-major matrices BLAS takes without a copy.
    partner = array.ndim - 2 if last else array.ndim - 1
    full, rest = divmod(length, BLOCK)
    for start, rows, count in ((0, BLOCK, full), (full * BLOCK, rest, 1)):
        if count == 0 or rows == 0:
            continue
        operator = banded_operator(kernel, rows)
        source = _blocks(array, axis, start, rows, count, rows + width - 1, partner)
        target = _blocks(out, axis, start, rows, count, rows, partner)
        if last:
            # Windows run along the contiguous axis: (partner x window) @ operatorᵀ keeps the
            # output row-major.
            np.matmul(source.swapaxes(-1, -2), operator.T, out=target.swapaxes(-1, -2))
        else:
            np.matmul(operator, source, out=target)
    return out

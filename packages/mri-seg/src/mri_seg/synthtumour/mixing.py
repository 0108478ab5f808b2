"""Stage 2 of SynthTumour: pasting pseudo-labelled real tumours into healthy brains.

Hard-mask CarveMix: inside the donor's pseudo-labelled tumour (restricted to both brains), the
healthy brain's voxels are replaced by the donor's. Intensities are matched in z-scored space:
the donor is z-scored with its own statistics (those of mri-io's ``zscore-volume``, but not its
clip: a tumour's brightest voxels are above the clip) and de-normalised with the healthy
brain's, so the pasted tumour sits at the same place relative to the healthy
brain's tissue as it did in the donor, in the healthy brain's scanner units. Outside the mask
the healthy image is returned unchanged, voxel for voxel. Both cases share one grid (the BraTS
grid after ``mri-io conform``), so the tumour keeps its place in the head.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mri_io.intensity import Normaliser

_ZSCORE = Normaliser("zscore-volume")


def carve_mix(
    healthy: NDArray[np.floating],
    donor: NDArray[np.floating],
    donor_labels: NDArray[np.uint8],
) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """The healthy ``(sequences, X, Y, Z)`` images with the donor's tumour pasted in, and the
    label map of the result (the donor's labels inside the pasted mask, 0 elsewhere)."""
    if healthy.shape != donor.shape or healthy.shape[1:] != donor_labels.shape:
        raise ValueError(
            f"CarveMix needs one grid: healthy {healthy.shape}, donor {donor.shape}, "
            f"labels {donor_labels.shape}"
        )
    healthy_brain = (healthy > 0).any(axis=0)
    donor_brain = (donor > 0).all(axis=0)
    mask = (donor_labels > 0) & healthy_brain & donor_brain
    mixed = np.array(healthy, dtype=np.float32)
    for channel, (target, source) in enumerate(zip(healthy, donor, strict=True)):
        into, out_of = _ZSCORE.params_for(target), _ZSCORE.params_for(source)
        # The statistics are mri-io's (taken after the 99.5th-percentile clip) but the map is
        # linear both ways, without the clip: the donor's brightest voxels, enhancing tumour
        # and edema above its 99.5th percentile, keep their brightness relative to its tissue.
        z = (source[mask] - out_of.offset) / out_of.scale
        # The lowest healthy foreground value keeps pasted voxels inside the brain mask.
        floor = float(target[target > 0].min())
        mixed[channel][mask] = np.maximum(z * into.scale + into.offset, floor)
    labels = np.where(mask, donor_labels, 0).astype(np.uint8)
    return mixed, labels

"""The sequence model: how bright each tissue is in T1, T1 post-contrast, T2 and FLAIR.

Intensities are relative (white matter in T1 about 0.86, CSF in T2 1.0) and mix linearly over
partial volumes, so a voxel half grey matter and half CSF gets the average of the two. Scanner
units, blur and noise come later, from the acquisition centre (:mod:`mri_io.synthetic.centres`).

The table is the reviewed starting point for BraTS-like contrast: CSF dark in T1 and FLAIR but
bright in T2; edema bright in FLAIR and T2; the enhancing rim bright only after contrast;
necrosis dark in T1 and bright in T2.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from mri_io.synthetic.fields import FloatArray
from mri_io.synthetic.tumours import EDEMA, ENHANCING, NETC

#: Tissue classes, in the order of the columns of :data:`CONTRAST`.
TISSUE_CLASSES = ("csf", "gm", "wm", "necrosis", "edema", "enhancing")

#: Relative intensity of each tissue class in each sequence.
CONTRAST: Mapping[str, Mapping[str, float]] = {
    "t1n": {
        "csf": 0.22,
        "gm": 0.60,
        "wm": 0.86,
        "necrosis": 0.30,
        "edema": 0.55,
        "enhancing": 0.62,
    },
    "t1c": {
        "csf": 0.22,
        "gm": 0.60,
        "wm": 0.86,
        "necrosis": 0.28,
        "edema": 0.55,
        "enhancing": 1.25,
    },
    "t2w": {
        "csf": 1.00,
        "gm": 0.50,
        "wm": 0.36,
        "necrosis": 0.95,
        "edema": 0.78,
        "enhancing": 0.55,
    },
    "t2f": {
        "csf": 0.10,
        "gm": 0.58,
        "wm": 0.44,
        "necrosis": 0.38,
        "edema": 0.95,
        "enhancing": 0.74,
    },
}

#: Texture amplitude (relative standard deviation) in healthy tissue and in tumour.
HEALTHY_TEXTURE = 0.03
TUMOUR_TEXTURE = 0.10


def tissue_fractions(tissues: FloatArray, labels: NDArray[np.uint8]) -> FloatArray:
    """Fractions (6, *shape) of every tissue class, tumour taking its share from healthy tissue.

    Tumour labels are hard; a sub-voxel blur gives their boundaries the same partial volumes
    as the healthy tissue boundaries.
    """
    shape = labels.shape
    fractions = np.zeros((6, *shape), dtype=np.float32)
    tumour = np.zeros(shape, dtype=np.float32)
    if labels.any():
        present = np.argwhere(labels > 0)
        lo, hi = np.maximum(present.min(axis=0) - 2, 0), present.max(axis=0) + 3
        box = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
        for k, label in enumerate((NETC, EDEMA, ENHANCING)):
            fractions[3 + k][box] = ndimage.gaussian_filter(
                (labels[box] == label).astype(np.float32), 0.5, truncate=3.0
            )
        tumour = fractions[3:].sum(axis=0)
    healthy = np.clip(1.0 - tumour, 0.0, 1.0)
    fractions[:3] = tissues * healthy
    return fractions


def render(fractions: FloatArray, sequence: str, texture: FloatArray) -> FloatArray:
    """Relative intensity of ``sequence`` from tissue ``fractions`` and a unit ``texture`` field."""
    table = CONTRAST[sequence]
    image = np.zeros(fractions.shape[1:], dtype=np.float32)
    for k, name in enumerate(TISSUE_CLASSES):
        image += np.float32(table[name]) * fractions[k]
    amplitude = HEALTHY_TEXTURE + (TUMOUR_TEXTURE - HEALTHY_TEXTURE) * fractions[3:].sum(axis=0)
    image *= 1 + amplitude * texture
    return image


def dominant_tissue(fractions: FloatArray) -> NDArray[np.uint8]:
    """The class with the largest fraction: 0 background, then 1.. in :data:`TISSUE_CLASSES`."""
    classes = np.ones(fractions.shape[1:], dtype=np.uint8)
    best = fractions[0].copy()
    for k in range(1, len(fractions)):  # a loop over classes beats argmax's strided reduction
        larger = fractions[k] > best
        classes[larger] = k + 1
        np.maximum(best, fractions[k], out=best)
    classes[fractions.sum(axis=0) < 0.5] = 0
    return classes

"""The MNI152 2009 brain template as tissue maps (needs the ``synthetic`` extra).

nilearn's wheel bundles the ICBM 2009a symmetric non-linear MNI152 T1 template and its grey and
white matter probability maps (197 x 233 x 189 at 1 mm), so nothing is downloaded. CSF is the
brain mask minus grey minus white matter: the ventricles, sulci and cisterns.

The template is placed on the BraTS grid through the affines only: MNI world space is moved by a
translation that puts the centre of the brain mask's bounding box at the centre of the BraTS
field of view, and shrunk by :data:`MNI_TO_BRATS_SCALE` because MNI152 brains are larger than
the SRI24 brains of BraTS (an MNI brain spans 155 mm inferior-superior, the whole BraTS field of
view). Resampling happens once per case, together with the subject warp and mass effect, in
:mod:`mri_io.synthetic.warp`.

Licence of the template: Copyright (C) 1993-2004 Louis Collins, McConnell Brain Imaging Centre,
Montreal Neurological Institute, McGill University; redistributed with notice, see
``docs/mri-io/synthetic.md``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from mri_io.synthetic.anatomy import Anatomy
from mri_io.synthetic.grid import FULL_GRID, Grid

#: Isotropic shrink from MNI152 to SRI24-sized brains before subject variation.
MNI_TO_BRATS_SCALE = 0.92

_INSTALL_HINT = 'the MNI152 anatomy needs nilearn: pip install "mri-io[synthetic]"'


@lru_cache(maxsize=1)
def mni152_anatomy() -> Anatomy:
    """The MNI152 2009 tissue maps in BraTS world space (cached per process).

    The returned grid is the template's own voxel grid with an affine that maps it into BraTS
    world coordinates; the maps are not resampled here.
    """
    try:
        from nilearn import datasets
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    gm_image = datasets.load_mni152_gm_template(resolution=1)
    gm = np.asarray(gm_image.get_fdata(), dtype=np.float32)
    wm = np.asarray(datasets.load_mni152_wm_template(resolution=1).get_fdata(), dtype=np.float32)
    mask = np.asarray(datasets.load_mni152_brain_mask(resolution=1).get_fdata(), dtype=np.float32)
    gm *= mask
    wm *= mask
    csf = np.clip(mask - gm - wm, 0.0, 1.0)
    affine_mni = np.asarray(gm_image.affine, dtype=np.float64)

    corners = np.argwhere(mask > 0)
    box_centre_voxel = (corners.min(axis=0) + corners.max(axis=0)) / 2
    box_centre_mni = (affine_mni @ np.append(box_centre_voxel, 1.0))[:3]
    fov_centre = (FULL_GRID.affine @ np.append((np.asarray(FULL_GRID.shape) - 1) / 2, 1.0))[:3]
    # MNI world -> BraTS world: scale about the brain's centre, then move it to the FOV centre.
    to_brats = np.eye(4)
    to_brats[:3, :3] *= MNI_TO_BRATS_SCALE
    to_brats[:3, 3] = fov_centre - MNI_TO_BRATS_SCALE * box_centre_mni
    affine = to_brats @ affine_mni
    midline = to_brats @ np.array([0.0, 0.0, 0.0, 1.0])  # the template is symmetric about x=0
    tissues = np.stack([csf, gm, wm]).astype(np.float32)
    return Anatomy(
        tissues,
        Grid((gm.shape[0], gm.shape[1], gm.shape[2]), affine),
        float(midline[0]),
        fov_centre,
    )

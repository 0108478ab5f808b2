"""GANet-Seg labels a whole case slice by slice.

The case's stack is normalised as in training (:func:`mri_seg.inputs.image_stack`), enhanced
when the model was trained so, cut into square axial slices, segmented in batches, re-stacked
onto the case grid, and decoded (:func:`decode`): tumour where the background is less probable
than 1/2, with its most probable tumour class. Class names are BraTS 2023
label names; a whole-tumour model writes its tumour as label 2 (SNFH), so the map scores the
whole tumour (WT) and leaves TC and ET empty. Only the segmentation U-Net runs: the GAN shapes
training, not inference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import NDArray

from mri_io.case import Case
from mri_io.nifti import Volume
from mri_io.slicing import SliceLayout
from mri_io.spacing import resampling_for
from mri_seg.contract import InferenceSettings
from mri_seg.ganet.data import axial_slices, enhance, slice_side
from mri_seg.inputs import image_stack
from mri_seg.postprocess import finish_labels
from mri_seg.segmenter2d.inference import class_labels
from mri_seg.targets import TargetSpec

#: How a case meets the network, recorded in the model folder: square axial slices, the
#: volume padded with the background to the slice side.
CROP = "axial-slices"

if TYPE_CHECKING:
    from mri_seg.ganet.networks import GANetSeg

#: The label convention of the maps GANet-Seg writes.
LABEL_CONVENTION = "brats2023"
#: Slices per forward pass.
SLICE_BATCH = 16
#: The label a whole-tumour model writes for its tumour class.
WHOLE_TUMOUR_LABEL = "SNFH"


def predict_probabilities(
    model: GANetSeg, stack: NDArray[np.float32], device: str | torch.device = "cpu"
) -> NDArray[np.float32]:
    """Class probabilities ``(classes, X, Y, Z)`` of a normalised ``(C, X, Y, Z)`` stack."""
    target = torch.device(device)
    model = model.to(target).eval()
    source = enhance(stack) if model.enhance else stack
    side = slice_side(stack.shape[1:])
    slices = axial_slices(source, side)
    parts = []
    with torch.inference_mode():
        for start in range(0, len(slices), SLICE_BATCH):
            batch = torch.from_numpy(slices[start : start + SLICE_BATCH]).to(target)
            parts.append(torch.softmax(model(batch).float(), dim=1).cpu().numpy())
    layout = SliceLayout.square(stack.shape[1:], "axial", side)
    restacked: NDArray[np.float32] = layout.restack(np.concatenate(parts), fill=0.0)
    return restacked


def decode(probabilities: NDArray[np.float32], classes: tuple[str, ...]) -> NDArray[np.uint8]:
    """BraTS 2023 labels from class probabilities ``(classes, ...)``: tumour where
    P(background) < 1/2 (the whole-tumour mask the GAN term trains), labelled with its most
    probable tumour class. With two classes this is the argmax; with four it keeps voxels
    whose tumour probability is split between sub-regions, which an argmax over all four
    gives to the background (in short runs, every voxel)."""
    names = tuple(WHOLE_TUMOUR_LABEL if n == "tumour" else n for n in classes)
    values = class_labels(names)
    tumour = probabilities[0] < 0.5
    subregion = probabilities[1:].argmax(axis=0) + 1
    labels: NDArray[np.uint8] = np.where(tumour, values[subregion], values[0]).astype(np.uint8)
    return labels


def label_map(
    model: GANetSeg, stack: NDArray[np.float32], device: str | torch.device = "cpu"
) -> NDArray[np.uint8]:
    """The BraTS 2023 label map of a normalised stack (:func:`decode`)."""
    return decode(predict_probabilities(model, stack, device), model.classes)


def segment_case(
    model: GANetSeg,
    case: Case,
    settings: InferenceSettings | None = None,
    *,
    completion: Mapping[str, NDArray[Any]] | None = None,
) -> Volume:
    """The label map of ``case`` on its grid (BraTS 2023 unless ``settings.label_convention``).

    A case of another voxel size or orientation than the model's is segmented on the model's
    grid (its normalised stack reoriented and resampled linearly) and the class probabilities
    brought back before decoding."""
    chosen = settings or InferenceSettings()
    stack = image_stack(case, model.sequences, completion)
    reference = next(iter(case.images.values()))
    resampling = resampling_for(reference, model.spacing, model.orientation)
    at_model = resampling.forward(stack).astype(np.float32)
    probabilities = resampling.back(predict_probabilities(model, at_model, chosen.device))
    labels = decode(probabilities, model.classes)
    return finish_labels(case, labels, chosen, TargetSpec("labels", LABEL_CONVENTION))

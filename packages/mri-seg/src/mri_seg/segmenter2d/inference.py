"""The 2D segmenter labels a whole case: every slice of every view, probabilities averaged.

The case's stack is normalised as in training (:func:`mri_seg.inputs.image_stack`), cut into
square slices of each of the model's views (padded with the background to a multiple of 8, as
in training), segmented in batches with the case's tumour type (from its BraTS identifier
unless given), re-stacked, and the softmax probabilities of the views are averaged before the
most probable class is taken. Classes are named after the BraTS 2023 labels (``NETC``,
``SNFH``, ``ET``), so the label map follows that convention.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import NDArray

from mri_io.case import Case
from mri_io.intensity import BACKGROUND
from mri_io.labels import get_label_convention
from mri_io.nifti import Volume
from mri_io.slicing import SliceLayout, View, view_axis
from mri_io.spacing import resampling_for
from mri_seg.contract import InferenceSettings
from mri_seg.inputs import image_stack
from mri_seg.postprocess import finish_labels
from mri_seg.segmenter2d.data import tumour_type_of
from mri_seg.targets import TargetSpec

#: How a case meets the network, recorded in the model folder: square slices of each view, the
#: volume padded with the background to a multiple of the network's divisor.
CROP = "view-slices"

if TYPE_CHECKING:
    from mri_seg.segmenter2d.networks import Segmenter2D

#: The label convention whose label names the 2D segmenter's classes carry.
LABEL_CONVENTION = "brats2023"
#: Slices per forward pass.
SLICE_BATCH = 16


def class_labels(classes: tuple[str, ...]) -> NDArray[np.uint8]:
    """The label value of each class (``background`` 0, the others by their BraTS 2023 name)."""
    by_name = {name: value for value, name in get_label_convention(LABEL_CONVENTION).labels.items()}
    by_name["background"] = 0
    unknown = [name for name in classes if name not in by_name]
    if unknown:
        raise ValueError(f"classes {unknown} are not labels of {LABEL_CONVENTION}")
    return np.array([by_name[name] for name in classes], dtype=np.uint8)


def predict_probabilities(
    model: Segmenter2D,
    images: NDArray[np.float32],
    tumour_type: str,
    device: str | torch.device = "cpu",
) -> NDArray[np.float32]:
    """Class probabilities ``(classes, X, Y, Z)`` of one normalised stack ``(C, X, Y, Z)``,
    averaged over the model's views."""
    shape = images.shape[1:]
    target = torch.device(device)
    model = model.to(target).eval()
    total = np.zeros((len(model.classes), *shape), dtype=np.float32)
    for view_name in model.views:
        view: View = view_name  # type: ignore[assignment]
        plane = max(n for axis, n in enumerate(shape) if axis != view_axis(view))
        side = -(-plane // model.divisor) * model.divisor
        layout = SliceLayout.square(shape, view, side)
        slices = layout.slices(images, pad=BACKGROUND).astype(np.float32)
        parts = []
        with torch.inference_mode():
            for start in range(0, len(slices), SLICE_BATCH):
                batch = torch.from_numpy(slices[start : start + SLICE_BATCH]).to(target)
                views, kinds = model.codes([view] * len(batch), [tumour_type] * len(batch))
                logits = model(batch, views.to(target), kinds.to(target))
                parts.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
        total += layout.restack(np.concatenate(parts), fill=0.0)
    averaged: NDArray[np.float32] = total / np.float32(len(model.views))
    return averaged


def segment_case(
    model: Segmenter2D,
    case: Case,
    settings: InferenceSettings | None = None,
    *,
    completion: Mapping[str, NDArray[Any]] | None = None,
    tumour_type: str | None = None,
) -> Volume:
    """The label map of ``case`` (BraTS 2023 labels unless ``settings.label_convention``).

    A case of another voxel size or orientation than the model's is segmented on the model's
    grid and the class probabilities brought back before the most probable class is taken."""
    chosen = settings or InferenceSettings()
    images = image_stack(case, model.sequences, completion)
    kind = tumour_type or tumour_type_of(case.case_id)
    reference = next(iter(case.images.values()))
    resampling = resampling_for(reference, model.spacing, model.orientation)
    at_model = resampling.forward(images).astype(np.float32)
    probabilities = resampling.back(predict_probabilities(model, at_model, kind, chosen.device))
    labels = class_labels(model.classes)[probabilities.argmax(axis=0)]
    return finish_labels(case, labels, chosen, TargetSpec("labels", LABEL_CONVENTION))

"""The 3D U-Net segments whole volumes: sliding-window inference and label decoding.

MONAI's ``sliding_window_inference`` does the tiling with Gaussian blending (windows weigh
their centre more than their border, where a U-Net sees less context). ``device`` runs the
network; ``output_device`` holds the stitched full-volume probabilities, so a 240x240x155 case
can run windows on a GPU while the accumulated output stays in CPU memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from monai.inferers.utils import sliding_window_inference
from numpy.typing import NDArray

from mri_io.case import Case
from mri_io.nifti import Volume
from mri_seg.contract import InferenceSettings
from mri_seg.inputs import image_stack
from mri_seg.postprocess import finish_labels

if TYPE_CHECKING:
    from mri_seg.unet.networks import UNet3D


def predict_probabilities(
    model: UNet3D, images: NDArray[np.float32] | torch.Tensor, settings: InferenceSettings
) -> torch.Tensor:
    """Per-channel probabilities ``(channels, X, Y, Z)`` of one case's input stack.

    Windows are the model's ``roi_size`` (or ``settings.roi_size``), clipped to the volume and
    rounded up to a multiple of the network's stride product; MONAI pads the volume where a
    window is larger. The model is moved to ``settings.device`` and put in eval mode.
    """
    volume = torch.as_tensor(images, dtype=torch.float32)
    if volume.ndim != 4:
        raise ValueError(f"expected (channels, X, Y, Z) images, got shape {tuple(volume.shape)}")
    roi = settings.roi_size or model.roi_size
    divisor = model.divisor
    window = tuple(
        -(-min(int(r), int(s)) // divisor) * divisor
        for r, s in zip(roi, volume.shape[1:], strict=True)
    )
    device = torch.device(settings.device)
    model = model.to(device).eval()
    with torch.inference_mode():
        logits = sliding_window_inference(
            volume[None],
            roi_size=window,
            sw_batch_size=settings.sw_batch_size,
            predictor=model,
            overlap=settings.overlap,
            mode=settings.mode,
            sw_device=device,
            device=torch.device(settings.output_device),
        )
        assert isinstance(logits, torch.Tensor)
        return model.target.activation(logits)[0]


def segment_case(
    model: UNet3D,
    case: Case,
    settings: InferenceSettings | None = None,
    *,
    completion: Mapping[str, NDArray[Any]] | None = None,
) -> Volume:
    """The label map of ``case`` on its own grid (uint8 volume sharing the input's geometry).

    A missing sequence needs an entry in ``completion`` (scanner-intensity array); otherwise
    :class:`mri_io.errors.MissingSequenceError` names it. Small components are removed per
    ``settings.min_sizes`` and labels converted to ``settings.label_profile`` if given.
    """
    chosen = settings or InferenceSettings()
    images = image_stack(case, model.sequences, completion)
    probabilities = predict_probabilities(model, images, chosen)
    labels = model.target.decode(probabilities).cpu().numpy()
    return finish_labels(case, labels, chosen, model.target)

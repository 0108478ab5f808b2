"""The 3D U-Net segments whole volumes: sliding-window inference and label decoding.

A network learns features at the voxel size it was trained on; a case of another voxel size
(1 mm data for a model trained at 2 mm) is resampled to the model's ``spacing`` (linear), run,
and its probabilities resampled back to the case's own grid (linear) before decoding, so the
labels share the input's exact geometry. A case in another orientation than the model's
training cases is first reoriented to it (axes permuted and flipped, exact) and back.

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
from mri_io.spacing import resampling_for
from mri_seg.contract import InferenceSettings
from mri_seg.inputs import image_stack, missing_sequence_error
from mri_seg.postprocess import finish_labels
from mri_seg.unet.robust import encode

#: How a case of any shape meets the network, recorded in the model folder: the whole volume,
#: in sliding windows of ``roi_size`` (padded where the volume is smaller).
CROP = "sliding-window"

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
    :class:`mri_io.errors.MissingSequenceError` names it, unless the model was trained for
    incomplete cases (``availability``). Small components are removed per
    ``settings.min_sizes`` and labels converted to ``settings.label_convention`` if given.
    """
    chosen = settings or InferenceSettings()
    images = case_inputs(model, case, completion)
    reference = next(iter(case.images.values()))
    resampling = resampling_for(reference, model.spacing, model.orientation)
    if resampling.identity:
        probabilities = predict_probabilities(model, images, chosen)
    else:
        resampled = resampling.forward(images).astype(np.float32)
        at_model = predict_probabilities(model, resampled, chosen).cpu().numpy()
        probabilities = torch.from_numpy(resampling.back(at_model))
    labels = model.target.decode(probabilities).cpu().numpy()
    return finish_labels(case, labels, chosen, model.target)


def case_inputs(
    model: UNet3D, case: Case, completion: Mapping[str, NDArray[Any]] | None = None
) -> NDArray[np.float32]:
    """The network input of ``case``: its normalised sequences (missing ones encoded, for a
    robust model), the anomaly map of a KLE model, the availability code of a robust one."""
    if not model.availability:
        return stack_inputs(model, image_stack(case, model.sequences, completion))
    given = dict(completion or {})
    present = tuple(key in case.images or key in given for key in model.sequences)
    if not any(present):
        raise missing_sequence_error(None, case.case_id, model.sequences, model.sequences)
    kept = [key for key, flag in zip(model.sequences, present, strict=True) if flag]
    stack = image_stack(case, kept, given)
    full = np.zeros((len(model.sequences), *stack.shape[1:]), dtype=np.float32)
    full[list(np.flatnonzero(present))] = stack
    return encode(torch.from_numpy(full), present).numpy()


def stack_inputs(model: UNet3D, stack: NDArray[np.float32]) -> NDArray[np.float32]:
    """The network input of a complete normalised ``(sequences, X, Y, Z)`` stack."""
    basis = model.kle_basis()
    if basis is not None:
        return np.concatenate([stack, basis.anomaly(stack)[None]])
    if model.availability:
        return encode(torch.from_numpy(stack), (True,) * len(model.sequences)).numpy()
    return stack

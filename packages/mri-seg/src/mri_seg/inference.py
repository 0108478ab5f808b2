"""Segment whole volumes: sliding-window inference, label decoding, writing label maps.

MONAI's ``sliding_window_inference`` does the tiling with Gaussian blending (windows weigh
their centre more than their border, where a U-Net sees less context). ``device`` runs the
network; ``output_device`` holds the stitched full-volume probabilities, so a 240x240x155 case
can run windows on a GPU while the accumulated output stays in CPU memory.

A written label map reuses the geometry (affine and header) of the case's first input image,
so it lies exactly on the input grid, and uses the label profile asked for (BraTS 2021 files
want label 4 for ET, BraTS 2023 label 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.inferers.utils import sliding_window_inference
from numpy.typing import NDArray

from mri_io.case import Case, load_case
from mri_io.labels import convert_labels
from mri_io.layouts import CaseFiles, brats2023_filename
from mri_io.nifti import Volume, save_volume
from mri_seg.data import image_stack
from mri_seg.networks.unet3d import UNet3D
from mri_seg.postprocess import remove_small_components


@dataclass(frozen=True)
class InferenceSettings:
    """How to tile a volume: window size (model default when None), overlap, blending."""

    roi_size: tuple[int, int, int] | None = None
    overlap: float = 0.5
    sw_batch_size: int = 1
    mode: str = "gaussian"
    device: str = "cpu"
    output_device: str = "cpu"
    min_sizes: Mapping[str, int] = field(default_factory=dict)
    label_profile: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.overlap < 1:
            raise ValueError(f"overlap must be in [0, 1), got {self.overlap}")
        if self.mode not in ("gaussian", "constant"):
            raise ValueError(f"blending mode must be gaussian or constant, got {self.mode!r}")


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
    if chosen.min_sizes:
        labels = remove_small_components(labels, chosen.min_sizes, model.target)
    profile = model.target.label_profile
    if chosen.label_profile is not None and chosen.label_profile != profile:
        labels = convert_labels(labels, profile, chosen.label_profile)
    reference = _reference_volume(case)
    return reference.with_data(labels.astype(np.uint8))


def _reference_volume(case: Case) -> Volume:
    for volume in case.images.values():
        return volume
    raise ValueError(f"case {case.case_id} has no image to take the geometry from")


def prediction_path(out_dir: str | PathLike[str], case_id: str) -> Path:
    """Where :func:`predict_to_file` writes a case: ``OUT/{case_id}-seg.nii.gz``."""
    return Path(out_dir) / brats2023_filename(case_id, "seg")


def predict_to_file(
    model: UNet3D,
    source: CaseFiles | str | PathLike[str],
    out_dir: str | PathLike[str],
    settings: InferenceSettings | None = None,
    *,
    completion: Mapping[str, NDArray[Any]] | None = None,
) -> Path:
    """Segment one case (folder or :class:`CaseFiles`) and write its label map atomically."""
    case = load_case(source)
    labels = segment_case(model, case, settings, completion=completion)
    return save_volume(labels, prediction_path(out_dir, case.case_id), dtype="uint8")

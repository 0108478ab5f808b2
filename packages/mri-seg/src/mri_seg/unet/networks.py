"""The 3D U-Net that segments a four-sequence case: MONAI's residual ``UNet`` plus a config.

MONAI's network is kept as it is; this module adds what a released model needs around it:
named presets, the sequences the input channels hold, the output encoding
(:class:`~mri_seg.targets.TargetSpec`) and the sliding-window settings it was trained for, all
stored in ``config.json`` by :meth:`~mri_seg.loader.PretrainedModel.save_pretrained`. It is a
:class:`~mri_seg.contract.Segmenter`: :meth:`UNet3D.segment` labels a case by sliding window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from monai.networks.nets.unet import UNet
from numpy.typing import NDArray

from mri_io.case import Case
from mri_io.nifti import Volume
from mri_io.sequences import SEQUENCES, canonical_sequence
from mri_io.spacing import model_orientation, model_spacing, recorded_choice
from mri_seg.contract import InferenceSettings
from mri_seg.inputs import NORMALISATION
from mri_seg.loader import PretrainedModel, register_model
from mri_seg.targets import TargetSpec
from mri_seg.unet.inference import CROP, segment_case
from mri_seg.unet.kle import KLEBasis


@dataclass(frozen=True)
class UNetPreset:
    """Architecture and sliding-window size of a named 3D U-Net."""

    channels: tuple[int, ...]
    strides: tuple[int, ...]
    num_res_units: int
    roi_size: tuple[int, int, int]
    description: str


#: ``brats``: MONAI's BraTS-scale residual U-Net (16..256 features, 2 residual units per level,
#: 4,810,074 parameters with 4 inputs and 3 region outputs), windows of 128^3 voxels.
#: ``tiny``: 8..64 features, 1 residual unit (152,498 parameters), 64^3 windows, for CPU tests
#: and the synthetic half-resolution cohort.
UNET_PRESETS: dict[str, UNetPreset] = {
    "brats": UNetPreset(
        (16, 32, 64, 128, 256), (2, 2, 2, 2), 2, (128, 128, 128), "BraTS scale, 4.8M parameters"
    ),
    "tiny": UNetPreset((8, 16, 32, 64), (2, 2, 2), 1, (64, 64, 64), "CPU scale, 0.15M parameters"),
}

#: Buffer (weights file) names of a KLE model's basis arrays.
KLE_BUFFERS = {"mean": "kle_mean", "basis": "kle_vectors", "variances": "kle_variances"}


@register_model
class UNet3D(PretrainedModel):
    """A MONAI residual 3D U-Net over the channels ``sequences``, emitting logits.

    The input is ``(batch, input_channels, X, Y, Z)`` with every side a multiple of
    ``prod(strides)``; the output ``(batch, target.channels, X, Y, Z)`` holds logits (apply
    :meth:`TargetSpec.activation` for probabilities). Build one from a preset with
    :meth:`from_preset`.

    The channels are the sequences, then with ``kle`` (the description of a
    :class:`~mri_seg.unet.kle.KLEBasis`, whose arrays are buffers saved with the weights, so
    the model folder carries the basis) the anomaly map, then with ``availability`` one
    availability channel per sequence (:mod:`mri_seg.unet.robust`): such a model segments
    cases lacking sequences.
    """

    model_type = "unet3d"

    def __init__(
        self,
        *,
        channels: Sequence[int],
        strides: Sequence[int],
        num_res_units: int,
        roi_size: Sequence[int],
        sequences: Sequence[str] = SEQUENCES,
        target: dict[str, Any] | None = None,
        dropout: float = 0.0,
        preset: str | None = None,
        spacing: Sequence[float] | None = None,
        kle: dict[str, Any] | None = None,
        availability: bool = False,
        orientation: Sequence[str] | None = None,
        normalisation: str | None = None,
        crop: str | None = None,
    ) -> None:
        super().__init__()
        keys = tuple(canonical_sequence(name) for name in sequences)
        if len(set(keys)) != len(keys) or not keys:
            raise ValueError(f"sequences must be distinct and non-empty, got {tuple(sequences)}")
        if len(channels) != len(strides) + 1:
            raise ValueError("a U-Net needs one more channel count than strides")
        if len(roi_size) != 3:
            raise ValueError(f"roi_size must have 3 sides, got {tuple(roi_size)}")
        spec = TargetSpec() if target is None else TargetSpec.from_json(target)
        self.sequences = keys
        self.target = spec
        self.roi_size = (int(roi_size[0]), int(roi_size[1]), int(roi_size[2]))
        #: Voxel size (mm) and axis codes of the training cases; inference brings other
        #: cases to them (:func:`mri_io.spacing.resampling_for`).
        self.spacing = model_spacing(spacing)
        self.orientation = model_orientation(orientation)
        self.config = {
            "preset": preset,
            "channels": [int(c) for c in channels],
            "strides": [int(s) for s in strides],
            "num_res_units": int(num_res_units),
            "roi_size": list(self.roi_size),
            "sequences": list(keys),
            "target": spec.to_json(),
            "dropout": float(dropout),
            "spacing": None if self.spacing is None else list(self.spacing),
            "orientation": None if self.orientation is None else list(self.orientation),
            "normalisation": recorded_choice("normalisation", normalisation, NORMALISATION),
            "crop": recorded_choice("crop/pad policy", crop, CROP),
        }
        if kle is not None and availability:
            raise ValueError("a KLE model needs every sequence: kle and availability exclude")
        self.availability = bool(availability)
        self.kle = None if kle is None else self._kle_buffers(kle, keys)
        # Written only when used, so folders saved before these options keep their config.
        if self.kle is not None:
            self.config["kle"] = self.kle
        if self.availability:
            self.config["availability"] = True
        self.net = UNet(
            spatial_dims=3,
            in_channels=self.input_channels,
            out_channels=spec.channels,
            channels=tuple(channels),
            strides=tuple(strides),
            num_res_units=num_res_units,
            dropout=dropout,
        )

    def _kle_buffers(self, kle: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
        """Zeroed buffers of the basis ``kle`` describes (filled by the weights or
        :meth:`from_preset`); its checked description."""
        description: dict[str, Any] = {
            "sequences": [str(s) for s in kle["sequences"]],
            "grid": int(kle["grid"]),
            "cases": int(kle["cases"]),
            "components": int(kle["components"]),
        }
        if tuple(description["sequences"]) != keys:
            raise ValueError(f"the KLE covers {description['sequences']}, the model {list(keys)}")
        size = len(keys) * description["grid"] ** 3
        components = description["components"]
        shapes = {"mean": (size,), "basis": (components, size), "variances": (components,)}
        for name, shape in shapes.items():
            self.register_buffer(KLE_BUFFERS[name], torch.zeros(shape))
        return description

    @property
    def input_channels(self) -> int:
        """Channels of the network's input: sequences, anomaly map, availability code."""
        anomaly = 1 if self.kle is not None else 0
        code = len(self.sequences) if self.availability else 0
        return len(self.sequences) + anomaly + code

    @property
    def required_sequences(self) -> tuple[str, ...]:
        """None in particular for a robust model (any one of its sequences will do), else all."""
        return () if self.availability else self.sequences

    def kle_basis(self) -> KLEBasis | None:
        """The KLE basis the model carries, if it takes the anomaly channel."""
        if self.kle is None:
            return None
        arrays = {
            name: getattr(self, KLE_BUFFERS[name]).detach().cpu().numpy()
            for name in ("mean", "basis", "variances")
        }
        return KLEBasis.from_arrays(self.kle, arrays)

    @classmethod
    def from_preset(
        cls,
        preset: str,
        *,
        sequences: Sequence[str] = SEQUENCES,
        target: TargetSpec | None = None,
        roi_size: Sequence[int] | None = None,
        spacing: Sequence[float] | None = None,
        kle: KLEBasis | None = None,
        availability: bool = False,
        orientation: Sequence[str] | None = None,
    ) -> UNet3D:
        """A freshly initialised network of preset ``"brats"`` or ``"tiny"`` for cases of voxel
        size ``spacing`` (mm) and axis codes ``orientation`` (``None``: any, never resampled or
        reoriented), taking the anomaly channel of ``kle`` and/or the availability code if
        given."""
        if preset not in UNET_PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(UNET_PRESETS)}")
        chosen = UNET_PRESETS[preset]
        model = cls(
            channels=chosen.channels,
            strides=chosen.strides,
            num_res_units=chosen.num_res_units,
            roi_size=chosen.roi_size if roi_size is None else roi_size,
            sequences=sequences,
            target=(target or TargetSpec()).to_json(),
            preset=preset,
            spacing=spacing,
            kle=None if kle is None else kle.describe(),
            availability=availability,
            orientation=orientation,
        )
        if kle is not None:
            with torch.no_grad():
                for name, array in kle.arrays().items():
                    getattr(model, KLE_BUFFERS[name]).copy_(torch.from_numpy(array))
        return model

    @property
    def label_convention(self) -> str:
        """The label convention of the maps :meth:`segment` returns."""
        return self.target.label_convention

    def segment(
        self,
        case: Case,
        *,
        completion: Mapping[str, NDArray[Any]] | None = None,
        settings: InferenceSettings | None = None,
    ) -> Volume:
        """The label map of ``case`` by sliding window (:func:`~mri_seg.segment_case`)."""
        return segment_case(self, case, settings, completion=completion)

    @property
    def divisor(self) -> int:
        """Every input side must be a multiple of this (the product of the strides)."""
        product = 1
        for stride in self.config["strides"]:
            product *= int(stride)
        return product

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits for ``images`` of shape ``(batch, input_channels, X, Y, Z)``."""
        if images.ndim != 5 or images.shape[1] != self.input_channels:
            raise ValueError(
                f"expected input (batch, {self.input_channels}, X, Y, Z), got {tuple(images.shape)}"
            )
        logits: torch.Tensor = self.net(images)
        return logits

"""SynthTumour's junior and senior models: the suite's 3D U-Net with the stage it was trained in.

Both stages use one architecture (the method changes the training data, not the network), so
the model is :class:`mri_seg.unet.UNet3D` under its own kind, ``synthtumour``, whose
``config.json`` also records ``stage`` (``junior`` or ``senior``): a model folder says which
stage made it, and :func:`mri_seg.load_segmenter` and ``mri-seg predict`` read either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from mri_io.sequences import SEQUENCES
from mri_seg.loader import register_model
from mri_seg.targets import TargetSpec
from mri_seg.unet.networks import UNET_PRESETS, UNet3D

Stage = Literal["junior", "senior"]
STAGES: tuple[Stage, ...] = ("junior", "senior")


@register_model
class SynthTumourUNet(UNet3D):
    """A 3D U-Net trained by SynthTumour; ``stage`` says whether it is the junior model
    (stage-1 synthetic tumours) or the senior one (mixes of pseudo-labelled real tumours)."""

    model_type = "synthtumour"

    def __init__(self, *, stage: str = "junior", **unet: Any) -> None:
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        super().__init__(**unet)
        self.stage = stage
        self.config["stage"] = stage

    @classmethod
    def for_stage(
        cls,
        stage: Stage,
        preset: str,
        *,
        sequences: Sequence[str] = SEQUENCES,
        spacing: Sequence[float] | None = None,
        orientation: Sequence[str] | None = None,
    ) -> SynthTumourUNet:
        """A freshly initialised model of ``stage`` with the U-Net ``preset``, emitting the
        BraTS regions (WT, TC, ET) of cases of voxel size ``spacing`` and axis codes
        ``orientation``."""
        if preset not in UNET_PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(UNET_PRESETS)}")
        chosen = UNET_PRESETS[preset]
        return cls(
            stage=stage,
            channels=chosen.channels,
            strides=chosen.strides,
            num_res_units=chosen.num_res_units,
            roi_size=chosen.roi_size,
            sequences=sequences,
            target=TargetSpec().to_json(),
            preset=preset,
            spacing=spacing,
            orientation=orientation,
        )

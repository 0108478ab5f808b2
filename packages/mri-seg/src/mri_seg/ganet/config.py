"""Settings of a GANet-Seg run (``run.json``) and the network sizes of its presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

#: What the segmentation U-Net predicts: the whole tumour (the paper) or the BraTS
#: sub-regions (the paper's future work; the GAN term then acts on the whole-tumour mask).
CLASS_MODES = ("whole", "subregions")
#: How phase 2 balances its loss terms: by gradient norm (the paper) or by loss value.
WEIGHTINGS = ("gradient", "loss")
#: Hole shapes drawn for the inpainting GAN's pre-training.
HOLE_KINDS = ("square", "disc", "tumour")
#: Every slice side must be a multiple of this (the U-Nets pool four times).
DIVISOR = 16


@dataclass(frozen=True)
class GANetPreset:
    """Feature widths of the three networks (MONAI ``BasicUNet`` takes six numbers: five
    encoder levels and the last decoder level) and the PatchGAN's first width."""

    segmenter: tuple[int, ...]
    generator: tuple[int, ...]
    discriminator: int
    description: str


#: ``paper``: a 32..512 segmentation U-Net, a pix2pix-sized 64..512 inpainting U-Net and the
#: 70x70 PatchGAN (64..512); ``tiny``: 8..64 widths for CPU tests and the synthetic cohort.
GANET_PRESETS: dict[str, GANetPreset] = {
    "paper": GANetPreset(
        (32, 64, 128, 256, 512, 32), (64, 128, 256, 512, 512, 64), 64, "paper scale"
    ),
    "tiny": GANetPreset((8, 16, 32, 64, 64, 8), (8, 16, 32, 64, 64, 8), 8, "CPU scale"),
}


@dataclass(frozen=True)
class GANetConfig:
    """Settings of both stages of a GANet-Seg run.

    Stage 1 (the inpainting GAN on healthy slices): ``gan_epochs`` of ``gan_steps_per_epoch``
    generator steps, the discriminator stepped once per ``d_every`` generator steps, Adam
    ``gan_learning_rate`` with betas (0.5, 0.999), loss BCE + ``l1_weight`` * L1.
    Stage 2 (the segmentation U-Net): ``epochs`` of ``steps_per_epoch`` steps, the first
    ``phase1_epochs`` with the segmentation loss only, then every term balanced by
    ``weighting``; ``adversarial=False`` drops the GAN feedback term (the ablation).
    ``max_minutes`` and ``device`` may change when a run is resumed, nothing else may.
    """

    preset: str = "tiny"
    classes: str = "whole"
    enhance: bool = False
    gan_epochs: int = 10
    gan_steps_per_epoch: int = 50
    gan_batch_size: int = 8
    gan_learning_rate: float = 1e-4
    l1_weight: float = 100.0
    d_every: int = 5
    holes: tuple[str, ...] = HOLE_KINDS
    epochs: int = 20
    steps_per_epoch: int = 50
    batch_size: int = 8
    learning_rate: float = 3e-3
    weight_decay: float = 1e-5
    poly_power: float = 0.9
    phase1_epochs: int = 10
    weighting: str = "gradient"
    adversarial: bool = True
    tumour_share: float = 0.5
    min_brain_fraction: float = 0.05
    val_fraction: float = 0.2
    seed: int = 0
    amp: bool = True
    device: str | None = None
    max_minutes: float | None = None

    def __post_init__(self) -> None:
        for name in (
            "gan_epochs",
            "gan_steps_per_epoch",
            "gan_batch_size",
            "d_every",
            "epochs",
            "steps_per_epoch",
            "batch_size",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        choices = {
            "preset": tuple(GANET_PRESETS),
            "classes": CLASS_MODES,
            "weighting": WEIGHTINGS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        unknown = set(self.holes) - set(HOLE_KINDS)
        if not self.holes or unknown:
            raise ValueError(f"holes must be some of {HOLE_KINDS}, got {self.holes}")
        if not 0 <= self.phase1_epochs <= self.epochs:
            raise ValueError(f"phase1_epochs must be in [0, epochs], got {self.phase1_epochs}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if not 0 <= self.tumour_share <= 1:
            raise ValueError(f"tumour_share must be in [0, 1], got {self.tumour_share}")

    @property
    def sizes(self) -> GANetPreset:
        """The network widths of :attr:`preset`."""
        return GANET_PRESETS[self.preset]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return {**asdict(self), "holes": list(self.holes)}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> GANetConfig:
        """The settings :meth:`to_json` wrote (unknown keys refused by the constructor)."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(document) - known)
        if unknown:
            raise ValueError(f"unknown GANet-Seg settings {unknown}")
        return cls(**{**document, "holes": tuple(document.get("holes", HOLE_KINDS))})

    def gan_json(self) -> dict[str, Any]:
        """The settings stage 1 depends on (the pre-training run's ``run.json``)."""
        keys: tuple[str, ...] = ("preset", "gan_epochs", "gan_steps_per_epoch", "gan_batch_size")
        keys += ("gan_learning_rate", "l1_weight", "d_every", "min_brain_fraction", "seed")
        return {**{key: getattr(self, key) for key in keys}, "holes": list(self.holes)}


#: Settings that may change when a run is resumed.
RESUMABLE = frozenset({"max_minutes", "device"})

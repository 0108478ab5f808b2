"""Settings of a SynthTumour run (``run.json`` in the run folder and in each stage's folder)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from mri_io.sequences import SEQUENCES
from mri_seg.synthtumour.tumours import ShapeModel
from mri_seg.unet.config import TrainConfig
from mri_seg.unet.networks import UNET_PRESETS

#: Where the senior model starts: a fresh model, or the junior's selected weights.
SENIOR_INITS = ("scratch", "junior")

#: Settings that may change when a run is resumed; the others shape the result.
RESUMABLE = frozenset({"max_minutes", "device", "workers"})


@dataclass(frozen=True)
class SynthTumourConfig:
    """Settings of a two-stage run: the junior model trained on stage-1 synthetic tumours in
    healthy brains, the senior model on healthy brains mixed with the junior's pseudo-labelled
    real tumours plus those real cases.

    ``preset`` is the 3D U-Net of both models (:data:`mri_seg.unet.UNET_PRESETS`).
    ``val_fraction`` of the healthy brains is held out; ``val_cases`` synthetic cases with
    hard-mask, original-texture tumours are drawn in them once and select the best epoch of
    both stages (the distribution-shifted validation set). ``real_share`` is the probability
    that a senior sample is a pseudo-labelled real case rather than a mix. ``senior_init``
    says where the senior model starts: ``"scratch"`` (a fresh model, the two-stage scheme as
    described) or ``"junior"`` (the junior's selected weights, then trained on the stage-2
    data: a short budget need not relearn what stage 1 taught). The remaining fields
    mean what they mean for :class:`mri_seg.unet.TrainConfig`, whose augmentation both stages
    apply after synthesis (:meth:`augmentation`).
    """

    preset: str = "tiny"
    sequences: tuple[str, ...] = SEQUENCES
    junior_epochs: int = 20
    senior_epochs: int = 20
    steps_per_epoch: int = 20
    batch_size: int = 2
    crop: tuple[int, int, int] | None = None
    learning_rate: float = 1e-3
    weight_decay: float = 1e-5
    foreground_fraction: float = 0.5
    val_fraction: float = 0.2
    val_cases: int = 4
    real_share: float = 0.5
    senior_init: str = "scratch"
    min_volume: float = 20000.0
    max_volume: float = 80000.0
    overlap: float = 0.25
    seed: int = 0
    amp: bool = True
    device: str | None = None
    max_minutes: float | None = None
    workers: int = 0

    def __post_init__(self) -> None:
        if self.preset not in UNET_PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose {', '.join(UNET_PRESETS)}")
        for name in ("junior_epochs", "senior_epochs", "steps_per_epoch", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.val_cases < 1:
            raise ValueError(f"val_cases must be >= 1, got {self.val_cases}")
        if not 0 <= self.real_share <= 1:
            raise ValueError(f"real_share must be in [0, 1], got {self.real_share}")
        if self.senior_init not in SENIOR_INITS:
            raise ValueError(
                f"senior_init must be one of {', '.join(SENIOR_INITS)}, got {self.senior_init!r}"
            )
        self.shape_model()
        self.augmentation()

    def shape_model(self) -> ShapeModel:
        """The stage-1 tumour shape model with this run's volume range (mm^3)."""
        return ShapeModel(self.min_volume, self.max_volume)

    def augmentation(self) -> TrainConfig:
        """The 3D U-Net settings whose crop and augmentation
        (:func:`mri_seg.unet.training_transforms`) follow synthesis in both stages."""
        return TrainConfig(
            preset=self.preset,
            sequences=self.sequences,
            crop=self.crop,
            batch_size=self.batch_size,
            foreground_fraction=self.foreground_fraction,
            workers=self.workers,
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready settings."""
        fields = asdict(self)
        fields["sequences"] = list(self.sequences)
        fields["crop"] = None if self.crop is None else list(self.crop)
        return fields

    @classmethod
    def from_json(cls, fields: dict[str, Any]) -> SynthTumourConfig:
        """The settings :meth:`to_json` wrote."""
        values = dict(fields)
        values["sequences"] = tuple(values["sequences"])
        values["crop"] = None if values["crop"] is None else tuple(values["crop"])
        values.setdefault("senior_init", "scratch")  # runs written before the setting existed
        return cls(**values)


#: ``paper``: the BraTS-scale U-Net on 128^3 crops, long enough for a GPU. ``tiny``: the CPU
#: U-Net on 32^3 crops of the 4 mm synthetic grid, a few steps, for tests.
SYNTHTUMOUR_PRESETS: dict[str, SynthTumourConfig] = {
    "paper": SynthTumourConfig(
        preset="brats", junior_epochs=100, senior_epochs=100, steps_per_epoch=250, val_cases=20
    ),
    "tiny": SynthTumourConfig(
        preset="tiny",
        junior_epochs=2,
        senior_epochs=2,
        steps_per_epoch=3,
        batch_size=1,
        crop=(32, 32, 32),
        val_cases=2,
    ),
}


def preset_config(name: str, **changes: Any) -> SynthTumourConfig:
    """The named preset with ``changes`` applied."""
    if name not in SYNTHTUMOUR_PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose {', '.join(SYNTHTUMOUR_PRESETS)}")
    return replace(SYNTHTUMOUR_PRESETS[name], **changes)

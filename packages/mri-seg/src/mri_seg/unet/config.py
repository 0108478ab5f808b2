"""Settings of a 3D U-Net training run (``run.json`` in the run folder)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from mri_io.labels import upgrade_saved_keys
from mri_io.sequences import SEQUENCES
from mri_seg.targets import OutputKind, TargetSpec
from mri_seg.unet.kle import KLE_COMPONENTS
from mri_seg.unet.networks import UNET_PRESETS
from mri_seg.unet.robust import SequenceDropout

#: Settings that may change when a run is resumed (the schedule spans ``epochs``, so that may
#: not).
RESUMABLE = frozenset({"max_minutes", "device", "tensorboard", "workers", "cache"})

CacheKind = Literal["disk", "memory"]
CACHE_KINDS: tuple[CacheKind, ...] = ("disk", "memory")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of a training run (stored as ``run.json`` in the run folder).

    ``crop`` defaults to the preset's window. ``max_minutes`` stops after the first epoch that
    ends past the budget (the schedule still spans ``epochs``). ``device`` as in
    :func:`mri_io.training.resolve_device` (``None``: CUDA when available). ``amp`` applies
    only on CUDA. ``workers`` loader processes per training process and ``cache`` (``disk``:
    normalised cases in ``RUN/cache``; ``memory``: every case held in memory) change the speed,
    never the result. The ``*_prob`` fields are the probabilities of the random transforms
    (:func:`mri_seg.unet.data.training_transforms`): each flip (per axis), intensity scaling
    (x(1 +- 0.1)) and shift (+- 0.1), Gaussian noise (sd 0.1), bias field (coefficients up to
    0.1), contrast (gamma 0.7-1.5) and a rotation (up to 15 degrees about each axis) with
    scaling (up to +- 10 %) of the crop, off by default.

    ``kle`` adds the KLE anomaly channel (:mod:`mri_seg.unet.kle`, ``kle_components``
    coefficients, fitted on the training split). ``sequence_dropout`` > 0 trains a
    missing-sequence-robust model (:mod:`mri_seg.unet.robust`): that share of samples keeps only
    one of ``keep_subsets`` (default: every non-empty proper subset). The two do not combine:
    the anomaly channel is computed from every sequence.
    """

    preset: str = "tiny"
    output: OutputKind = "regions"
    label_convention: str = "brats2023"
    sequences: tuple[str, ...] = SEQUENCES
    epochs: int = 50
    steps_per_epoch: int = 20
    batch_size: int = 2
    crop: tuple[int, int, int] | None = None
    learning_rate: float = 1e-3
    weight_decay: float = 1e-5
    foreground_fraction: float = 0.5
    val_fraction: float = 0.2
    val_every: int = 1
    overlap: float = 0.25
    seed: int = 0
    amp: bool = True
    device: str | None = None
    max_minutes: float | None = None
    tensorboard: bool = False
    workers: int = 2
    cache: CacheKind = "disk"
    flip_prob: float = 0.5
    scale_intensity_prob: float = 0.15
    shift_intensity_prob: float = 0.15
    noise_prob: float = 0.1
    bias_field_prob: float = 0.1
    contrast_prob: float = 0.1
    affine_prob: float = 0.0
    kle: bool = False
    kle_components: int = KLE_COMPONENTS
    sequence_dropout: float = 0.0
    keep_subsets: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if self.preset not in UNET_PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose {', '.join(UNET_PRESETS)}")
        for name in ("epochs", "steps_per_epoch", "batch_size", "val_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        if self.cache not in CACHE_KINDS:
            raise ValueError(f"cache must be one of {CACHE_KINDS}, got {self.cache!r}")
        for name in (
            "foreground_fraction",
            "flip_prob",
            "scale_intensity_prob",
            "shift_intensity_prob",
            "noise_prob",
            "bias_field_prob",
            "contrast_prob",
            "affine_prob",
        ):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        TargetSpec(self.output, self.label_convention)
        if self.kle_components < 1:
            raise ValueError(f"kle_components must be >= 1, got {self.kle_components}")
        if self.keep_subsets and not self.sequence_dropout:
            raise ValueError("keep_subsets applies only with sequence_dropout > 0")
        if self.kle and self.sequence_dropout:
            raise ValueError("kle and sequence_dropout exclude: the KLE needs every sequence")
        self.dropout_plan()

    @property
    def robust(self) -> bool:
        """Whether the model learns to segment incomplete cases."""
        return self.sequence_dropout > 0

    def dropout_plan(self) -> SequenceDropout:
        """The per-sample choice of kept sequences."""
        return SequenceDropout(self.sequences, self.sequence_dropout, self.keep_subsets)

    @property
    def crop_size(self) -> tuple[int, int, int]:
        """Training crop: ``crop`` or the preset's sliding window."""
        return self.crop or UNET_PRESETS[self.preset].roi_size

    def to_json(self) -> dict[str, Any]:
        """JSON-ready settings."""
        fields = asdict(self)
        fields["sequences"] = list(self.sequences)
        fields["crop"] = None if self.crop is None else list(self.crop)
        fields["keep_subsets"] = [list(subset) for subset in self.keep_subsets]
        # Left out at their defaults, so runs started before these options still resume.
        for name in _OPTIONAL:
            if fields[name] == _DEFAULTS[name]:
                del fields[name]
        return fields

    @classmethod
    def from_json(cls, fields: dict[str, Any]) -> TrainConfig:
        """The settings :meth:`to_json` wrote (or an earlier version: ``upgrade_saved_keys``)."""
        values = upgrade_saved_keys(fields)
        values["sequences"] = tuple(values["sequences"])
        values["crop"] = None if values["crop"] is None else tuple(values["crop"])
        values["keep_subsets"] = tuple(tuple(s) for s in values.get("keep_subsets", ()))
        return cls(**values)


#: Options added after the first runs: written to ``run.json`` only when not at the default.
_OPTIONAL = ("kle", "kle_components", "sequence_dropout", "keep_subsets", "affine_prob")
_DEFAULTS: dict[str, Any] = {
    "affine_prob": 0.0,
    "kle": False,
    "kle_components": KLE_COMPONENTS,
    "sequence_dropout": 0.0,
    "keep_subsets": [],
}

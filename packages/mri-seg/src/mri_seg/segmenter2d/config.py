"""Settings of a 2D segmenter training run (``run.json`` in the run folder)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mri_io.slicing import View


@dataclass(frozen=True)
class Segmenter2DConfig:
    """Settings of a 2D segmenter run (stored as ``train_config.json``).

    ``max_minutes`` stops after the first epoch that ends past the budget (the schedule still
    spans ``epochs``); it and ``device`` may change when a run is resumed, nothing else may.
    """

    views: tuple[View, ...] = ("axial", "coronal", "sagittal")
    epochs: int = 20
    steps_per_epoch: int = 50
    batch_size: int = 16
    learning_rate: float = 1e-3
    min_tumour_fraction: float = 0.001
    val_fraction: float = 0.2
    seed: int = 0
    amp: bool = True
    device: str | None = None
    max_minutes: float | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "steps_per_epoch", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.views:
            raise ValueError("at least one view is needed")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return {**asdict(self), "views": list(self.views)}


#: Settings that may change when a run is resumed.
RESUMABLE = frozenset({"max_minutes", "device"})

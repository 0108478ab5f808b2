"""The segmenter contract: what every mri-seg model family offers the rest of the suite.

A segmenter labels a case: :meth:`Segmenter.segment` takes an :class:`mri_io.case.Case`
(with scanner-intensity arrays for the sequences it lacks, if any) and returns the label map
on the case's own grid. :func:`mri_seg.load_segmenter` returns one for any mri-seg model
folder, so callers (mri-bench, the ``mri-seg predict`` command) never need to know which
family they hold. :class:`InferenceSettings` says how to run it; the window fields apply to
families that tile volumes (the 3D U-Net), the others ignore them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from numpy.typing import NDArray

from mri_io.case import Case
from mri_io.nifti import Volume


@dataclass(frozen=True)
class InferenceSettings:
    """How to run a segmenter on a volume.

    ``roi_size`` (the model's own window when None), ``overlap``, ``sw_batch_size`` and
    ``mode`` (window blending) tile the volume for sliding-window families; ``device`` runs
    the network and ``output_device`` holds the full-volume probabilities; ``min_sizes``
    removes smaller components per region (:func:`mri_seg.remove_small_components`) and
    ``label_convention`` converts the written labels (the model's convention when None).
    """

    roi_size: tuple[int, int, int] | None = None
    overlap: float = 0.5
    sw_batch_size: int = 1
    mode: str = "gaussian"
    device: str = "cpu"
    output_device: str = "cpu"
    min_sizes: Mapping[str, int] = field(default_factory=dict)
    label_convention: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.overlap < 1:
            raise ValueError(f"overlap must be in [0, 1), got {self.overlap}")
        if self.mode not in ("gaussian", "constant"):
            raise ValueError(f"blending mode must be gaussian or constant, got {self.mode!r}")


@runtime_checkable
class Segmenter(Protocol):
    """Anything that labels a case: every network :func:`mri_seg.load_segmenter` returns.

    ``sequences`` are the inputs it needs (canonical keys, in channel order) and
    ``label_convention`` the labels it writes (:mod:`mri_io.labels`).
    """

    @property
    def sequences(self) -> tuple[str, ...]:
        """The sequences the segmenter reads, in its channel order."""
        ...

    @property
    def label_convention(self) -> str:
        """The label convention of the maps it returns (before ``settings.label_convention``)."""
        ...

    def segment(
        self,
        case: Case,
        *,
        completion: Mapping[str, NDArray[Any]] | None = None,
        settings: InferenceSettings | None = None,
    ) -> Volume:
        """The uint8 label map of ``case`` on its grid (the geometry of its first image).

        A sequence of :attr:`sequences` the case lacks must be in ``completion``
        (scanner-intensity array of the case's shape); otherwise
        :class:`mri_io.errors.MissingSequenceError` names it.
        """
        ...

"""The fixed segmenter every completion is scored with: an mri-seg model folder.

The same network, trained once on complete cases, segments every completed case, so
differences in its scores come from the completions alone. A :class:`SegmenterStrategy` is the
other kind of approach: it brings its own segmenter (a model that segments incomplete cases
directly, or one with another input such as the KLE U-Net) and is scored with it instead.
Any mri-seg family serves: the folder is read with ``mri_seg.load_segmenter`` and used only
through mri-seg's ``Segmenter`` contract (``segment(case, completion=..., settings=...)``).
mri-seg (and torch) load only when a segmenter is used; without the ``seg`` extra that raises
an ImportError naming the install.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from mri_bench.provenance import folder_digest
from mri_bench.strategies import UNKNOWN_CENTRE, Completion, CompletionStrategy
from mri_io.case import Case

if TYPE_CHECKING:
    from mri_seg import Segmenter

SEG_EXTRA = 'segmenting needs mri-seg: pip install "mri-bench[seg]"'


@dataclass
class FixedSegmenter:
    """A saved mri-seg segmenter (any family), loaded on first use (once per worker process).

    ``overlap`` and ``window`` apply to segmenters that tile the volume (the 3D U-Net).
    """

    checkpoint: Path
    device: str = "auto"
    overlap: float = 0.25
    #: Sliding-window size; the model's own window when None.
    window: tuple[int, int, int] | None = None
    _model: Segmenter | None = field(default=None, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_model"] = None
        return state

    def segment(
        self, case: Case, completion: Mapping[str, npt.NDArray[Any]]
    ) -> npt.NDArray[np.uint8]:
        """Label map of ``case`` with its missing sequences taken from ``completion``."""
        try:
            from mri_io.training import resolve_device
            from mri_seg import InferenceSettings, load_segmenter
        except ImportError as exc:
            raise ImportError(f"{SEG_EXTRA} ({exc})") from exc
        device = str(resolve_device(self.device))
        if self._model is None:
            self._model = load_segmenter(self.checkpoint, device=device)
        settings = InferenceSettings(roi_size=self.window, overlap=self.overlap, device=device)
        labels = self._model.segment(case, completion=completion, settings=settings)
        return np.asarray(labels.data, dtype=np.uint8)

    def provenance(self) -> dict[str, str]:
        # No path: the weights' digest names the model, and a folder's place differs between
        # machines whose shards merge (the stored config says where it was).
        return {"segmenter_sha256": folder_digest(self.checkpoint)}


@dataclass
class SegmenterStrategy:
    """An approach that segments with its own model rather than the fixed segmenter.

    Without ``fill`` it completes nothing: the model sees the incomplete case as it is (a
    missing-sequence-robust model; an ordinary one refuses such a case). With ``fill`` (one of
    the simple strategies) the missing sequences are filled that way first, for a model that
    needs every sequence.
    """

    name: str
    segmenter: FixedSegmenter
    fill: CompletionStrategy | None = None

    def complete(
        self, case: Case, missing: Sequence[str], *, centre: str = UNKNOWN_CENTRE
    ) -> Completion:
        if self.fill is None:
            return {}
        return self.fill.complete(case, missing, centre=centre)

    def provenance(self) -> dict[str, str]:
        own = {f"own {key}": value for key, value in self.segmenter.provenance().items()}
        fill = {} if self.fill is None else {"fill": self.fill.name, **self.fill.provenance()}
        return {**own, **fill}

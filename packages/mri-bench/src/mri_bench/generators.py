"""Generators from mri-gen as completion strategies: a checkpoint folder plus which model.

A generator strategy is named in a config by the kind of model (``hfgan`` today; UMMGAT and
others register under their own name in :data:`LOADERS`) and the folder its
``save_pretrained`` wrote. mri-gen (and torch) are imported only when a generator is first
used, so ``import mri_bench`` works without the ``gen`` extra; using one without it raises an
ImportError naming the install command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mri_bench.provenance import folder_digest
from mri_bench.strategies import Completion, require_available
from mri_io.case import Case

#: A loaded generator: the case (available sequences only) in, every missing sequence out.
Synthesise = Callable[[Case], dict[str, npt.NDArray[Any]]]
GEN_EXTRA = 'generator strategies need mri-gen: pip install "mri-bench[gen]"'


def _load_hfgan(checkpoint: Path, device: str) -> Synthesise:
    try:
        from mri_gen.hfgan.inference import Synthesiser
    except ImportError as exc:
        raise ImportError(f"{GEN_EXTRA} ({exc})") from exc
    synthesiser = Synthesiser.from_pretrained(checkpoint, device=device)

    def synthesise(case: Case) -> dict[str, npt.NDArray[Any]]:
        return dict(synthesiser.synthesise(case))

    return synthesise


#: Generator kind -> loader of a checkpoint folder.
LOADERS: dict[str, Callable[[Path, str], Synthesise]] = {"hfgan": _load_hfgan}


@dataclass
class GeneratorStrategy:
    """Complete with a trained generator; each missing sequence comes from the real inputs."""

    name: str
    generator: str
    checkpoint: Path
    device: str = "cpu"
    _model: Synthesise | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.generator not in LOADERS:
            raise ValueError(
                f"strategy {self.name!r}: unknown generator {self.generator!r}; "
                f"known: {', '.join(sorted(LOADERS))}"
            )

    def __getstate__(self) -> dict[str, Any]:
        # Worker processes load their own copy: a model is never pickled.
        state = dict(self.__dict__)
        state["_model"] = None
        return state

    def complete(self, case: Case, missing: Sequence[str]) -> Completion:
        require_available(case)
        if self._model is None:
            self._model = LOADERS[self.generator](self.checkpoint, self.device)
        generated = self._model(case)
        absent = [key for key in missing if key not in generated]
        if absent:
            raise ValueError(
                f"{self.checkpoint}: the {self.generator} model did not synthesise {absent} "
                f"for case {case.case_id}"
            )
        return {key: np.asarray(generated[key], dtype=np.float32) for key in missing}

    def provenance(self) -> dict[str, str]:
        return {
            "generator": self.generator,
            "checkpoint": str(self.checkpoint),
            "checkpoint_sha256": folder_digest(self.checkpoint),
        }

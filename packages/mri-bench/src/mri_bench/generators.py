"""Generators from mri-gen as completion strategies: a checkpoint folder plus which model.

A generator strategy is named in a config by the kind of model (a key of :data:`GENERATORS`:
``hfgan``, ``ummgat``), its checkpoint (a model folder, or a training run folder, which stands
for its ``best/`` model, else its ``last/``), and the options that kind takes. mri-gen (and
torch) are imported only when a generator is first used, so ``import mri_bench`` works without
the ``gen`` extra; using one without it raises an ImportError naming the install command.

UMMGAT's domains are (centre, sequence) pairs, so it needs to know where a case was acquired:
the pipeline passes each case's centre (from the cohort manifest) to every strategy. With the
``target_centre`` option it is the cross-centre strategy: it also replaces the case's available
sequences by their translation into that centre's domains (harmonisation), which the segmenter
then sees instead of the originals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from mri_bench.errors import GeneratorError
from mri_bench.provenance import folder_digest
from mri_bench.strategies import UNKNOWN_CENTRE, Completion, require_available
from mri_io import resolve_model_folder
from mri_io.case import Case

GEN_EXTRA = 'generator strategies need mri-gen: pip install "mri-bench[gen]"'


class Completer(Protocol):
    """A loaded generator.

    Given a case (its available sequences only), what it misses and the centre it was acquired
    at, it returns an image for every missing sequence, plus the available sequences it
    replaces (a harmonising generator); arrays of the case's shape, on any intensity scale.
    """

    def __call__(
        self, case: Case, missing: Sequence[str], centre: str, /
    ) -> Mapping[str, npt.NDArray[Any]]: ...


@dataclass(frozen=True)
class GeneratorKind:
    """How a kind of generator loads, and the config options it accepts."""

    load: Callable[[Path, str, Mapping[str, Any]], Completer]
    options: tuple[str, ...] = ()
    #: Checks the option values (raising ValueError), so a bad config fails before the run.
    validate: Callable[[Mapping[str, Any]], object] | None = None


def _import_error(exc: ImportError) -> ImportError:
    return ImportError(f"{GEN_EXTRA} ({exc})")


def _load(checkpoint: Path, device: str, kind: str) -> Any:
    """mri-gen's model behind ``checkpoint`` (its Generator contract), refusing another kind."""
    try:
        from mri_gen import load_generator
    except ImportError as exc:
        raise _import_error(exc) from exc
    generator = load_generator(checkpoint, device=device)
    if generator.kind != kind:
        raise GeneratorError(
            f"{checkpoint}: holds a {generator.kind} model, but the strategy names {kind}"
        )
    return generator


def _generate(
    generator: Any, case: Case, missing: Sequence[str], **options: Any
) -> Mapping[str, npt.NDArray[Any]]:
    """``generator.complete`` with mri-gen's input errors as this package's GeneratorError."""
    from mri_io import MriSuiteError

    try:
        completed: Mapping[str, npt.NDArray[Any]] = generator.complete(
            case, list(missing), **options
        )
        return completed
    except MriSuiteError as exc:
        raise GeneratorError(str(exc)) from None


def plain_generator(kind: str) -> Callable[[Path, str, Mapping[str, Any]], Completer]:
    """The loader of a generator kind that takes no benchmark options: mri-gen's contract as
    it is, told the case's centre when the data names one (HF-GAN, one model for every site,
    ignores it). A new mri-gen family joins the benchmark with one :data:`GENERATORS` line."""

    def load(checkpoint: Path, device: str, options: Mapping[str, Any]) -> Completer:
        generator = _load(checkpoint, device, kind)

        def complete(
            case: Case, missing: Sequence[str], centre: str, /
        ) -> Mapping[str, npt.NDArray[Any]]:
            known = None if centre == UNKNOWN_CENTRE else centre
            return _generate(generator, case, missing, centre=known) if missing else {}

        return complete

    return load


@dataclass(frozen=True)
class UMMGATOptions:
    """The ``ummgat`` generator's options.

    ``target_centre``: harmonise every case into this centre's domains and generate its
    missing sequences there (the cross-centre strategy); unset, a case is completed in its own
    centre's domains and its available sequences are left as they are. ``assume_centre``: the
    centre taken for cases the data names no centre for. ``seed``: of the latent-guided styles.
    """

    target_centre: str = ""
    assume_centre: str = ""
    seed: int = 0

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> UMMGATOptions:
        """The options of a config entry; a value of the wrong type raises ValueError."""

        def centre(key: str) -> str:
            value = options.get(key, "")
            if not isinstance(value, str) or ":" in value:
                raise ValueError(f"option {key!r} must be a centre name without ':', got {value!r}")
            return value

        seed = options.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"option 'seed' must be an integer, got {seed!r}")
        return cls(centre("target_centre"), centre("assume_centre"), seed)


def _load_ummgat(checkpoint: Path, device: str, options: Mapping[str, Any]) -> Completer:
    settings = UMMGATOptions.parse(options)
    generator = _load(checkpoint, device, "ummgat")

    def synthesise(
        case: Case, missing: Sequence[str], centre: str, /
    ) -> Mapping[str, npt.NDArray[Any]]:
        if not missing and not settings.target_centre:
            return {}
        source = centre
        if centre == UNKNOWN_CENTRE:
            if not settings.assume_centre:
                raise GeneratorError(
                    f"{checkpoint}: the acquisition centre of case {case.case_id} is unknown "
                    "(the data has no cohort manifest); set the strategy option "
                    f"'assume_centre' to one of the model's centres (domains: "
                    f"{', '.join(generator.domains)})"
                )
            source = settings.assume_centre
        return _generate(
            generator,
            case,
            missing,
            centre=source,
            target_centre=settings.target_centre or None,
            seed=settings.seed,
        )

    return synthesise


#: Generator kind -> how to load its checkpoint folder and which options it takes.
GENERATORS: dict[str, GeneratorKind] = {
    "hfgan": GeneratorKind(plain_generator("hfgan")),
    "ummgat": GeneratorKind(
        _load_ummgat, ("target_centre", "assume_centre", "seed"), UMMGATOptions.parse
    ),
}


def check_generator(strategy: str, generator: str, options: Mapping[str, Any]) -> None:
    """Refuse an unknown generator kind, or options its kind does not take or whose values
    it cannot use (ValueError)."""
    if generator not in GENERATORS:
        raise ValueError(
            f"strategy {strategy!r}: unknown generator {generator!r}; "
            f"known: {', '.join(sorted(GENERATORS))}"
        )
    kind = GENERATORS[generator]
    unknown = sorted(set(options) - set(kind.options))
    if unknown:
        accepted = ", ".join(kind.options) or "none"
        raise ValueError(
            f"strategy {strategy!r}: the {generator} generator takes no option {unknown}; "
            f"it accepts: {accepted}"
        )
    if kind.validate is not None:
        try:
            kind.validate(options)
        except ValueError as exc:
            raise ValueError(f"strategy {strategy!r}: {exc}") from None


@dataclass
class GeneratorStrategy:
    """Complete with a trained generator; each missing sequence comes from the real inputs.

    A generator may also return available sequences (harmonisation): those replace the
    inputs the segmenter sees.
    """

    name: str
    generator: str
    checkpoint: Path
    device: str = "auto"
    options: Mapping[str, Any] = field(default_factory=dict)
    _model: Completer | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_generator(self.name, self.generator, self.options)

    def __getstate__(self) -> dict[str, Any]:
        # Worker processes load their own copy: a model is never pickled.
        state = dict(self.__dict__)
        state["_model"] = None
        return state

    def complete(
        self, case: Case, missing: Sequence[str], *, centre: str = UNKNOWN_CENTRE
    ) -> Completion:
        require_available(case)
        if self._model is None:
            kind = GENERATORS[self.generator]
            self._model = kind.load(self.checkpoint, self.device, self.options)
        generated = self._model(case, missing, centre)
        absent = [key for key in missing if key not in generated]
        if absent:
            raise GeneratorError(
                f"{self.checkpoint}: the {self.generator} model did not synthesise {absent} "
                f"for case {case.case_id}"
            )
        kept = [*missing, *(key for key in case.images if key in generated)]
        return {key: np.asarray(generated[key], dtype=np.float32) for key in kept}

    def provenance(self) -> dict[str, str]:
        # No path: the weights' digest names the model, and a folder's place differs between
        # machines whose shards merge (the stored config says where it was).
        record = {
            "generator": self.generator,
            # The model's own folder: a run folder's files beside it are not the weights.
            "checkpoint_sha256": folder_digest(resolve_model_folder(self.checkpoint)),
        }
        if self.options:
            record["options"] = json.dumps(dict(self.options), sort_keys=True)
        return record

"""One synthetic case: anatomy, tumour, sequences and labels, from a seed and an index.

Every random choice of case ``index`` comes from ``np.random.SeedSequence([seed, index])``, split
into independent streams (choices, anatomy, warp, tumour, texture, acquisition), so any case of a
cohort can be regenerated alone and changing, say, the tumour model of one case leaves its
anatomy alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from mri_io.synthetic.anatomy import Anatomy, procedural_anatomy
from mri_io.synthetic.centres import CENTRES, Centre, acquire, resolve_centre
from mri_io.synthetic.contrast import dominant_tissue, render, tissue_fractions
from mri_io.synthetic.fields import smooth_field
from mri_io.synthetic.grid import Grid, GridName, resolve_grid
from mri_io.synthetic.template import mni152_anatomy
from mri_io.synthetic.tumours import TUMOUR_KINDS, TumourKind, draw_lesions, plan_lesions
from mri_io.synthetic.warp import SubjectWarp, brain_box, warp_anatomy

AnatomyName = Literal["procedural", "procedural-varied", "mni"]
TumourChoice = Literal["gbm", "met", "men", "none", "mix"]

#: Tumour frequencies when ``tumour="mix"``: mostly glioblastoma, as in BraTS-GLI.
MIX_WEIGHTS: dict[TumourKind, float] = {"gbm": 0.55, "met": 0.2, "men": 0.15, "none": 0.1}

#: Version of the generative model; bumped whenever the same seed would give other images.
GENERATOR_VERSION = "1"


@dataclass(frozen=True)
class SyntheticCase:
    """A generated case.

    ``images`` maps each acquired sequence to a float32 volume in scanner units (0 outside the
    brain); ``labels`` are BraTS 2023 labels (uint8); ``tissues`` the dominant tissue class per
    voxel (0 background, 1 CSF, 2 GM, 3 WM, 4 necrosis, 5 edema, 6 enhancing), the ground truth
    behind the images; ``lesions`` the number of lesions drawn; ``sequences`` those acquired.
    """

    case_id: str
    index: int
    seed: int
    images: dict[str, NDArray[np.float32]]
    labels: NDArray[np.uint8]
    tissues: NDArray[np.uint8]
    affine: NDArray[np.float64]
    centre: str
    tumour: TumourKind
    anatomy: AnatomyName
    lesions: int
    sequences: tuple[str, ...]

    def metadata(self) -> dict[str, Any]:
        """What the cohort manifest records about this case."""
        return {
            "case_id": self.case_id,
            "index": self.index,
            "centre": self.centre,
            "tumour": self.tumour,
            "lesions": self.lesions,
            "anatomy": self.anatomy,
            "sequences": list(self.sequences),
        }


def case_id(index: int) -> str:
    """The BraTS 2023 identifier of case ``index``: ``BraTS-GLI-00000-000``."""
    if not 0 <= index < 100_000:
        raise ValueError(f"case index must be in [0, 99999], got {index}")
    return f"BraTS-GLI-{index:05d}-000"


def _anatomy(name: AnatomyName, grid: Grid, rng: np.random.Generator) -> Anatomy:
    if name in ("procedural", "procedural-varied"):
        return procedural_anatomy(grid, rng, grey_variety=name == "procedural-varied")
    if name == "mni":
        return mni152_anatomy()
    raise ValueError(
        f"unknown anatomy {name!r}: expected 'procedural', 'procedural-varied' or 'mni'"
    )


def generate_case(
    index: int,
    *,
    seed: int,
    grid: GridName | Grid = "half",
    tumour: TumourChoice = "mix",
    centre: str | Centre | Sequence[str | Centre] | None = None,
    anatomy: AnatomyName = "procedural",
) -> SyntheticCase:
    """Generate case ``index`` of the cohort drawn with ``seed``.

    ``centre`` is one centre (name or :class:`Centre`), several to choose from at random, or
    ``None`` for all of :data:`CENTRES`. ``tumour="mix"`` draws the kind with
    :data:`MIX_WEIGHTS`. The same arguments always give the same case.
    """
    target = resolve_grid(grid)
    streams = np.random.SeedSequence([seed, index]).spawn(6)
    choose, anatomy_rng, warp_rng, tumour_rng, texture_rng, acquire_rng = (
        np.random.default_rng(s) for s in streams
    )
    options = [resolve_centre(c) for c in _centre_options(centre)]
    chosen = options[int(choose.integers(len(options)))]
    kind = _tumour_kind(tumour, choose)

    source = _anatomy(anatomy, target, anatomy_rng)
    scale = float(warp_rng.uniform(0.95, 1.05))
    warp = SubjectWarp(
        scale=scale,
        amplitude_mm=2.0 if anatomy == "mni" else 1.0,
        correlation_mm=35.0,
        seed=int(warp_rng.integers(2**31)),
    )
    lesions = plan_lesions(kind, source, scale, tumour_rng)
    box = brain_box(source, target, scale, margin_mm=15.0)
    warped = warp_anatomy(source, target, box, warp, [lesion.as_push() for lesion in lesions])
    labels_box = draw_lesions(lesions, warped, target)

    fractions = tissue_fractions(warped.tissues, labels_box)
    foreground = (warped.tissues.sum(axis=0) > 0.5) | (labels_box > 0)
    shape = labels_box.shape
    texture = smooth_field(texture_rng, shape, target.spacing, 3.0)
    bias = smooth_field(acquire_rng, shape, target.spacing, 120.0)
    gain = float(acquire_rng.uniform(0.85, 1.15))
    images: dict[str, NDArray[np.float32]] = {}
    for sequence in chosen.sequences:
        scanner = acquire(
            render(fractions, sequence, texture),
            sequence,
            chosen,
            spacing=target.spacing,
            bias=bias,
            foreground=foreground,
            gain=gain,
            rng=acquire_rng,
        )
        images[sequence] = _paste(scanner, target, box)
    return SyntheticCase(
        case_id=case_id(index),
        index=index,
        seed=seed,
        images=images,
        labels=_paste(labels_box, target, box),
        tissues=_paste(dominant_tissue(fractions), target, box),
        affine=target.affine.copy(),
        centre=chosen.name,
        tumour=kind,
        anatomy=anatomy,
        lesions=len(lesions),
        sequences=chosen.sequences,
    )


def _centre_options(
    centre: str | Centre | Sequence[str | Centre] | None,
) -> list[str | Centre]:
    if centre is None:
        return list(CENTRES)
    if isinstance(centre, (str, Centre)):
        return [centre]
    if len(centre) == 0:
        raise ValueError("no centre given: name at least one of " + ", ".join(CENTRES))
    return list(centre)


def _tumour_kind(tumour: TumourChoice, rng: np.random.Generator) -> TumourKind:
    if tumour == "mix":
        kinds = list(MIX_WEIGHTS)
        weights = np.array([MIX_WEIGHTS[k] for k in kinds])
        return kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
    if tumour in TUMOUR_KINDS:
        return tumour
    raise ValueError(f"unknown tumour {tumour!r}: expected one of {(*TUMOUR_KINDS, 'mix')}")


def _paste(values: NDArray[Any], grid: Grid, box: tuple[slice, slice, slice]) -> NDArray[Any]:
    full = np.zeros(grid.shape, dtype=values.dtype)
    full[box] = values
    return full

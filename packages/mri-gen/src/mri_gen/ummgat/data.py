"""Unpaired training slices: every patient contributes one volume of one sequence.

This is the paper's training setting: a multi-centre, incomplete cohort where no image has a
partner. :func:`assign_domains` gives each patient exactly one of the domains it could supply
(its centre paired with one of its sequences), choosing among them the domain with the fewest
patients so far, in a seeded random patient order, so domains stay balanced and the same seed
gives the same assignment. Only that volume is ever read for that patient.

The volume is normalised to ``[0, 255]`` with its own 99.5th percentile (the paper's scheme,
``uint8-0-255``), stored as ``uint8`` as the paper's images were, cut into axial slices of
``image_size`` (centre crop of 240 -> 176 as the paper's (155, 176, 176) crop, or background
padding of smaller planes), and kept where the brain covers at least ``min_foreground`` of the
plane. The whole-tumour mask (labels > 0) of each slice is kept for the lesion-aware module, and
so is which of the slice's two axes runs left-right in the patient: an axial slice keeps the
volume's voxel order (:mod:`mri_io.slicing`), so that axis comes from the volume's affine
(L-P-S as in BraTS, or R-A-S: the rows; P-L-S: the columns).

:class:`UnpairedSampler` draws StarGAN v2 batches from it: source slices from any domain, a
random target domain per sample, a reference slice of that domain and a latent code; each
image is flipped left-right with probability 0.5 (the paper's horizontal flip: a mirror across
the patient's midsagittal plane gives a plausible brain, a front-to-back flip does not). Its
state is a torch generator, so a resumed run draws exactly the batches an uninterrupted one
would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from tqdm import tqdm

from mri_gen.errors import ConfigError
from mri_gen.ummgat.config import domain_name
from mri_io import case_centres
from mri_io.errors import MriIoError
from mri_io.intensity import Normaliser
from mri_io.layouts import CaseFiles, scan_cases
from mri_io.nifti import load_labels, load_volume
from mri_io.orientation import axis_codes
from mri_io.slicing import MIN_FOREGROUND, SliceLayout, select_slices, view_axis

#: Fraction of a plane that must be brain: the thesis' 2000 pixels of a 240x240 slice.
MIN_FOREGROUND_FRACTION = MIN_FOREGROUND / 240**2


def assign_domains(
    cases: Sequence[CaseFiles], centres: Mapping[str, str], seed: int
) -> dict[str, str]:
    """``case_id -> domain``: one (centre, sequence) per patient, balanced, seeded."""
    rng = np.random.default_rng(seed)
    counts: dict[str, int] = {}
    assignment: dict[str, str] = {}
    for index in rng.permutation(len(cases)):
        case = cases[int(index)]
        options = sorted(domain_name(centres[case.case_id], name) for name in case.sequences)
        if not options:
            continue
        fewest = min(counts.get(option, 0) for option in options)
        tied = [option for option in options if counts.get(option, 0) == fewest]
        chosen = tied[int(rng.integers(len(tied)))]
        counts[chosen] = counts.get(chosen, 0) + 1
        assignment[case.case_id] = chosen
    return dict(sorted(assignment.items()))


@dataclass(frozen=True)
class UnpairedSlices:
    """Slices in memory: ``images`` uint8 ``(M, S, S)``, ``lesions`` bool, and per slice the
    index of its domain (in ``domains``) and of its patient (in ``patients``) and the slice axis
    (0: rows, 1: columns) that runs left-right in the patient (``left_right``)."""

    domains: tuple[str, ...]
    patients: tuple[str, ...]
    images: torch.Tensor
    lesions: torch.Tensor
    domain_of: torch.Tensor
    patient_of: torch.Tensor
    left_right: torch.Tensor

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])


def left_right_axis(affine: np.ndarray[Any, Any], source: str | PathLike[str]) -> int:
    """Axis of an axial slice (0: rows, 1: columns) that runs left-right in the patient.

    Axial slices cut voxel axis 2; when the affine says that axis is the left-right one, the
    "axial" slices are sagittal planes and no in-plane flip mirrors the brain, so this raises
    :class:`~mri_io.errors.MriIoError` naming ``source``.
    """
    codes = axis_codes(affine)
    axis = next(index for index, code in enumerate(codes) if code in ("L", "R"))
    cut = view_axis("axial")
    if axis == cut:
        raise MriIoError(
            source,
            f"voxel axes point {'-'.join(codes)}: its axial slices are sagittal planes; "
            "reorient it (mri_io.orientation.reorient)",
        )
    return [a for a in range(3) if a != cut].index(axis)


def normalised_uint8(volume: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The paper's ``[0, 255]`` scheme with the volume's own clip, rounded to uint8."""
    data = Normaliser("uint8-0-255").forward(volume).data
    rounded: np.ndarray[Any, Any] = np.rint(data).astype(np.uint8)
    return rounded


def training_slices(
    volume: np.ndarray[Any, Any],
    image_size: int,
    min_foreground: float = MIN_FOREGROUND_FRACTION,
) -> tuple[SliceLayout, NDArray[np.intp]]:
    """How UMMGAT cuts a volume: square axial slices of ``image_size`` (centre crop or
    background padding) and the indices of those where the brain covers at least
    ``min_foreground`` of the plane. A partner sequence of the same case (a pair for a
    supervised comparison) is cut with the same layout and indices."""
    layout = SliceLayout.square(volume.shape, "axial", size=image_size)
    enough = round(min_foreground * volume.shape[0] * volume.shape[1])
    chosen = select_slices(np.maximum(volume, 0)[None], "axial", min_foreground=enough)
    return layout, chosen


def load_unpaired(
    folder: str | PathLike[str],
    image_size: int,
    *,
    seed: int,
    default_centre: str | None = None,
    domains: Sequence[str] | None = None,
    min_foreground: float = MIN_FOREGROUND_FRACTION,
    progress: bool = True,
) -> tuple[UnpairedSlices, dict[str, str]]:
    """Slices of the cohort under ``folder`` and the patient -> domain assignment used.

    ``domains`` fixes the domain order (e.g. a model's); by default the domains found, sorted.
    """
    cases = scan_cases(folder)
    if not cases:
        raise ConfigError(folder, "holds no case to train on")
    centres = case_centres(folder, default_centre)
    assignment = assign_domains(cases, centres, seed)
    order = tuple(domains) if domains is not None else tuple(sorted(set(assignment.values())))
    unknown = sorted(set(assignment.values()) - set(order))
    if unknown:
        raise ConfigError(folder, f"holds domains the model does not know: {', '.join(unknown)}")
    by_id = {case.case_id: case for case in cases}
    images, lesions, domain_of, patient_of, left_right = [], [], [], [], []
    patients = tuple(assignment)
    for patient, case_id in enumerate(
        tqdm(patients, desc="reading slices", unit="case", disable=not progress, leave=False)
    ):
        files = by_id[case_id]
        sequence = assignment[case_id].rpartition(":")[2]
        loaded = load_volume(files.sequences[sequence])
        volume = loaded.data
        labels = load_labels(files.seg).data > 0 if files.seg is not None else None
        if labels is not None and labels.shape != volume.shape:
            raise MriIoError(files.seg, f"segmentation {labels.shape} != image {volume.shape}")
        layout, chosen = training_slices(volume, image_size, min_foreground)
        if chosen.size == 0:
            continue
        images.append(layout.slices(normalised_uint8(volume), chosen, pad=0))
        mask = labels if labels is not None else np.zeros(volume.shape, dtype=bool)
        lesions.append(layout.slices(mask, chosen, pad=False))
        domain_of.append(np.full(chosen.size, order.index(assignment[case_id])))
        patient_of.append(np.full(chosen.size, patient))
        axis = left_right_axis(loaded.affine, files.sequences[sequence])
        left_right.append(np.full(chosen.size, axis))
    if not images:
        raise ConfigError(folder, "no slice has enough brain to train on")
    slices = UnpairedSlices(
        order,
        patients,
        torch.from_numpy(np.concatenate(images)),
        torch.from_numpy(np.concatenate(lesions)),
        torch.from_numpy(np.concatenate(domain_of)).long(),
        torch.from_numpy(np.concatenate(patient_of)).long(),
        torch.from_numpy(np.concatenate(left_right)).long(),
    )
    return slices, assignment


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[0, 255]`` -> float ``[-1, 1]`` with a channel axis: ``(B, 1, S, S)``."""
    return (images.float() / 127.5 - 1.0)[:, None]


def flip_left_right(
    images: torch.Tensor, masks: torch.Tensor, flip: torch.Tensor, left_right: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, 1, S, S)`` images and masks with the samples where ``flip`` is true mirrored.

    Each sample is mirrored along its own left-right slice axis (``left_right``: 0 rows,
    1 columns), so the flip swaps the patient's left and right whatever the file's voxel order.
    """
    rows = (flip & (left_right == 0))[:, None, None, None]
    columns = (flip & (left_right == 1))[:, None, None, None]
    images = torch.where(rows, images.flip(-2), torch.where(columns, images.flip(-1), images))
    masks = torch.where(rows, masks.flip(-2), torch.where(columns, masks.flip(-1), masks))
    return images, masks


class UnpairedSampler:
    """Endless, seeded StarGAN v2 batches from :class:`UnpairedSlices` (see module doc)."""

    def __init__(
        self, slices: UnpairedSlices, batch_size: int, *, seed: int, latent_dim: int
    ) -> None:
        self.slices = slices
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.random = torch.Generator().manual_seed(seed)
        self.by_domain = [
            torch.nonzero(slices.domain_of == index)[:, 0] for index in range(len(slices.domains))
        ]
        self.present = torch.tensor([i for i, rows in enumerate(self.by_domain) if rows.numel()])
        if self.present.numel() < 2:
            raise ConfigError(None, "training needs slices of at least two domains")

    def _pick(self, domains: torch.Tensor) -> torch.Tensor:
        rows = []
        for domain in domains.tolist():
            candidates = self.by_domain[domain]
            rows.append(candidates[torch.randint(candidates.numel(), (1,), generator=self.random)])
        return torch.cat(rows)

    def _images(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = to_model_range(self.slices.images[rows])
        masks = self.slices.lesions[rows][:, None]
        flip = torch.rand(rows.numel(), generator=self.random) < 0.5
        return flip_left_right(images, masks, flip, self.slices.left_right[rows])

    def next(self) -> dict[str, torch.Tensor]:
        """One batch: sources ``x_src, m_src, y_src``; targets ``y_trg, x_ref, m_ref, z_trg``."""
        n = self.batch_size
        pick = torch.randint(self.present.numel(), (n,), generator=self.random)
        y_src = self.present[pick]
        y_trg = self.present[torch.randint(self.present.numel(), (n,), generator=self.random)]
        x_src, m_src = self._images(self._pick(y_src))
        x_ref, m_ref = self._images(self._pick(y_trg))
        return {
            "x_src": x_src,
            "m_src": m_src,
            "y_src": y_src,
            "y_trg": y_trg,
            "x_ref": x_ref,
            "m_ref": m_ref,
            "z_trg": torch.randn(n, self.latent_dim, generator=self.random),
        }

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"random": self.random.get_state()}

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        self.random.set_state(state["random"].cpu())

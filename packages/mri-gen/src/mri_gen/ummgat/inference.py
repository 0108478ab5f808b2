"""Translation with a trained UMMGAT: slices, volumes, case completion and harmonisation.

A translation needs a source image of a known domain and a style code of the target domain.
The style comes from a reference image of the target domain (reference-guided: the encoder's
branch of that domain) or from the mapping network (latent-guided). Latent-guided styles here
are the mean of the codes of ``latent_samples`` seeded draws, a stable "typical" style of the
domain, so the same model and seed always give the same volume.

Volumes go through :mod:`mri_io.slicing`: normalised to ``[0, 255]`` with the volume's own clip
(as in training), cut into axial slices of the model's size (centre crop or background padding),
translated in batches, re-stacked exactly, and set to 0 wherever the source is background.
Outputs are on the paper's ``[0, 255]`` scale (float32): the scanner units of a sequence the
case never had do not exist.

:func:`generate_missing` fills every missing sequence of a case from one available sequence,
preferring T1 and T2 as the paper does (:data:`SOURCE_PREFERENCE`); :func:`harmonise_case`
translates each sequence of a case from its centre's domain to another centre's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import ClassVar, Final

import numpy as np
import torch
from numpy.typing import NDArray

from mri_gen.errors import ConfigError, NothingToSynthesiseError
from mri_gen.training.pretrained import read_model
from mri_gen.ummgat.config import domain_name, split_domain
from mri_gen.ummgat.data import normalised_uint8, to_model_range
from mri_gen.ummgat.networks import MODEL_KIND, UMMGATModel
from mri_io import tensors
from mri_io.case import Case
from mri_io.intensity import Scheme
from mri_io.orientation import AxisCodes
from mri_io.slicing import SliceLayout
from mri_io.spacing import case_at_spacing, recorded_grid
from mri_io.training import resolve_device

#: Order in which available sequences are chosen as the source of a completion (paper: T1 and
#: T2 are the routinely available ones, so they are preferred).
SOURCE_PREFERENCE: Final = ("t1n", "t2w", "t1c", "t2f")

#: The inputs' intensity scheme (each volume to ``[0, 255]`` at its own clip) and how a case
#: meets the network (axial slices centre-cropped or background-padded to the model's size),
#: recorded in the model folder.
NORMALISATION: Scheme = "uint8-0-255"
CROP = "axial-slices"


@dataclass
class Translator:
    """A trained UMMGAT model (EMA weights) ready to translate."""

    model: UMMGATModel
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    batch_size: int = 32
    latent_samples: int = 64
    #: The model folder it was loaded from, named in errors.
    source: Path | None = None
    #: The voxel size and axis codes it was trained at (``None``: unknown, cases are taken as
    #: they are); :meth:`complete` brings each case to them and the outputs back.
    spacing: tuple[float, float, float] | None = None
    orientation: AxisCodes | None = None
    kind: ClassVar[str] = MODEL_KIND

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(None, f"batch size must be at least 1, got {self.batch_size}")

    @classmethod
    def from_pretrained(
        cls,
        folder: str | PathLike[str],
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 32,
    ) -> Translator:
        chosen = resolve_device(device)
        model = UMMGATModel.from_pretrained(folder, device=chosen)
        saved = read_model(folder, MODEL_KIND)
        try:
            spacing, orientation = recorded_grid(saved.config, NORMALISATION, CROP)
        except ValueError as exc:
            raise ConfigError(saved.path / "config.json", str(exc)) from None
        return cls(
            model, chosen, batch_size, source=saved.path, spacing=spacing, orientation=orientation
        )

    @property
    def domains(self) -> tuple[str, ...]:
        return self.model.config.domains

    @property
    def sequences(self) -> tuple[str, ...]:
        """The sequences of its domains, in :data:`SOURCE_PREFERENCE` order."""
        known = {split_domain(domain)[1] for domain in self.domains}
        return tuple(name for name in SOURCE_PREFERENCE if name in known)

    def _unknown(self, names: Sequence[str], case: Case, purpose: str) -> ConfigError:
        wanted = " or ".join(repr(name) for name in names)
        return ConfigError(
            self.source,
            f"the UMMGAT model knows no domain {wanted}, needed to {purpose} case "
            f"{case.case_id}; it knows {', '.join(self.domains)}",
        )

    def _require(self, names: Sequence[str], case: Case, purpose: str) -> None:
        for name in names:
            if name not in self.domains:
                raise self._unknown([name], case, purpose)

    def complete(
        self,
        case: Case,
        missing: Sequence[str] | None = None,
        *,
        centre: str | None = None,
        target_centre: str | None = None,
        seed: int = 0,
    ) -> dict[str, NDArray[np.float32]]:
        """The :class:`~mri_gen.Generator` contract, on the paper's ``[0, 255]`` scale.

        Every sequence of ``missing`` (default: each of :attr:`sequences` the case lacks) is
        generated from the case's preferred available sequence (:func:`generate_missing`) in the
        domains of ``target_centre`` (default: the case's own ``centre``, which is required:
        UMMGAT's domains are centre-specific). With ``target_centre``, the case's available
        sequences are also translated into that centre's domains (:func:`harmonise_case`).
        Domains the model lacks are refused, naming them, before anything is generated. A
        case of another voxel size than :attr:`spacing` is processed at that voxel size and the
        results resampled back to the case's grid; one in another orientation is reoriented to
        the model's and back.
        """
        if centre is None:
            raise ConfigError(
                self.source,
                f"UMMGAT needs the acquisition centre of case {case.case_id} (its domains are "
                f"centre-specific: {', '.join(self.domains)})",
            )
        wanted = [n for n in self.sequences if n not in case.images] if missing is None else missing
        if not wanted and target_centre is None:
            return {}
        goal = target_centre or centre
        inputs = [domain_name(centre, s) for s in SOURCE_PREFERENCE if s in case.images]
        if target_centre is not None:
            # Harmonisation translates every available sequence: each needs both domains.
            self._require(inputs, case, "read")
            self._require([domain_name(goal, s) for s in case.images], case, "harmonise")
        elif not set(inputs) & set(self.domains):
            raise self._unknown(inputs, case, "read")
        self._require([domain_name(goal, s) for s in wanted], case, "complete")
        at_model, resampling = case_at_spacing(case, self.spacing, self.orientation)
        out: dict[str, NDArray[np.float32]] = {}
        if wanted:
            out.update(
                generate_missing(
                    self, at_model, centre, target_centre=goal, sequences=tuple(wanted), seed=seed
                )
            )
        if target_centre is not None:
            out.update(harmonise_case(self, at_model, centre, goal, seed=seed))
        return {name: resampling.back(array) for name, array in out.items()}

    def _index(self, domain: str) -> torch.Tensor:
        return torch.tensor([self.model.config.domain_index(domain)], device=self.device)

    @torch.no_grad()
    def latent_style(self, domain: str, seed: int = 0) -> torch.Tensor:
        """``(1, S)``: the mean mapped style of ``latent_samples`` seeded latent codes."""
        generator = torch.Generator().manual_seed(seed)
        z = torch.randn(self.latent_samples, self.model.config.latent_dim, generator=generator)
        index = self._index(domain).expand(self.latent_samples)
        styles = self.model.mapping(z.to(self.device), index)
        mean: torch.Tensor = styles.mean(dim=0, keepdim=True)
        return mean

    @torch.no_grad()
    def encode_slices(self, slices: NDArray[np.uint8], domain: str) -> torch.Tensor:
        """``(n, S)`` style codes of ``[0, 255]`` slices ``(n, H, W)`` of ``domain``."""
        codes = []
        for start in range(0, len(slices), self.batch_size):
            x = to_model_range(torch.from_numpy(slices[start : start + self.batch_size]))
            index = self._index(domain).expand(x.shape[0])
            codes.append(self.model.style_encoder(x.to(self.device), index))
        return torch.cat(codes)

    def reference_style(self, volume: NDArray[np.floating], domain: str) -> torch.Tensor:
        """``(1, S)``: the mean style code of the brain slices of a reference volume."""
        layout = SliceLayout.square(volume.shape, "axial", size=self.model.config.image_size)
        brain = np.flatnonzero((volume > 0).sum(axis=(0, 1)) > 0)
        if brain.size == 0:
            raise ConfigError(None, "the reference volume is empty (no voxel > 0)")
        slices = layout.slices(normalised_uint8(volume), brain, pad=0)
        return self.encode_slices(slices, domain).mean(dim=0, keepdim=True)

    @torch.no_grad()
    def translate_volume(
        self, volume: NDArray[np.floating], style: torch.Tensor
    ) -> NDArray[np.float32]:
        """The volume translated into ``style``'s domain, on the ``[0, 255]`` scale.

        The volume is scaled to ``[0, 255]`` on the host (its own percentile), crosses to the
        model's device once as uint8, is sliced, translated and re-stacked there
        (:mod:`mri_io.tensors`), and comes back once."""
        data = np.asarray(volume, dtype=np.float32)
        layout = SliceLayout.square(data.shape, "axial", size=self.model.config.image_size)
        scaled = torch.from_numpy(normalised_uint8(data)).to(self.device)
        cut = tensors.slices(scaled, layout, pad=0)
        outputs = []
        for start in range(0, len(cut), self.batch_size):
            x = cut[start : start + self.batch_size].float() / 127.5 - 1.0
            y = self.model.generator(x[:, None], style.expand(x.shape[0], -1))
            outputs.append((y[:, 0].clamp(-1.0, 1.0) + 1.0) * 127.5)
        restacked = tensors.restack(torch.cat(outputs), layout, fill=0.0)
        brain = tensors.to_device(data, self.device) > 0
        result: NDArray[np.float32] = restacked.masked_fill_(~brain, 0.0).cpu().numpy()
        return result

    def style_for(
        self, domain: str, reference: NDArray[np.floating] | None = None, seed: int = 0
    ) -> torch.Tensor:
        """Reference-guided style when a reference volume is given, else latent-guided."""
        if reference is None:
            return self.latent_style(domain, seed)
        return self.reference_style(reference, domain)


def choose_source(available: Sequence[str], model_sequences: Sequence[str]) -> str:
    """The preferred available sequence the model knows (:data:`SOURCE_PREFERENCE` order)."""
    for name in SOURCE_PREFERENCE:
        if name in available and name in model_sequences:
            return name
    raise NothingToSynthesiseError(None, f"no usable source sequence among {list(available)}")


def translate_case(
    translator: Translator,
    case: Case,
    centre: str,
    target: str,
    *,
    reference: NDArray[np.floating] | None = None,
    seed: int = 0,
) -> NDArray[np.float32]:
    """The case's preferred available sequence translated into domain ``target``.

    Reference-guided when ``reference`` (a volume of the target domain) is given.
    """
    known = {split_domain(d)[1] for d in translator.domains if split_domain(d)[0] == centre}
    source = choose_source(tuple(case.images), tuple(known))
    style = translator.style_for(target, reference, seed)
    return translator.translate_volume(case.images[source].data, style)


def generate_missing(
    translator: Translator,
    case: Case,
    centre: str,
    *,
    target_centre: str | None = None,
    sequences: Sequence[str] = SOURCE_PREFERENCE,
    seed: int = 0,
) -> dict[str, NDArray[np.float32]]:
    """Every sequence of ``sequences`` the case lacks, generated from its preferred one.

    ``centre`` is the case's centre (its source domain); ``target_centre`` (default: the same)
    is the centre whose domains the missing sequences are generated in, which must know them.
    Styles are latent-guided with ``seed``. Returns ``{sequence: volume on [0, 255]}``.
    """
    if not case.images:
        raise NothingToSynthesiseError(None, f"case {case.case_id} has no sequence at all")
    goal = target_centre or centre
    known = {split_domain(d)[1] for d in translator.domains if split_domain(d)[0] == centre}
    source = choose_source(tuple(case.images), tuple(known))
    results = {}
    for name in sequences:
        if name in case.images:
            continue
        style = translator.latent_style(domain_name(goal, name), seed)
        results[name] = translator.translate_volume(case.images[source].data, style)
    return results


def harmonise_case(
    translator: Translator,
    case: Case,
    centre: str,
    target_centre: str,
    *,
    seed: int = 0,
) -> dict[str, NDArray[np.float32]]:
    """Each sequence of the case translated from ``centre``'s domain to ``target_centre``'s.

    Only sequences both centres' domains know are translated; others are left out of the
    result (an empty result raises :class:`NothingToSynthesiseError`).
    """
    results = {}
    for name, volume in case.images.items():
        source, target = domain_name(centre, name), domain_name(target_centre, name)
        if source in translator.domains and target in translator.domains:
            results[name] = translator.translate_volume(
                volume.data, translator.latent_style(target, seed)
            )
    if not results:
        raise NothingToSynthesiseError(
            None, f"no sequence of case {case.case_id} exists at both {centre} and {target_centre}"
        )
    return results

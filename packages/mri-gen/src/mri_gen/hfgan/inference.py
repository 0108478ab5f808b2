"""3D synthesis with HF-GAN: the missing sequences of a case, in scanner intensities.

For each missing sequence (thesis §4.6): normalise the available volumes with the model's
statistics (missing ones are -1), cut them into square slices along each view, generate in
batches, re-stack the slices into a volume (padding cropped), average the views, de-normalise
with the target's statistics, clamp negatives to 0, and give the background (voxels a majority
of the available sequences call background) the value 0. :class:`Synthesiser` implements the
suite's :class:`~mri_gen.Generator` contract; :func:`mri_gen.complete_case` writes the result
as a complete case folder. Each missing sequence is generated from the real inputs only, never
from another synthesis.

Every step runs on the model's device (:mod:`mri_io.tensors`): the input volumes cross to it
once and each synthesised volume comes back once. On a GPU the numpy steps around the network
(normalisation, slicing, per-batch copies, re-stacking, de-normalisation) used to cost more
than the network itself; on a CPU the results are the same bit for bit.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import ClassVar

import numpy as np
import torch
from numpy.typing import NDArray

from mri_gen.errors import ConfigError, NothingToSynthesiseError
from mri_gen.hfgan.config import VIEW_NAMES, GeneratorConfig
from mri_gen.hfgan.generator import BACKGROUND, MODEL_KIND, HFGANGenerator
from mri_gen.training.pretrained import read_model
from mri_io import tensors
from mri_io.case import Case
from mri_io.intensity import IntensityStats, NormalisationParams, Scheme
from mri_io.orientation import AxisCodes
from mri_io.slicing import SliceLayout, View
from mri_io.spacing import case_at_spacing, recorded_grid
from mri_io.training import resolve_device

#: The inputs' intensity scheme (the training cohort's statistics) and how a case meets the
#: network (square slices of each view, padded with the background to the model's size),
#: recorded in the model folder.
NORMALISATION: Scheme = "zscore-dataset"
CROP = "view-slices"


def largest_batch(config: GeneratorConfig) -> int:
    """The most slices one generator call may take on a GPU.

    CUDA convolution kernels index a tensor with 32-bit integers, and the largest activation
    of a slice is the grouped per-sequence encoder's first level (sequences x first-level
    channels x image_size^2 values: 14.7 M for the paper preset), so 145 paper-sized slices
    are the most one call holds. Beyond that a GPU refuses the batch ("canUse32BitIndexMath"):
    larger requests are cut into calls of this size, which gives the same numbers (a slice's
    output does not depend on its batch)."""
    per_slice = len(config.sequences) * config.channels[0] * config.image_size**2
    return max(1, (2**31 - 1) // per_slice)


@dataclass
class Synthesiser:
    """A trained generator with the statistics its inputs must be normalised with.

    ``trained_inputs`` is the training's input scheme when known (``config.json`` of a run
    records it): a model trained with all other sequences as inputs (``"others"``) has never
    seen a case missing two or three sequences, so completing one warns. ``spacing`` and
    ``orientation`` are the voxel size and axis codes it was trained at (``None``: unknown,
    cases are taken as they are): :meth:`complete` brings each case to them and the outputs
    back (:func:`mri_io.spacing.case_at_spacing`).
    """

    generator: HFGANGenerator
    stats: Mapping[str, IntensityStats]
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    batch_size: int = 32
    bf16: bool = False
    trained_inputs: str | None = None
    views: tuple[View, ...] = ("axial",)
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
        bf16: bool = False,
        views: Sequence[View] = ("axial",),
    ) -> Synthesiser:
        """Load ``config.json`` + ``model.safetensors`` (with their statistics) from ``folder``."""
        saved = read_model(folder, MODEL_KIND)
        if "stats" not in saved.config:
            raise ConfigError(saved.path, "config.json holds no intensity statistics")
        stats = {name: IntensityStats(**fields) for name, fields in saved.config["stats"].items()}
        chosen = resolve_device(device)
        generator = HFGANGenerator.from_pretrained(saved.path, device=chosen)
        inputs = saved.config.get("trained_inputs")
        try:
            spacing, orientation = recorded_grid(saved.config, NORMALISATION, CROP)
        except ValueError as exc:
            raise ConfigError(saved.path / "config.json", str(exc)) from None
        return cls(
            generator, stats, chosen, batch_size, bf16, inputs, tuple(views), spacing, orientation
        )

    @property
    def sequences(self) -> tuple[str, ...]:
        return self.generator.config.sequences

    @torch.no_grad()
    def _generate_view(
        self, stack: torch.Tensor, available: torch.Tensor, target: int, view: View
    ) -> torch.Tensor:
        """The normalised target volume generated slice by slice along ``view``, from the
        ``(sequence, x, y, z)`` normalised ``stack`` on the model's device. Every padded slice
        of the view is cut at once (about 140 MB for four 240x240x155 sequences): one copy on
        the device instead of one per batch."""
        size = self.generator.config.image_size
        layout = SliceLayout.square(tuple(stack.shape[1:]), view, size=size)
        plane = tuple(n for a, n in enumerate(stack.shape[1:]) if a != layout.axis)
        if max(plane) > size:
            raise ConfigError(
                None,
                f"{view} slices of {plane[0]}x{plane[1]} do not fit the model's {size}x{size} "
                "input; resample the case or use a model trained on larger slices",
            )
        cut = tensors.slices(stack, layout, pad=BACKGROUND)
        step = min(self.batch_size, largest_batch(self.generator.config))
        outputs = []
        for start in range(0, len(cut), step):
            x = cut[start : start + step]
            n = len(x)
            view_index = torch.full((n,), VIEW_NAMES.index(view), device=self.device)
            target_index = torch.full((n,), target, device=self.device)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                image = self.generator(x, available.expand(n, -1), target_index, view_index).image
            outputs.append(image[:, 0].float())
        return tensors.restack(torch.cat(outputs), layout, fill=BACKGROUND)

    def _inputs(self, case: Case, available: Sequence[bool]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(sequence, x, y, z)`` z-scored volumes on the device (missing ones all -1) and the
        voxels a majority of the ``available`` sequences call background."""
        shape = next(iter(case.images.values())).data.shape
        stack = torch.full((len(self.sequences), *shape), BACKGROUND, device=self.device)
        raw = torch.zeros((len(self.sequences), *shape), device=self.device)
        for index, name in enumerate(self.sequences):
            if name not in case.images:
                continue
            # Out of place: on a CPU the tensor may share the case's own array.
            raw[index] = tensors.to_device(case.images[name].data, self.device).clamp_min(0.0)
            stack[index] = tensors.normalise(
                raw[index], NormalisationParams.of_dataset(self.stats[name])
            )
        return stack, tensors.background_majority(raw, available)

    @torch.no_grad()
    def synthesise(
        self, case: Case, views: Sequence[View] = ("axial",)
    ) -> dict[str, NDArray[np.float32]]:
        """Arrays (in scanner intensities) of every sequence the case is missing."""
        if not views or len(set(views)) != len(views):
            raise ValueError(f"views must be distinct and at least one, got {list(views)}")
        unknown = sorted(set(case.images) - set(self.sequences))
        if unknown:
            raise ConfigError(None, f"the model does not know sequences {unknown}")
        missing = [name for name in self.sequences if name not in case.images]
        if not case.images:
            raise NothingToSynthesiseError(None, f"case {case.case_id} has no sequence at all")
        if len(missing) > 1 and self.trained_inputs == "others":
            warnings.warn(
                f"case {case.case_id} misses {len(missing)} sequences but this model was trained "
                "with all other sequences as inputs (one missing); expect poorer syntheses, or "
                "train with --inputs subsets",
                stacklevel=2,
            )
        available = [name in case.images for name in self.sequences]
        stack, background = self._inputs(case, available)
        mask = torch.tensor(available, device=self.device)
        results = {}
        for name in missing:
            target = self.sequences.index(name)
            generated = self._generate_view(stack, mask, target, views[0])
            for view in views[1:]:
                generated += self._generate_view(stack, mask, target, view)
            # A divisor on the device: CUDA would multiply by the reciprocal of a host number.
            generated /= generated.new_tensor(len(views))
            params = NormalisationParams.of_dataset(self.stats[name])
            volume = tensors.denormalise(generated, params, ~background)
            results[name] = volume.cpu().numpy()
        return results

    def complete(
        self,
        case: Case,
        missing: Sequence[str] | None = None,
        *,
        centre: str | None = None,
        target_centre: str | None = None,
        seed: int = 0,
    ) -> dict[str, NDArray[np.float32]]:
        """The :class:`~mri_gen.Generator` contract: the sequences of ``missing`` (default:
        every one the case lacks) in scanner intensities, generated along :attr:`views`.

        HF-GAN has one model for every site, so ``centre`` and ``seed`` do not change the
        result; it cannot translate between centres, so ``target_centre`` is refused. A case
        of another voxel size than :attr:`spacing` is generated at that voxel size and the
        results resampled back to the case's grid; one in another orientation is reoriented to
        the model's and back.
        """
        del centre, seed  # one deterministic model for every site
        if target_centre is not None:
            raise ConfigError(None, "HF-GAN has no centres: it cannot harmonise into a centre")
        wanted = [n for n in self.sequences if n not in case.images] if missing is None else missing
        unknown = sorted(set(wanted) - set(self.sequences))
        if unknown:
            raise ConfigError(None, f"the model does not generate sequences {unknown}")
        if not wanted:
            return {}
        at_model, resampling = case_at_spacing(case, self.spacing, self.orientation)
        generated = self.synthesise(at_model, self.views)
        return {name: resampling.back(generated[name]) for name in wanted}

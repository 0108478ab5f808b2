"""3D synthesis: a case with missing sequences in, a complete case folder out.

For each missing sequence (thesis §4.6): normalise the available volumes with the model's
statistics (missing ones are -1), cut them into square slices along each view, generate in
batches, re-stack the slices into a volume (padding cropped), average the views, de-normalise
with the target's statistics, clamp negatives to 0, and give the background (voxels a majority
of the available sequences call background) the value 0. The volume is written on the input's
grid, with the input's affine and header, under the BraTS name of the missing sequence; the
available sequences are copied beside it, so the output folder is a complete case.

Each missing sequence is generated from the real inputs only, never from another synthesis.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from tqdm import tqdm

from mri_gen.errors import ConfigError, NothingToSynthesiseError
from mri_gen.hfgan.config import VIEW_NAMES
from mri_gen.hfgan.dataset import normalised_stack
from mri_gen.hfgan.generator import BACKGROUND, MODEL_KIND, HFGANGenerator
from mri_gen.training.pretrained import read_model
from mri_io.atomic import atomic_write
from mri_io.case import Case, load_case
from mri_io.errors import MriSuiteError
from mri_io.intensity import IntensityStats, NormalisationParams, Normaliser
from mri_io.layouts import CaseFiles, brats2021_filename, brats2023_filename, scan_cases
from mri_io.nifti import Volume, save_volume
from mri_io.slicing import SliceLayout, View, background_majority, iter_batches


@dataclass
class Synthesiser:
    """A trained generator with the statistics its inputs must be normalised with.

    ``trained_inputs`` is the training's input scheme when known (``config.json`` of a run
    records it): a model trained with all other sequences as inputs (``"others"``) has never
    seen a case missing two or three sequences, so completing one warns.
    """

    generator: HFGANGenerator
    stats: Mapping[str, IntensityStats]
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    batch_size: int = 32
    bf16: bool = False
    trained_inputs: str | None = None

    @classmethod
    def from_pretrained(
        cls,
        folder: str | PathLike[str],
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 32,
        bf16: bool = False,
    ) -> Synthesiser:
        """Load ``config.json`` + ``model.safetensors`` (with their statistics) from ``folder``."""
        saved = read_model(folder, MODEL_KIND)
        if "stats" not in saved.config:
            raise ConfigError(saved.path, "config.json holds no intensity statistics")
        stats = {name: IntensityStats(**fields) for name, fields in saved.config["stats"].items()}
        chosen = torch.device(device)
        generator = HFGANGenerator.from_pretrained(saved.path, device=chosen)
        return cls(generator, stats, chosen, batch_size, bf16, saved.config.get("trained_inputs"))

    @property
    def sequences(self) -> tuple[str, ...]:
        return self.generator.config.sequences

    @torch.no_grad()
    def _generate_view(
        self, stack: NDArray[np.float32], available: Sequence[bool], target: int, view: View
    ) -> NDArray[np.float32]:
        """The normalised target volume generated slice by slice along ``view``."""
        size = self.generator.config.image_size
        layout = SliceLayout.square(stack.shape[1:], view, size=size)
        plane = tuple(n for a, n in enumerate(stack.shape[1:]) if a != layout.axis)
        if max(plane) > size:
            raise ConfigError(
                None,
                f"{view} slices of {plane[0]}x{plane[1]} do not fit the model's {size}x{size} "
                "input; resample the case or use a model trained on larger slices",
            )
        mask = torch.tensor(available, dtype=torch.bool, device=self.device)
        outputs = []
        for indices, slices in iter_batches(
            stack, layout, batch_size=self.batch_size, pad=BACKGROUND
        ):
            n = len(indices)
            x = torch.from_numpy(np.ascontiguousarray(slices)).to(self.device)
            view_index = torch.full((n,), VIEW_NAMES.index(view), device=self.device)
            target_index = torch.full((n,), target, device=self.device)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                image = self.generator(x, mask.expand(n, -1), target_index, view_index).image
            outputs.append(image[:, 0].float().cpu().numpy())
        restacked: NDArray[np.float32] = layout.restack(np.concatenate(outputs), fill=BACKGROUND)
        return restacked

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
        stack, raw = normalised_stack(
            {k: v.data for k, v in case.images.items()}, self.sequences, self.stats
        )
        available = [name in case.images for name in self.sequences]
        foreground = ~background_majority(raw, available)
        results = {}
        for name in missing:
            target = self.sequences.index(name)
            generated = np.mean(
                [self._generate_view(stack, available, target, view) for view in views], axis=0
            )
            stats = self.stats[name]
            params = NormalisationParams("zscore-dataset", stats.clip, stats.mean, stats.std, -1.0)
            results[name] = Normaliser.inverse(generated, params, foreground)
        return results


def _output_name(files: CaseFiles, key: str) -> str:
    if files.layout == "brats2021":
        return brats2021_filename(files.case_id, key)
    return brats2023_filename(files.case_id, key)


def _copy(source: Path, target: Path) -> None:
    with atomic_write(target) as temporary:
        shutil.copyfile(source, temporary)


def complete_case(
    synthesiser: Synthesiser,
    files: CaseFiles,
    out: str | PathLike[str],
    views: Sequence[View] = ("axial",),
) -> list[Path]:
    """Write the complete case into ``out/<case id>/`` and return the synthesised files."""
    if not files.sequences:
        raise NothingToSynthesiseError(files.folder, f"case {files.case_id} has no sequence file")
    case = load_case(files)
    target = Path(out) / files.case_id
    reference: Volume = next(iter(case.images.values()))
    written = []
    for name, array in synthesiser.synthesise(case, views).items():
        path = target / _output_name(files, name)
        save_volume(reference.with_data(array), path, dtype=np.float32)
        written.append(path)
    for path in [*files.sequences.values(), *([files.seg] if files.seg else [])]:
        _copy(path, target / path.name)
    return written


def complete_cohort(
    synthesiser: Synthesiser,
    cases: Iterable[CaseFiles],
    out: str | PathLike[str],
    views: Sequence[View] = ("axial",),
    *,
    progress: bool = True,
) -> tuple[list[Path], list[MriSuiteError]]:
    """Complete every case; a bad case is reported and skipped, not fatal to the cohort."""
    written: list[Path] = []
    failures: list[MriSuiteError] = []
    chosen = list(cases)
    for files in tqdm(chosen, desc="synthesising", unit="case", disable=not progress):
        try:
            written += complete_case(synthesiser, files, out, views)
        except MriSuiteError as exc:
            failures.append(exc)
    return written, failures


def single_case(folder: str | PathLike[str]) -> CaseFiles:
    """The one case in ``folder`` (an error names the folder if it holds none or several)."""
    cases = scan_cases(folder)
    if len(cases) != 1:
        raise ConfigError(folder, f"holds {len(cases)} cases; use --cohort for several")
    return cases[0]

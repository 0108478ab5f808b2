"""The main job on the bundled synthetic cohort.

Generates a small multi-centre synthetic cohort with mri-io, learns sequence correlations and
histograms on its training split, removes each sequence of every held-out case in turn
(the four single-missing scenarios), completes it with each copy strategy, scores the
completion against the real sequence with mri-metrics (foreground SSIM, PSNR, MAE on the brain
and the tumour), and writes a results table, statistics and a report with figures.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from mri_bench.reference import SequenceReference, estimate_reference, unit_scale
from mri_bench.report import write_report
from mri_bench.strategies import CompletionStrategy, CopyMatched, CopyMostCorrelated
from mri_io.atomic import atomic_write
from mri_io.case import Case, load_case
from mri_io.layouts import scan_cases
from mri_io.sequences import SEQUENCES
from mri_io.synthetic import write_cohort
from mri_io.synthetic.case import AnatomyName
from mri_io.synthetic.cohort import MANIFEST
from mri_io.synthetic.grid import GridName
from mri_metrics import mae, psnr, ssim


@dataclass(frozen=True)
class DemoSettings:
    """What the demo generates and how it splits it."""

    n_cases: int = 20
    seed: int = 0
    grid: GridName = "half"
    anatomy: AnatomyName = "mni"
    #: Centres acquiring all four sequences: every case must be complete to be scored.
    centres: tuple[str, ...] = ("research-3t", "clinical-1.5t", "legacy-2d")
    train_fraction: float = 0.5
    workers: int = 2


@dataclass(frozen=True)
class ImageScore:
    """One row of the results table: a completed sequence scored on one region."""

    case: str
    centre: str
    scenario: str
    strategy: str
    region: str
    ssim: float
    psnr: float
    mae: float


def case_images(case: Case) -> dict[str, npt.NDArray[np.float32]]:
    return {key: volume.data.astype(np.float32) for key, volume in case.images.items()}


def score_completions(
    cases: Sequence[Case],
    centres: dict[str, str],
    reference: SequenceReference,
    strategies: Sequence[CompletionStrategy],
) -> list[ImageScore]:
    """Every held-out case x single-missing scenario x strategy, scored on brain and tumour."""
    rows: list[ImageScore] = []
    for case in tqdm(cases, desc="scoring completions", unit="case"):
        images = case_images(case)
        brain = np.any(np.stack([image > 0 for image in images.values()]), axis=0)
        tumour = (case.seg.data > 0) if case.seg is not None else np.zeros_like(brain)
        centre = centres.get(case.case_id, "unknown")
        for target in SEQUENCES:
            available = {key: image for key, image in images.items() if key != target}
            real = unit_scale(images[target], brain)
            for strategy in strategies:
                completed = unit_scale(strategy.complete(target, available), brain)
                for region, mask in (("brain", brain), ("tumour", tumour & brain)):
                    if not mask.any():
                        continue
                    rows.append(
                        ImageScore(
                            case=case.case_id,
                            centre=centre,
                            scenario=f"missing {target}",
                            strategy=strategy.name,
                            region=region,
                            ssim=ssim(completed, real, mask=mask, data_range=1.0),
                            psnr=psnr(completed, real, mask=mask, data_range=1.0),
                            mae=mae(completed, real, mask=mask),
                        )
                    )
    return rows


def write_rows(rows: Sequence[ImageScore], path: Path) -> None:
    with atomic_write(path) as temporary, temporary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)


def run_demo(out: Path, settings: DemoSettings = DemoSettings()) -> Path:
    """Run the main job into ``out`` and return the path of the Markdown report."""
    out.mkdir(parents=True, exist_ok=True)
    cohort = out / "cohort"
    if not (cohort / MANIFEST).is_file():
        write_cohort(
            cohort,
            settings.n_cases,
            seed=settings.seed,
            centres=settings.centres,
            tumour="mix",
            grid=settings.grid,
            anatomy=settings.anatomy,
            workers=settings.workers,
            overwrite=True,
        )
    manifest = json.loads((cohort / MANIFEST).read_text())
    centres = {record["case_id"]: record["centre"] for record in manifest["cases"]}
    files = scan_cases(cohort)
    n_train = max(1, round(len(files) * settings.train_fraction))
    train = [load_case(f) for f in files[:n_train]]
    test = [load_case(f) for f in files[n_train:]]
    reference = estimate_reference(case_images(case) for case in train)
    reference.save(out / "reference.json")
    strategies: list[CompletionStrategy] = [
        CopyMostCorrelated(reference),
        CopyMatched(reference),
    ]
    rows = score_completions(test, centres, reference, strategies)
    write_rows(rows, out / "results.csv")
    example = max(test, key=lambda case: int((case.seg.data > 0).sum()) if case.seg else 0)
    return write_report(out, rows, reference, example, strategies)

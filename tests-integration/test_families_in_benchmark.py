"""Every mri-seg family's model folder serves as mri-bench's fixed segmenter unchanged: the
benchmark reads it through ``load_segmenter`` and the ``Segmenter`` contract only, completes
nothing itself, and gets a label map on the case's grid.

Untrained networks (seeded): what is under test is that the folder of each family plugs in,
not the quality of its labels (each family's learning is tested in mri-seg).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from mri_bench.segmenter import FixedSegmenter
from mri_io.case import Case, load_case
from mri_io.layouts import scan_cases
from mri_io.synthetic import FULL_GRID, write_cohort
from mri_seg.ganet import GANetSeg
from mri_seg.synthtumour import SynthTumourUNet
from mri_seg.unet import UNet3D

#: The family's model, freshly initialised: a 2D slice segmenter and two 3D U-Net kinds.
FAMILIES: dict[str, Callable[[], torch.nn.Module]] = {
    "unet": lambda: UNet3D.from_preset("tiny"),
    "ganet-seg": lambda: GANetSeg(preset="tiny"),
    "synthtumour": lambda: SynthTumourUNet.for_stage("senior", "tiny"),
}


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    folder = tmp_path_factory.mktemp("cohort")
    write_cohort(folder, 1, seed=4, centres=["research-3t"], tumour="gbm",
                 grid=FULL_GRID.coarsened(4), progress=False)  # fmt: skip
    return load_case(scan_cases(folder)[0])


@pytest.mark.parametrize("kind", sorted(FAMILIES))
def test_a_family_folder_is_the_benchmarks_fixed_segmenter(
    kind: str, case: Case, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    FAMILIES[kind]().save_pretrained(tmp_path / "model")  # type: ignore[operator]
    segmenter = FixedSegmenter(tmp_path / "model", device="cpu")
    # A BraSyn case: t2f missing, filled by a completion the benchmark hands over.
    images = {k: v for k, v in case.images.items() if k != "t2f"}
    incomplete = Case(case.case_id, images, case.seg, ("t2f",))
    completion = {"t2f": case.images["t2f"].data}
    labels = segmenter.segment(incomplete, completion)
    assert labels.shape == case.images["t1n"].shape
    assert labels.dtype == np.uint8
    assert set(np.unique(labels)) <= {0, 1, 2, 3}
    assert segmenter.provenance()["segmenter_sha256"]
    # The same folder and case give the same labels (seeded, deterministic on CPU).
    again = FixedSegmenter(tmp_path / "model", device="cpu").segment(incomplete, completion)
    np.testing.assert_array_equal(labels, again)

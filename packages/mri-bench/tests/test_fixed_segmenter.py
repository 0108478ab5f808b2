"""The fixed segmenter reads any mri-seg model folder and uses it only through the contract."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from mri_bench.segmenter import FixedSegmenter
from mri_io.case import load_case
from mri_io.layouts import scan_cases


@pytest.mark.parametrize("family", ["unet3d", "segmenter2d"])
def test_any_family_segments_a_completed_case(
    family: str, segmenter: Path, cohort: Path, tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch")
    import mri_seg

    folder = segmenter
    if family == "segmenter2d":
        torch.manual_seed(0)
        folder = tmp_path / "seg2d"
        mri_seg.Segmenter2D(features=(4, 8, 8, 8)).save_pretrained(folder)
    files = scan_cases(cohort)[0]
    case = load_case(files)
    flair = case.images.pop("t2f")
    fixed = FixedSegmenter(folder, window=(32, 32, 24))
    labels = fixed.segment(case, {"t2f": flair.data})
    assert labels.shape == flair.shape
    assert labels.dtype == np.uint8
    assert isinstance(fixed._model, mri_seg.Segmenter)
    again = pickle.loads(pickle.dumps(fixed))  # workers receive it without the network
    assert again._model is None
    np.testing.assert_array_equal(again.segment(case, {"t2f": flair.data}), labels)

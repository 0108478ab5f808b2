"""Accuracy: a ``tiny`` 3D U-Net trained minutes on CPU segments held-out synthetic cases.

The same cohorts and recipe as ``benchmarks/train_tiny.py`` (400 steps; its measured figure,
with the time it took, is in docs/mri-seg/index.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mri_io.layouts import scan_cases
from mri_io.synthetic.cohort import write_cohort
from mri_seg import InferenceSettings, TrainConfig, UNet3D, score_cases, train_unet

CENTRES = ("research-3t", "clinical-1.5t", "legacy-2d")


@pytest.mark.slow
def test_tiny_unet_reaches_whole_tumour_dice_08(tmp_path: Path) -> None:
    train, test = tmp_path / "train", tmp_path / "test"
    # Separate seeds: no test case is a training or validation case.
    write_cohort(train, 16, seed=1000, centres=CENTRES, tumour="gbm", progress=False)
    write_cohort(test, 6, seed=2000, centres=CENTRES, tumour="gbm", progress=False)
    config = TrainConfig(
        preset="tiny",
        epochs=16,
        steps_per_epoch=25,
        batch_size=4,
        crop=(48, 48, 48),
        learning_rate=3e-3,
        val_every=16,
        overlap=0.25,
        device="cpu",
    )
    train_unet(train, tmp_path / "run", config, progress=False)
    model = UNet3D.from_pretrained(tmp_path / "run" / "best")
    scores = score_cases(model, scan_cases(test), InferenceSettings(overlap=0.5))
    assert len(scores) == 6
    assert float(np.mean([case["WT"] for case in scores.values()])) >= 0.8

"""Shared fixtures: a small synthetic cohort and small model configurations."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mri_gen.hfgan.config import PRESETS, HFGANConfig
from mri_io.synthetic.cohort import write_cohort


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    """Tiny models are faster on one thread than fighting over a shared machine's cores."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four complete half-grid (120x120x78) synthetic cases."""
    folder = tmp_path_factory.mktemp("cohort")
    write_cohort(folder, 4, seed=5, progress=False)
    return folder


@pytest.fixture
def small() -> HFGANConfig:
    """The tiny preset on 32x32 slices."""
    return PRESETS["tiny"].with_image_size(32)

"""Quality on held-out synthetic cases: a tiny HF-GAN trained minutes on CPU beats copying."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "train_and_compare.py"


@pytest.mark.slow
def test_tiny_model_beats_copying_the_most_correlated_sequence(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--out", str(tmp_path), "--minutes", "8"]
    subprocess.run(command, check=True, timeout=3600)
    summary = json.loads((tmp_path / "results.json").read_text())["summary"]
    ssim_gen = np.mean([row["ssim_gen"] for row in summary.values()])
    ssim_copy = np.mean([row["ssim_copy"] for row in summary.values()])
    mae_gen = np.mean([row["mae_gen"] for row in summary.values()])
    mae_copy = np.mean([row["mae_copy"] for row in summary.values()])
    assert ssim_gen > ssim_copy
    assert mae_gen < mae_copy
    for target in ("t2w", "t2f"):
        assert summary[target]["ssim_gen"] > summary[target]["ssim_copy"] + 0.1
        assert summary[target]["mae_gen"] < summary[target]["mae_copy"]

"""Quality on held-out paired synthetic cases: a tiny UMMGAT trained unpaired beats copying.

Minutes of CPU: run with ``-m slow``. The script also trains the model without the
lesion-aware module and reports both models' FID-style scores (random-conv features).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "ummgat_quality.py"


@pytest.mark.slow
def test_tiny_ummgat_translates_t2w_to_t2f_better_than_copying(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--out", str(tmp_path), "--minutes", "17"]
    subprocess.run(command, check=True, timeout=3 * 3600)
    results = json.loads((tmp_path / "results.json").read_text())
    summary = results["summary"]
    for model in ("ummgat_lam", "ummgat_no_lam"):
        assert summary[model]["ssim"] > summary["copy"]["ssim"]
        assert summary[model]["mae"] < summary["copy"]["mae"]
        assert np.isfinite(summary[model]["fid_slices"])
        assert np.isfinite(summary[model]["fid_lesions"])
    assert results["runs"]["ummgat_lam"]["steps"] > 0

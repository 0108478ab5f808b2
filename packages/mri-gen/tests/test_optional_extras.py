"""The tensorboard and umap extras: the installed path runs, and a missing extra is named.

Both extras are declared by mri-gen and installed with it by the test session, so they are
imported directly here: a test environment without them fails instead of skipping. The
"extra missing" branches are reached by hiding the installed module.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import umap
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mri_gen.errors import MissingExtraError
from mri_gen.training import open_log
from mri_gen.ummgat.styles import project_2d
from mri_io.training import RunFolder


def _codes(n: int = 60, dim: int = 8) -> np.ndarray:
    """Two well-separated clusters of style codes."""
    rng = np.random.default_rng(0)
    centres = np.repeat(np.eye(2, dim) * 10.0, n // 2, axis=0)
    return centres + rng.normal(size=(n, dim))


@pytest.mark.filterwarnings("ignore:n_jobs value:UserWarning")  # a fixed seed runs one thread
def test_umap_projection_runs_when_umap_learn_is_installed() -> None:
    assert umap.UMAP is not None
    codes = _codes()
    points, method = project_2d(codes, "umap", seed=0)
    assert method == "umap"
    assert points.shape == (len(codes), 2)
    assert points.dtype == np.float64
    assert np.all(np.isfinite(points))
    # The embedding keeps the two clusters apart: every point is nearer its cluster's centre.
    first, second = points[:30].mean(axis=0), points[30:].mean(axis=0)
    near_first = np.linalg.norm(points - first, axis=1) < np.linalg.norm(points - second, axis=1)
    assert near_first[:30].all()
    assert not near_first[30:].any()
    # "auto" prefers UMAP when it is there.
    assert project_2d(codes, "auto", seed=0)[1] == "umap"


def test_umap_missing_names_the_extra_and_auto_falls_back_to_pca(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "umap", None)  # as if umap-learn were not installed
    codes = _codes()
    with pytest.raises(MissingExtraError, match=r'pip install "mri-gen\[umap\]"'):
        project_2d(codes, "umap")
    points, method = project_2d(codes, "auto")
    assert method == "pca"
    assert points.shape == (len(codes), 2)


def test_tensorboard_log_writes_scalars_when_installed(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    log = open_log(run, resume_after=None, tensorboard=True)
    for step, value in ((1, 0.5), (2, 0.25)):
        log.write(step, {"l1": value})
    log.close()
    assert run.log_file.is_file()
    events = EventAccumulator(str(run.path / "tensorboard"))
    events.Reload()
    scalars = events.Scalars("l1")
    assert [(s.step, s.value) for s in scalars] == [(1, 0.5), (2, 0.25)]


def test_tensorboard_missing_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # tensorboard absent
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    with pytest.raises(MissingExtraError, match=r'pip install "mri-gen\[tensorboard\]"'):
        open_log(run, resume_after=None, tensorboard=True)
    # Without TensorBoard asked for, the CSV log works as before.
    log = open_log(run, resume_after=None, tensorboard=False)
    log.write(1, {"l1": 0.5})
    log.close()
    assert run.log_file.read_text().splitlines()[0] == "step,l1"

"""What mri-gen's models share around training: model folders, loss-weight overrides, and the
start of a run in its run folder.

Everything else a trainer needs (run folder, log, resumable state, devices, ``torchrun``, EMA,
schedules) is the suite's one training runtime, :mod:`mri_io.training`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from mri_gen.errors import MissingExtraError
from mri_io.errors import RunFolderError
from mri_io.training import DistributedEnv, MetricLog, RunFolder, barrier

#: The log of run folders written by mri-gen 0.1, whose model lay in the folder itself.
OLD_LOG: Final = "losses.csv"
OLD_LAYOUT: Final = "mv losses.csv log.csv && mkdir last && mv config.json model.safetensors last/"
TENSORBOARD_EXTRA: Final = (
    'TensorBoard logging needs tensorboard: pip install "mri-gen[tensorboard]"'
)


def check_run(
    run: RunFolder, settings: Mapping[str, Any], *, resume: bool, env: DistributedEnv
) -> bool:
    """Check ``run`` on every process before any of them writes to it; whether a state exists
    to resume from.

    A new run needs a folder without a run; a resumed one the same ``settings``
    (:meth:`RunFolder.begin`). Every rank checks first and then waits for the others, so no
    rank mistakes the ``run.json`` rank 0 writes next for an earlier run's.
    """
    if resume and (run.path / OLD_LOG).is_file() and not run.log_file.exists():
        raise RunFolderError(
            run.path,
            "a run folder written by mri-gen 0.1; convert it to the current layout inside the "
            f"folder with: {OLD_LAYOUT}",
        )
    resumed = run.begin(settings, resume=resume, write=False)
    barrier(env)
    return resumed


def open_log(run: RunFolder, *, resume_after: int | None, tensorboard: bool) -> MetricLog:
    """The run's ``log.csv`` (rank 0 opens it); a missing TensorBoard names mri-gen's extra."""
    try:
        return run.open_log(resume_after=resume_after, tensorboard=tensorboard)
    except ImportError:
        raise MissingExtraError(TENSORBOARD_EXTRA) from None

"""What mri-gen's models share around training: model folders, loss-weight overrides, and the
run's log with mri-gen's TensorBoard extra.

Everything else a trainer needs (run folder, log, resumable state, devices, ``torchrun``, EMA,
schedules) is the suite's one training runtime, :mod:`mri_io.training`.
"""

from __future__ import annotations

from typing import Final

from mri_gen.errors import MissingExtraError
from mri_io.training import MetricLog, RunFolder

TENSORBOARD_EXTRA: Final = (
    'TensorBoard logging needs tensorboard: pip install "mri-gen[tensorboard]"'
)


def open_log(run: RunFolder, *, resume_after: int | None, tensorboard: bool) -> MetricLog:
    """The run's ``log.csv`` (rank 0 opens it); a missing TensorBoard names mri-gen's extra."""
    try:
        return run.open_log(resume_after=resume_after, tensorboard=tensorboard)
    except ImportError:
        raise MissingExtraError(TENSORBOARD_EXTRA) from None

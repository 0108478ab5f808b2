"""The training runtime every model family of the suite shares.

A model family (HF-GAN, UMMGAT, the 3D U-Net, the 2D segmenter, ...) owns its networks, losses,
data and training step. Everything around the step is the same for all of them and lives here,
once: the device (:func:`resolve_device`), the ``torchrun`` process group
(:func:`init_distributed`), seeding, the run folder (:class:`RunFolder`: settings, log,
resumable state, best and last model), the resumable training state, the metric log, and the
generic optimisation helpers (EMA of weights, warm-up + cosine schedule).

Needs torch: ``pip install "mri-io[torch]"`` (mri-gen and mri-seg pull it in). ``import mri_io``
never imports this subpackage, so mri-io's core stays torch-free.
"""

from __future__ import annotations

try:
    import torch as _torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by the isolation session
    raise ImportError(f'mri_io.training needs torch: pip install "mri-io[torch]" ({exc})') from exc

from mri_io.training.devices import resolve_device, torch_threads, worker_start_method
from mri_io.training.distributed import (
    DistributedEnv,
    any_rank,
    barrier,
    init_distributed,
    mean_over_ranks,
    shutdown,
    wrap,
)
from mri_io.training.ema import EMA
from mri_io.training.metric_log import MetricLog, tensorboard_writer
from mri_io.training.run_folder import RunFolder
from mri_io.training.schedule import scaled_learning_rate, warmup_cosine, warmup_cosine_factor
from mri_io.training.seeding import seed_everything
from mri_io.training.state import load_state, save_state

__all__ = [
    "EMA",
    "DistributedEnv",
    "MetricLog",
    "RunFolder",
    "any_rank",
    "barrier",
    "init_distributed",
    "load_state",
    "mean_over_ranks",
    "resolve_device",
    "save_state",
    "scaled_learning_rate",
    "seed_everything",
    "shutdown",
    "tensorboard_writer",
    "torch_threads",
    "warmup_cosine",
    "warmup_cosine_factor",
    "worker_start_method",
    "wrap",
]

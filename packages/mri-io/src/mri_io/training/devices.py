"""One meaning of ``--device`` for every command and trainer of the suite.

``None`` or ``"auto"`` picks this process's GPU when CUDA is available (under ``torchrun``,
the one numbered ``LOCAL_RANK``), else the CPU; ``"cuda"`` is the same GPU choice but refuses a
machine without CUDA; ``"cuda:N"`` pins a GPU; ``"cpu"`` and ``"mps"`` are taken as they are.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from mri_io.errors import UnknownNameError


def _local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def resolve_device(spec: str | torch.device | None = None) -> torch.device:
    """The device ``spec`` names (see the module docstring); a bad name raises a clear error."""
    if isinstance(spec, torch.device):
        return spec
    text = "auto" if spec is None else spec.strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", _local_rank() % torch.cuda.device_count())
        return torch.device("cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise UnknownNameError(
            None, f"unknown device {spec!r}; use auto, cpu, cuda, cuda:N or mps"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UnknownNameError(None, f"device {spec!r} asked for, but CUDA is not available")
        index = _local_rank() if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise UnknownNameError(
                None, f"device {spec!r}: this machine has {torch.cuda.device_count()} GPU(s)"
            )
        return torch.device("cuda", index)
    if device.type not in ("cpu", "mps"):
        raise UnknownNameError(None, f"unsupported device {spec!r}; use auto, cpu, cuda:N or mps")
    return device


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Torch on ``count`` CPU threads in this process inside the block, restored after.

    Processes that each use every core's threads oversubscribe a small machine: on 2 shared
    cores two torch threads per process are many times slower than one. A job that runs
    ``workers`` processes gives each one thread, and a measurement runs on one thread so its
    numbers do not depend on what else shares the machine.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def worker_start_method(workers: int) -> str | None:
    """How a ``DataLoader`` should start its ``workers`` processes: ``"forkserver"`` once this
    process has initialised CUDA, else the platform's default (``None``; fork on Linux).

    CUDA runs threads of its own, and forking a multi-threaded process can leave a child
    holding a lock no thread will release (Python 3.12 warns on every such fork); a fork
    server forks from a clean single-threaded process instead, at the cost of pickling the
    dataset once per worker. Before CUDA is touched, and on CPU, fork stays: it is the
    cheapest start and the CPU runs are the ones that are measured.
    """
    if workers > 0 and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
        return "forkserver"
    return None

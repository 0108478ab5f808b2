"""Worker process pools whose workers die with their parent.

A :class:`~concurrent.futures.ProcessPoolExecutor` worker waits on a call queue whose write end
it holds itself, so when the parent is killed outright (``kill -9``, the kernel's OOM killer, a
scheduler's hard timeout) nothing ever wakes it: the workers, and multiprocessing's resource
tracker that waits for them, stay alive and idle for ever, holding their memory. Every pool of
the suite starts through :func:`process_pool`, whose workers also watch the parent's sentinel
(multiprocessing's handle that becomes ready when the parent process ends) in a daemon thread
and leave at once when it fires. An orderly shutdown is untouched: the executor still joins its
workers itself.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.connection import wait
from typing import Any

__all__ = ["process_pool"]

#: Exit status of a worker that left because its parent died (``os._exit``: no cleanup runs,
#: as there is no one left to report to).
ORPHANED = 70


def process_pool(
    workers: int,
    *,
    start_method: str | None = None,
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
) -> ProcessPoolExecutor:
    """A process pool of ``workers`` processes started by ``start_method`` (``"spawn"``,
    ``"fork"``, ``"forkserver"``; ``None``: the platform's default), each running
    ``initializer(*initargs)`` first, as with the executor's own arguments, and each exiting
    as soon as this process dies."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(start_method),
        initializer=_start_worker,
        initargs=(initializer, initargs),
    )


def _start_worker(initializer: Callable[..., object] | None, initargs: tuple[Any, ...]) -> None:
    parent = multiprocessing.parent_process()
    if parent is not None:  # always set in a pool's worker; None only if called in the parent
        threading.Thread(
            target=_exit_when_ready, args=(parent.sentinel,), name="exit-with-parent", daemon=True
        ).start()
    if initializer is not None:
        initializer(*initargs)


def _exit_when_ready(sentinel: int) -> None:
    wait([sentinel])
    os._exit(ORPHANED)

"""Process pools: the initialiser runs in every worker, and the workers leave when their parent
is killed outright (before, they waited on their call queue for ever)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mri_io import process_pool

START_METHODS = ("spawn", "fork", "forkserver")


@pytest.mark.parametrize("start_method", START_METHODS)
def test_every_worker_runs_the_initialiser(tmp_path: Path, start_method: str) -> None:
    with process_pool(
        2, start_method=start_method, initializer=os.chdir, initargs=(str(tmp_path),)
    ) as pool:
        folders = {pool.submit(os.getcwd).result() for _ in range(6)}
    assert folders == {str(tmp_path)}


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its new parent has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("start_method", START_METHODS)
def test_workers_exit_when_their_parent_is_killed(tmp_path: Path, start_method: str) -> None:
    script = textwrap.dedent(
        f"""
        import json, os, signal
        from mri_io import process_pool
        pool = process_pool(2, start_method={start_method!r})
        pids = sorted({{pool.submit(os.getpid).result() for _ in range(8)}})
        with open("PIDS", "w") as file:
            file.write(json.dumps(pids))
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    # Output to a file, not a pipe: orphaned workers would hold a pipe open and hang the run.
    with (tmp_path / "log").open("w") as log:
        child = subprocess.run([sys.executable, "-c", script], stdout=log, stderr=log, cwd=tmp_path)
    assert child.returncode == -signal.SIGKILL, (tmp_path / "log").read_text()
    workers = json.loads((tmp_path / "PIDS").read_text())
    assert workers
    assert os.getpid() not in workers
    # The workers notice at once; the deadline only bounds a failing run (before the watch,
    # they were still waiting after any deadline).
    deadline = time.monotonic() + 60
    while any(running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if running(pid)]
    for pid in left:  # do not leak them into the rest of the session
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {left} outlived their killed parent"

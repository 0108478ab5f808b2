"""Kill a command while it writes, for the fault tests of every mri-suite package.

The suite promises that a command killed at any moment leaves the previous output or the
complete new one (:mod:`mri_io.atomic`). A test proves it by running the command in a new
Python process that SIGKILLs itself at a chosen moment of its writing, then reading what is
left. Every writer of the suite makes its output visible with a rename (``os.replace`` or
``os.rename``), so the moments worth choosing are just before one of them; these helpers
give the hook that does it (Python source to put before the command) and run the process.
Where the moment is better named by the writer's own step (the n-th volume a command saves),
:func:`kill_at_call` kills at the n-th call of a function instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from os import PathLike
from pathlib import Path

__all__ = ["kill_at_call", "kill_at_rename", "kill_in_model_save", "run_killed", "visible"]

_AT_RENAME = """
import os, signal
renames, started = [], [{started}]
def dying(real):
    def rename(source, target, *args, **kwargs):
        if started[0]:
            renames.append(1)
            if len(renames) == {commit}:
                os.kill(os.getpid(), signal.SIGKILL)
        real(source, target, *args, **kwargs)
        if os.path.basename(target) == {after!r}:
            started[0] = True
    return rename
os.replace, os.rename = dying(os.replace), dying(os.rename)
"""

_IN_MODEL_SAVE = """
import os, signal
import safetensors.torch
saves, renames = [], []
real_save = safetensors.torch.save_file
def save_file(tensors, filename, *args, **kwargs):
    real_save(tensors, filename, *args, **kwargs)
    saves.extend([1] if {folder!r} in os.path.basename(os.path.dirname(filename)) else [])
safetensors.torch.save_file = save_file
def dying(real):
    def rename(*args, **kwargs):
        if len(saves) == {save}:
            renames.append(1)
            if len(renames) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    return rename
os.replace, os.rename = dying(os.replace), dying(os.rename)
"""

_AT_CALL = """
import importlib, os, signal
_module = importlib.import_module({module!r})
_real, _calls = getattr(_module, {name!r}), []
def _dying(*args, **kwargs):
    _calls.append(1)
    if len(_calls) == {call}:
        os.kill(os.getpid(), signal.SIGKILL)
    return _real(*args, **kwargs)
setattr(_module, {name!r}, _dying)
"""


def kill_at_call(target: str, call: int) -> str:
    """A hook that kills the process as its ``call``-th call (1 for the first) of ``target``
    begins: ``"package.module.function"``, replaced in that module, so patch the name the
    writer calls (``"mri_io.commands.normalise.save_volume"``, not ``mri_io.save_volume``)."""
    module, _, name = target.rpartition(".")
    if not module or call < 1:
        raise ValueError(f"need 'module.function' and a call >= 1, got {target!r}, {call}")
    return _AT_CALL.format(module=module, name=name, call=call)


def kill_at_rename(commit: int, *, after: str | None = None) -> str:
    """A hook that kills the process just before its ``commit``-th rename (1 for the first),
    counting only the renames after the one that gave a file the name ``after`` when given."""
    return _AT_RENAME.format(commit=commit, after=after, started=after is None)


def kill_in_model_save(save: int, *, folder: str = "") -> str:
    """A hook that kills the process inside its ``save``-th model-folder write (counting only
    writes into folders whose name holds ``folder``): once that model's weights have their
    final name, before its ``config.json`` has. Needs safetensors."""
    return _IN_MODEL_SAVE.format(save=save, folder=folder)


def run_killed(hook: str, command: str) -> None:
    """Run the Python source ``command`` after ``hook`` in a new process (one torch thread);
    raise AssertionError unless the hook killed it with SIGKILL."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    script = textwrap.dedent(hook) + "\n" + textwrap.dedent(command)
    result = subprocess.run([sys.executable, "-c", script], check=False, env=env)
    if result.returncode != -signal.SIGKILL:
        raise AssertionError(
            f"the command was not killed where the hook says (exit status {result.returncode})"
        )


def visible(folder: str | PathLike[str]) -> list[str]:
    """The sorted names in ``folder`` that a reader sees: a killed write's leftovers are
    hidden (``.NAME...``)."""
    return sorted(path.name for path in Path(folder).iterdir() if not path.name.startswith("."))

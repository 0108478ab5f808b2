"""The run folder: one layout for every model family of the suite.

::

    RUN/
      run.json     the settings the run was started with (what the family's trainer writes)
      log.csv      one row per step or epoch (:class:`~mri_io.training.MetricLog`)
      state.pt     the latest resumable state (tensors, numbers, strings; never a pickle)
      last/        the latest model folder (config.json + model.safetensors)
      best/        the model folder with the best validation score, for families that validate

A family may add files of its own beside these (HF-GAN's ``stats.json``, the U-Net's
``split.json``, UMMGAT's ``assignment.json``); the five names above mean the same everywhere,
so tools (the benchmark, ``load_generator``/``load_segmenter``, a user's plotting script) read
any run the same way.

Starting a run in a folder that holds one is refused unless the run is resumed; a resumed run
must have been started with the same settings, except those its trainer names as resumable
(time budget, device, logging), because a run resumed with another learning rate or schedule
length is neither the old run nor a new one.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from os import PathLike
from pathlib import Path
from typing import Any, Final

import torch

from mri_io.atomic import atomic_write_text
from mri_io.errors import RunFolderError
from mri_io.labels import upgrade_saved_keys
from mri_io.training.distributed import DistributedEnv, barrier
from mri_io.training.metric_log import MetricLog
from mri_io.training.state import load_state, save_state

#: Run folders written before the suite had one layout: a file of the old layout, the file of
#: the new layout that replaces it (absent from an old folder), the writer, and how to convert.
_LEGACY: Final = (
    (
        "train_config.json",
        "run.json",
        "mri-seg 0.1",
        "mv train_config.json run.json && mv checkpoint.pt state.pt",
    ),
    (
        "losses.csv",
        "log.csv",
        "mri-gen 0.1",
        "mv losses.csv log.csv && mkdir last && mv config.json model.safetensors last/",
    ),
)


class RunFolder:
    """Paths and operations of one run folder (see the module docstring for the layout)."""

    RUN_FILE: Final = "run.json"
    LOG_FILE: Final = "log.csv"
    STATE_FILE: Final = "state.pt"
    BEST_DIR: Final = "best"
    LAST_DIR: Final = "last"

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def run_file(self) -> Path:
        return self.path / self.RUN_FILE

    @property
    def log_file(self) -> Path:
        return self.path / self.LOG_FILE

    @property
    def state_file(self) -> Path:
        return self.path / self.STATE_FILE

    @property
    def best(self) -> Path:
        """The best model's folder (families that validate)."""
        return self.path / self.BEST_DIR

    @property
    def last(self) -> Path:
        """The latest model's folder."""
        return self.path / self.LAST_DIR

    def _refuse_legacy(self) -> None:
        for old, new, writer, commands in _LEGACY:
            if (self.path / old).exists() and not (self.path / new).exists():
                raise RunFolderError(
                    self.path,
                    f"a run folder written by {writer}; convert it to the current layout "
                    f"inside the folder with: {commands}",
                )

    def begin(
        self,
        settings: Mapping[str, Any],
        *,
        resume: bool,
        resumable: Collection[str] = (),
        env: DistributedEnv | None = None,
        write: bool = True,
    ) -> bool:
        """Start a run with ``settings`` (JSON-ready), or check a resumed one; whether a state
        exists to resume from.

        A new run (``resume=False``) needs a folder without a run in it and writes ``run.json``
        (unless ``write`` is false, for a trainer that writes it after more checks of its own
        with a second call). A resumed run needs ``run.json`` with the same settings except the
        keys in ``resumable``; when it has no state yet (it was stopped before its first
        checkpoint) it starts from the beginning. Under ``torchrun`` pass ``env``: every
        process checks the folder, all wait, and only rank 0 writes, so no process mistakes
        the ``run.json`` rank 0 has just written for an earlier run's.
        """
        resumed = self._check(settings, resume=resume, resumable=resumable)
        if env is not None:
            barrier(env)
        if write and not resume and (env is None or env.is_main):
            self.path.mkdir(parents=True, exist_ok=True)
            plain = json.loads(json.dumps(dict(settings)))
            atomic_write_text(self.run_file, json.dumps(plain, indent=2) + "\n")
        return resumed

    def _check(
        self, settings: Mapping[str, Any], *, resume: bool, resumable: Collection[str]
    ) -> bool:
        self._refuse_legacy()
        plain = json.loads(json.dumps(dict(settings)))
        if not resume:
            if self.run_file.exists() or self.state_file.exists():
                raise RunFolderError(
                    self.path, "holds a run already; resume it or choose another folder"
                )
            return False
        saved = self.settings()
        differ = sorted(
            key
            for key in set(saved) | set(plain)
            if key not in resumable and saved.get(key) != plain.get(key)
        )
        if differ:
            raise RunFolderError(
                self.run_file,
                f"the run there was started with other settings ({', '.join(differ)}); "
                "use the same settings to resume, or another folder",
            )
        return self.state_file.is_file()

    def settings(self) -> dict[str, Any]:
        """The parsed ``run.json`` (keys renamed since it was written under their names now,
        :func:`mri_io.labels.upgrade_saved_keys`); errors name the file."""
        self._refuse_legacy()
        try:
            document = json.loads(self.run_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunFolderError(self.path, f"no {self.RUN_FILE}: not a run folder") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunFolderError(self.run_file, f"not valid JSON ({exc})") from None
        if not isinstance(document, dict):
            raise RunFolderError(self.run_file, "expected a JSON object")
        return upgrade_saved_keys(document)

    def save_state(self, state: Mapping[str, Any]) -> Path:
        """Write the resumable state atomically."""
        return save_state(state, self.state_file)

    def load_state(self, device: torch.device | str = "cpu") -> dict[str, Any]:
        """The resumable state (tensors mapped to ``device``)."""
        return load_state(self.state_file, device)

    def open_log(
        self,
        *,
        key: str = "step",
        resume_after: int | None = None,
        tensorboard: bool = False,
        install: str = "pip install tensorboard",
    ) -> MetricLog:
        """The run's log; ``resume_after`` keeps the rows up to that step (or epoch);
        ``install`` is what the error says to run when TensorBoard is asked for but absent."""
        return MetricLog(
            self.log_file,
            key=key,
            resume_after=resume_after,
            tensorboard=tensorboard,
            install=install,
        )

"""Exceptions raised by mri-bench, all in this one module.

They derive from :class:`MriBenchError`, itself a :class:`mri_io.MriSuiteError`, so the command
line prints each as one line with exit status 2 and one ``except`` catches the whole suite's
bad-input errors. Each keeps the standard base its callers caught before the suite had one root
(``ValueError`` for bad definitions, ``RuntimeError`` for a results store).
"""

from __future__ import annotations

import mri_io


class MriBenchError(mri_io.MriSuiteError):
    """Base class of every mri-bench error about user input; takes ``(path, problem)``."""


class _MessageError(MriBenchError):
    """An error whose message already names what is at fault, so it takes the message alone."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


class ConfigError(MriBenchError, mri_io.ConfigError):
    """A benchmark config that cannot be run; the message names the file and the problem."""


class ScenarioError(_MessageError, ValueError):
    """A scenario definition that cannot be used; the message names the scenario."""


class GeneratorError(_MessageError, ValueError):
    """A generator cannot complete a case; the message names the checkpoint and the problem."""


class StoreError(_MessageError, RuntimeError):
    """A results file that cannot be used as asked; the message names the file."""

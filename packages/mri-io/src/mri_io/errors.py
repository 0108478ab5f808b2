"""Exceptions raised by mri-io.

Every problem with a user's file is a subclass of :class:`MriIoError` that names the file and
what is wrong with it, so a command-line tool can print one line and exit non-zero, and a
library user can catch exactly the failure they care about.
"""

from __future__ import annotations

from os import PathLike


class MriIoError(Exception):
    """Base class of every error about user data; ``path`` is the offending file or folder."""

    def __init__(self, path: str | PathLike[str] | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)

"""What every mri-suite command line shares: one-line errors, exit codes, version flag.

The packages above mri-io (mri-gen, mri-seg, mri-bench) build their CLIs on these helpers so
that every tool reports bad input the same way: one line on stderr naming the file and the
problem, exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from mri_io.errors import MriSuiteError

#: Exit status for bad input (a file, folder or option the user gave).
EXIT_BAD_INPUT = 2

Handler = Callable[[argparse.Namespace], int]


def make_parser(prog: str, description: str, version: str) -> argparse.ArgumentParser:
    """A parser with ``--version`` and the suite's formatting."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version}")
    return parser


def add_device_option(parser: argparse.ArgumentParser, default: str = "auto") -> None:
    """``--device``, with one meaning and one default in every command of the suite
    (resolved by :func:`mri_io.training.resolve_device` where torch runs)."""
    parser.add_argument(
        "--device",
        default=default,
        help=f"auto (a GPU if there is one), cpu, cuda, cuda:N or mps (default {default})",
    )


def run(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    user_errors: tuple[type[Exception], ...] = (),
) -> int:
    """Parse ``argv``, call the chosen sub-command's handler and turn user errors into one line.

    Sub-commands register their handler with ``set_defaults(handler=...)``. Errors in
    ``user_errors`` (plus :class:`MriSuiteError`, the root of every package's errors,
    ``OSError``, such as a missing, read-only or existing-folder output, and ``ValueError``)
    print ``prog: error: message`` and return :data:`EXIT_BAD_INPUT`. Set ``MRI_SUITE_DEBUG=1``
    to get the traceback instead when the message alone does not explain a failure.
    """
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    caught: tuple[type[Exception], ...] = (
        MriSuiteError,
        OSError,
        ValueError,
        *user_errors,
    )
    try:
        return handler(args)
    except caught as exc:
        if os.environ.get("MRI_SUITE_DEBUG"):
            raise
        message = " ".join(describe_error(exc).split())
        print(f"{parser.prog}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130


def describe_error(exc: BaseException) -> str:
    """One line for an expected failure; an ``OSError`` names its file(s) and the system's words.

    ``str(PermissionError(...))`` reads ``[Errno 13] Permission denied: 'out/x.json'``; this
    gives ``out/x.json: permission denied``, the shape of every other message of the suite.
    """
    if isinstance(exc, OSError) and not isinstance(exc, MriSuiteError) and exc.strerror:
        reason = exc.strerror[:1].lower() + exc.strerror[1:]
        files = [str(name) for name in (exc.filename, exc.filename2) if name is not None]
        if files:
            return f"{' -> '.join(files)}: {reason}"
        return reason
    return str(exc)

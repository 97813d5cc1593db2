"""Exit codes, the command line's own exceptions, and each exception as one line and a code."""

from __future__ import annotations

import os
import sys
import traceback

from .._errors import (
    BraynsConnectionError,
    BraynsError,
    JsonRpcError,
)

EXIT_ERROR, EXIT_USAGE, EXIT_CONNECTION, EXIT_SERVER, EXIT_INTERRUPTED = 1, 2, 3, 4, 130

EXIT_CODES = {
    0: "success",
    EXIT_ERROR: "unexpected error (run again with -v to see the traceback)",
    EXIT_USAGE: "bad usage or input: options, URI, JSON params, output file, --cafile",
    EXIT_CONNECTION: "connection error: cannot connect, link lost, or watch never connected",
    EXIT_SERVER: "the server answered with an error",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}
"""The exit codes of ``brayns-trio`` and what each means."""


class UsageError(Exception):
    """Bad input from the command line (reported with exit code 2)."""


class CommandFailed(Exception):
    """A command that ran but failed, after printing its report (exits with ``code``)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _fail(message: str, code: int) -> int:
    print(f"brayns-trio: error: {message}", file=sys.stderr)
    return code


def _exit_code(raised: BaseException, verbose: int = 0) -> int:
    """Report what ended a command (one line on stderr) and return its exit code."""
    error = raised
    # The commands' own nurseries wrap what their tasks raise.
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    if isinstance(error, UsageError):
        return _fail(str(error), EXIT_USAGE)
    if isinstance(error, CommandFailed):
        return _fail(str(error), error.code)
    if isinstance(error, BraynsConnectionError):
        return _fail(str(error), EXIT_CONNECTION)
    if isinstance(error, JsonRpcError):
        return _fail(f"server error {error}", EXIT_SERVER)
    if isinstance(error, KeyboardInterrupt):
        return _fail("interrupted", EXIT_INTERRUPTED)
    if isinstance(error, BrokenPipeError):
        # The reader of stdout went away (``watch | head``): stop quietly, and keep Python from
        # complaining when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    if isinstance(error, BraynsError | OSError):
        return _fail(str(error) or type(error).__name__, EXIT_ERROR)
    if not isinstance(error, Exception):
        raise raised
    if verbose:
        traceback.print_exception(raised)
    return _fail(f"unexpected {type(error).__name__}: {error} (-v shows the traceback)", EXIT_ERROR)

"""The ``brayns-trio`` command line.

Every command talks to the server named by ``--uri``, else by the ``BRAYNS_URI`` environment
variable; with neither (or with ``--fake``), an embedded fake Brayns server is started in memory,
so the commands can be tried with no Brayns installed, and a notice on stderr says so.

Every failure is one line on stderr and an exit code (see ``EXIT_CODES``); ``-v`` shows the
library's log, ``-vv`` its debug log and the embedded server's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence

import trio

from ._arguments import _parser as _parser
from ._commands import _fake_server
from ._connect import _configure_logging, _target
from ._errors import EXIT_CODES as EXIT_CODES
from ._errors import EXIT_USAGE
from ._errors import CommandFailed as CommandFailed
from ._errors import UsageError as UsageError
from ._errors import _exit_code as _exit_code
from ._output import _image_info as _image_info

__all__ = ["EXIT_CODES", "main"]

_FAKE_SERVER = "fake-server"
_COMMANDS = {"version", "methods", "schema", "call", "snapshot", "watch", "bench"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see :data:`EXIT_CODES`)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not arguments:
        parser.print_help()
        return 0
    fake_server = _FAKE_SERVER in arguments and not _COMMANDS & set(
        arguments[: arguments.index(_FAKE_SERVER)]
    )
    try:
        if fake_server:
            # Its options are the fake server's own, --help included: only those before it are
            # brayns-trio's (a placeholder command stands in for it while they are parsed).
            split = arguments.index(_FAKE_SERVER)
            args = parser.parse_args([*arguments[:split], "version"])
            args.args = arguments[split + 1 :]
        else:
            args = parser.parse_args(arguments)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    if fake_server:
        return _fake_server(args)
    if args.command is None:
        parser.print_help()
        return 0
    run: Callable[[argparse.Namespace], Awaitable[None]] = args.run
    try:
        uri, _ = _target(args)
        _configure_logging(args.verbose, embedded=uri is None)
        trio.run(run, args)
    except BaseException as raised:
        return _exit_code(raised, args.verbose)
    return 0

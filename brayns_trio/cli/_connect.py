"""Which server a command talks to, connecting to it (or to the embedded fake server), the log."""

from __future__ import annotations

import argparse
import logging
import os
import ssl
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from .._instance import Instance, open_instance
from .._settings import FirstConnect, Settings
from .._transport import parse_uri
from ._errors import UsageError
from ._output import _notice

ENVIRONMENT = "BRAYNS_URI"
"""The environment variable naming the default server."""


def _target(args: argparse.Namespace) -> tuple[str | None, str]:
    """The server's URI (``None``: the embedded server) and where it came from."""
    if args.fake:
        if args.uri is not None:
            raise UsageError("--fake and --uri exclude each other")
        return None, "--fake"
    if args.uri is not None:
        return args.uri, "--uri"
    environment = os.environ.get(ENVIRONMENT, "").strip()
    if environment:
        return environment, ENVIRONMENT
    return None, "default"


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The TLS context of ``--cafile`` (if any), once the server's URI is checked."""
    context: ssl.SSLContext | None = None
    uri, source = _target(args)
    if args.cafile:
        if uri is None:
            raise UsageError("--cafile applies to a wss:// server: the embedded one has no TLS")
        try:
            context = ssl.create_default_context(cafile=args.cafile)
        except (OSError, ssl.SSLError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise UsageError(f"cannot load --cafile {args.cafile}: {reason}") from None
    if uri is not None:
        try:
            parse_uri(uri, secure=context is not None)
        except ValueError as error:
            prefix = f"{ENVIRONMENT}: " if source == ENVIRONMENT else ""
            raise UsageError(f"{prefix}{error}") from None
    return context


@asynccontextmanager
async def _connect(
    args: argparse.Namespace,
    *,
    first_connect: FirstConnect = FirstConnect.FAIL,
    reconnect: bool = True,
) -> AsyncIterator[Instance]:
    settings = Settings(
        connect_timeout=args.connect_timeout, first_connect=first_connect, reconnect=reconnect
    )
    context = _ssl_context(args)
    uri, _ = _target(args)
    if uri is not None:
        async with open_instance(uri, ssl_context=context, settings=settings) as instance:
            yield instance
        return
    open_demo_server = _import_testing("open_demo_server")
    how = "--fake" if args.fake else f"no --uri and no ${ENVIRONMENT}"
    _notice(
        f"using the embedded fake Brayns server ({how}); for a real one, pass --uri HOST:PORT "
        f"or set {ENVIRONMENT}"
    )
    async with (
        open_demo_server() as server,
        open_instance(
            "embedded:5000", settings=settings, connector=server.open_memory_stream
        ) as instance,
    ):
        yield instance


def _import_testing(name: str) -> Any:
    """``brayns_trio.testing.<name>``, or a usage error saying how to install what it needs."""
    try:
        from .. import testing

        # The package imports its modules (and their dependencies) on first use of a name.
        return getattr(testing, name)
    except ImportError as error:
        raise UsageError(
            f"the fake Brayns server needs the testing extra ({error}): pip install "
            f"'brayns-trio[testing]', or name a real server with --uri or {ENVIRONMENT}"
        ) from None


def _configure_logging(verbose: int, embedded: bool) -> None:
    """The library's log on stderr: warnings by default, more with -v and -vv.

    The embedded fake server's own log (its view of errors, tracebacks included) shows only with
    -vv: the command reports the errors that matter to it.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("brayns-trio: %(levelname)s %(name)s: %(message)s"))
    library = logging.getLogger("brayns_trio")
    library.addHandler(handler)
    library.propagate = False
    library.setLevel(
        logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    )
    if embedded:
        server_level = logging.CRITICAL + 10 if verbose < 2 else logging.DEBUG
        logging.getLogger("brayns_trio.testing").setLevel(server_level)

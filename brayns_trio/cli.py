"""The ``brayns-trio`` command line.

Every command takes ``--uri``; without it, an embedded fake Brayns server is started in memory, so
the commands work (and can be tried) with no Brayns installed.

Exit codes: 0 success, 1 unexpected error, 2 bad usage or input (URI, JSON), 3 connection error,
4 error reply from the server.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from ._errors import BraynsConnectionError, JsonRpcError
from ._instance import Instance, open_instance
from ._settings import Settings
from ._transport import parse_uri
from ._version import get_version

__all__ = ["main"]

EXIT_ERROR, EXIT_USAGE, EXIT_CONNECTION, EXIT_SERVER = 1, 2, 3, 4


class UsageError(Exception):
    """Bad input from the command line (reported with exit code 2)."""


@asynccontextmanager
async def _connect(args: argparse.Namespace) -> AsyncIterator[Instance]:
    settings = Settings(connect_timeout=args.connect_timeout)
    context: ssl.SSLContext | None = None
    if args.cafile:
        context = ssl.create_default_context(cafile=args.cafile)
    if args.uri is not None:
        try:
            parse_uri(args.uri, secure=context is not None)
        except ValueError as error:
            raise UsageError(str(error)) from None
        async with open_instance(args.uri, ssl_context=context, settings=settings) as instance:
            yield instance
        return
    from .testing import open_fake_server

    async with (
        open_fake_server() as server,
        open_instance(
            "embedded:5000", settings=settings, connector=server.open_memory_stream
        ) as instance,
    ):
        yield instance


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


async def _version(args: argparse.Namespace) -> None:
    async with _connect(args) as instance:
        version = await get_version(instance)
        print(f"{version.release} (revision {version.revision or 'unknown'})")


async def _methods(args: argparse.Namespace) -> None:
    async with _connect(args) as instance:
        for method in sorted(await instance.request("registry")):
            print(method)


async def _schema(args: argparse.Namespace) -> None:
    async with _connect(args) as instance:
        _print_json(await instance.request("schema", {"endpoint": args.method}))


async def _call(args: argparse.Namespace) -> None:
    text = args.params
    if text == "-":
        text = sys.stdin.read()
    params = None
    if text is not None and text.strip():
        try:
            params = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"params are not valid JSON: {error}") from None
    async with _connect(args) as instance:
        reply = await instance.execute(args.method, params)
        _print_json(reply.result)
        if reply.binary:
            print(f"(binary payload of {len(reply.binary)} bytes not shown)", file=sys.stderr)


async def _snapshot(args: argparse.Namespace) -> None:
    output = Path(args.output)
    image_format = args.format or (output.suffix.lstrip(".").lower() or "png")
    if image_format == "jpeg":
        image_format = "jpg"
    if image_format not in ("png", "jpg"):
        raise UsageError(f"unsupported image format {image_format!r}: use png or jpg")
    settings: dict[str, Any] = {"format": image_format}
    if args.size:
        width, height = args.size
        if width < 64 or height < 64:
            # A real braynsService 3.10 crashes on snapshots smaller than 64x64.
            raise UsageError("snapshot size must be at least 64x64")
        settings["size"] = [width, height]
    show_progress = sys.stderr.isatty()
    async with (
        _connect(args) as instance,
        instance.task("snapshot", {"image_settings": settings}) as task,
    ):
        async for progress in task.progress():
            if show_progress:
                bar = "#" * int(progress.amount * 30)
                sys.stderr.write(f"\r{progress.operation} [{bar:<30}] {progress.amount:4.0%}")
                sys.stderr.flush()
        reply = await task.reply()
    if show_progress:
        sys.stderr.write("\n")
    await trio.Path(output).write_bytes(reply.binary)
    print(f"{output}: {len(reply.binary)} bytes")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brayns-trio", description="Drive a Brayns renderer over its JSON-RPC API."
    )
    parser.add_argument(
        "--uri",
        help="server as host:port, ws://host:port or wss://host:port "
        "(default: an embedded fake server, for trying things out)",
    )
    parser.add_argument("--cafile", help="CA bundle to verify a wss:// server with")
    parser.add_argument("--connect-timeout", type=float, default=10.0, help="seconds (default: 10)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("version", help="print the server's version").set_defaults(run=_version)
    commands.add_parser("methods", help="list the server's methods").set_defaults(run=_methods)
    schema = commands.add_parser("schema", help="print a method's schema as JSON")
    schema.add_argument("method")
    schema.set_defaults(run=_schema)
    call = commands.add_parser("call", help="call a method and print its JSON result")
    call.add_argument("method")
    call.add_argument("params", nargs="?", help="JSON params, or - to read them from stdin")
    call.set_defaults(run=_call)
    snapshot = commands.add_parser("snapshot", help="render a snapshot to an image file")
    snapshot.add_argument("-o", "--output", required=True, help="image file (.png or .jpg)")
    snapshot.add_argument("--size", type=int, nargs=2, metavar=("WIDTH", "HEIGHT"))
    snapshot.add_argument("--format", choices=["png", "jpg"])
    snapshot.set_defaults(run=_snapshot)
    fake = commands.add_parser(
        "fake-server",
        help="run the fake Brayns server (same options as python -m brayns_trio.testing)",
        add_help=False,
    )
    fake.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _fail(message: str, code: int) -> int:
    print(f"brayns-trio: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["fake-server"]:
        from .testing import main as fake_server_main

        return fake_server_main(arguments[1:])
    args = _parser().parse_args(arguments)
    run: Callable[[argparse.Namespace], Awaitable[None]] = args.run
    try:
        trio.run(run, args)
    except UsageError as error:
        return _fail(str(error), EXIT_USAGE)
    except BraynsConnectionError as error:
        return _fail(str(error), EXIT_CONNECTION)
    except JsonRpcError as error:
        return _fail(f"server error {error}", EXIT_SERVER)
    except KeyboardInterrupt:
        return 130
    except OSError as error:
        return _fail(str(error), EXIT_ERROR)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

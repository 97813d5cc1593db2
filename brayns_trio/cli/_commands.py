"""The commands ``version``, ``methods``, ``schema``, ``call`` and ``fake-server``."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import trio

from .._errors import (
    JsonRpcError,
)
from .._methods import method_table
from .._transport import parse_uri
from .._version import get_version
from ._connect import ENVIRONMENT, _connect, _import_testing
from ._errors import EXIT_SERVER, EXIT_USAGE, CommandFailed, UsageError, _fail
from ._output import _notice, _print_json, _writable, _write_output


def _suggest(error: JsonRpcError, method: str) -> JsonRpcError | CommandFailed:
    """An unknown method's error, with the known methods it is close to."""
    if error.code != -32601:
        return error
    close = difflib.get_close_matches(method, sorted(method_table().all), n=3, cutoff=0.8)
    if not close:
        return CommandFailed(
            f"server error {error}; brayns-trio methods lists the server's methods", EXIT_SERVER
        )
    return CommandFailed(f"server error {error}; did you mean {' or '.join(close)}?", EXIT_SERVER)


async def _version(args: argparse.Namespace) -> None:
    async with _connect(args) as instance:
        version = await get_version(instance)
    if args.json:
        _print_json(
            {
                "release": version.release,
                "major": version.major,
                "minor": version.minor,
                "patch": version.patch,
                "revision": version.revision,
            }
        )
    else:
        print(f"{version.release} (revision {version.revision or 'unknown'})")


async def _methods(args: argparse.Namespace) -> None:
    schemas: dict[str, Any] = {}
    async with _connect(args) as instance:
        names = sorted(await instance.request("registry"))

        async def fetch(name: str) -> None:
            try:
                schemas[name] = await instance.request("schema", {"endpoint": name})
            except JsonRpcError:
                schemas[name] = {}

        async with trio.open_nursery() as nursery:
            for name in names:
                nursery.start_soon(fetch, name)
    rows = [
        {
            "method": name,
            "description": str(schemas[name].get("description", "")),
            "async": bool(schemas[name].get("async", False)),
        }
        for name in names
    ]
    if args.json:
        _print_json(rows)
        return
    width = max((len(name) for name in names), default=0)
    for row in rows:
        print(f"{row['method']:<{width}}  {row['description']}".rstrip())


async def _schema(args: argparse.Namespace) -> None:
    async with _connect(args) as instance:
        try:
            schema = await instance.request("schema", {"endpoint": args.method})
        except JsonRpcError as error:
            raise _suggest(error, args.method) from None
    _print_json(schema, compact=args.json)


def _parse_params(text: str | None) -> Any:
    """JSON params from the command line (``-``: read from stdin); none if empty."""
    if text == "-":
        text = sys.stdin.read()
    if text is None or not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"params are not valid JSON: {error}") from None


async def _call(args: argparse.Namespace) -> None:
    params = _parse_params(args.params)
    try:
        method_table().normalize_params(args.method, params)  # params a method cannot take
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.output is not None:
        _writable(args.output)
    async with _connect(args) as instance:
        try:
            reply = await instance.execute(args.method, params)
        except (ValueError, TypeError) as error:
            raise UsageError(str(error)) from None
        except JsonRpcError as error:
            raise _suggest(error, args.method) from None
    if args.output is not None and reply.binary:
        await _write_output(args.output, reply.binary)
    # With the binary on stdout, the result goes to stderr.
    result_stream = sys.stderr if args.output == "-" else sys.stdout
    if args.json:
        report = {
            "method": args.method,
            "result": reply.result,
            "binary_bytes": len(reply.binary),
            "output": args.output if reply.binary else None,
        }
        result_stream.write(json.dumps(report, sort_keys=True) + "\n")
    else:
        json.dump(reply.result, result_stream, indent=2, sort_keys=True)
        result_stream.write("\n")
        if reply.binary and args.output is None:
            _notice(f"binary payload of {len(reply.binary)} bytes not shown (save it with -o)")
        elif args.output is not None and not reply.binary:
            _notice(f"the reply has no binary payload: {args.output} not written")
    result_stream.flush()


def _fake_server(args: argparse.Namespace) -> int:
    """``fake-server``: the fake server's own command line, listening where the user said."""
    try:
        fake_server_main: Callable[[list[str]], int] = _import_testing("main")
    except UsageError as error:
        return _fail(str(error), EXIT_USAGE)
    arguments: list[str] = list(args.args)
    if not any(a == "--uri" or a.startswith("--uri=") for a in arguments):
        uri = args.uri or os.environ.get(ENVIRONMENT, "").strip() or "localhost:5000"
        try:
            endpoint = parse_uri(uri)
        except ValueError as error:
            return _fail(str(error), EXIT_USAGE)
        arguments = ["--uri", f"{endpoint.host}:{endpoint.port}", *arguments]
    return fake_server_main(arguments)

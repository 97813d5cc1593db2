"""The benchmark servers, each run in its own process by ``run.py``.

``python benchmarks/_servers.py echo`` runs a minimal JSON-RPC echo server on websockets' asyncio
API: it answers every request (text or binary frame) at once with a ``get-version``-like result,
whatever its method and params, so the server is rarely what a client benchmark measures.
Exceptions: a ``snapshot`` request gets a binary reply whose payload is ``width * height * 4``
bytes (``params.image_settings.size``), built once per size and sent as is; a ``hold`` request
is never answered (to measure what a pending request costs a client).

``python benchmarks/_servers.py fake`` runs brayns_trio's fake Brayns server, as
``python -m brayns_trio.testing --uri 127.0.0.1:0 --log-level warn`` would, but with PNG
compression off (the command line has no option for it) and instantaneous snapshots, so a
snapshot reply is a large binary frame (``width * height * 4`` bytes and a little more).

Both print ``... listening on HOST:PORT`` (flushed) once they accept connections, and run until
SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import struct
import sys

import orjson

__all__ = ["main"]

_HEADER = struct.Struct("<I")
_RESULT = b'"jsonrpc":"2.0","result":{"major":3,"minor":10,"patch":1,"revision":"echo"}}'


_SNAPSHOTS: dict[tuple[int, int], bytes] = {}


def _snapshot(request_id: object, params: object) -> bytes:
    """A binary snapshot reply of the size asked (800x600 by default), the payload cached."""
    size = (800, 600)
    if isinstance(params, dict):
        settings = params.get("image_settings")
        if isinstance(settings, dict) and isinstance(settings.get("size"), list):
            width, height = settings["size"]
            size = (int(width), int(height))
    payload = _SNAPSHOTS.get(size)
    if payload is None:
        payload = _SNAPSHOTS[size] = bytes(size[0] * size[1] * 4)
    document = orjson.dumps(
        {
            "id": request_id,
            "jsonrpc": "2.0",
            "result": {"color_buffer": {"offset": 0, "size": len(payload)}},
        }
    )
    return b"".join((_HEADER.pack(len(document)), document, payload))


def _reply(message: str | bytes) -> str | bytes | None:
    """The reply to one request, or None for a notification or a message without an id."""
    if isinstance(message, str):
        document: str | bytes | memoryview = message
    else:
        (size,) = _HEADER.unpack_from(message)
        document = memoryview(message)[_HEADER.size : _HEADER.size + size]
    try:
        request = orjson.loads(document)
        request_id = request.get("id") if isinstance(request, dict) else None
    except orjson.JSONDecodeError:
        return None
    if request_id is None or request.get("method") == "hold":
        return None
    if request.get("method") == "snapshot":
        return _snapshot(request_id, request.get("params"))
    return (b'{"id":' + orjson.dumps(request_id) + b"," + _RESULT).decode()


async def _serve_echo(host: str, port: int) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def handler(connection: ServerConnection) -> None:
        async for message in connection:
            reply = _reply(message)
            if reply is not None:
                await connection.send(reply)

    async with serve(
        handler,
        host,
        port,
        compression=None,  # Brayns (Poco) negotiates no extension
        max_size=None,
        max_queue=None,
        ping_interval=None,
    ) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        print(f"Echo server listening on {host}:{bound}", flush=True)
        stop = asyncio.get_running_loop().create_future()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set_result, None)
        await stop


def _run_fake(host: str, port: int) -> None:
    import trio

    from brayns_trio.testing import FakeBrayns

    server = FakeBrayns(
        max_clients=8,
        log_level="warn",
        snapshot_duration=0.0,
        png_compression=0,
    )

    async def serve() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(server.run)
                bound = await nursery.start(
                    lambda task_status: server.serve_tcp(host, port, task_status=task_status)
                )
                print(f"Brayns fake server listening on {host}:{bound}", flush=True)
                async for _ in signals:
                    break
                nursery.cancel_scope.cancel()

    trio.run(serve)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("echo", "fake"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    if options.kind == "echo":
        asyncio.run(_serve_echo(options.host, options.port))
    else:
        _run_fake(options.host, options.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())

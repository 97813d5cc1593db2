"""A scripted WebSocket peer over in-memory streams, for client tests that need exact control.

Each connection the client opens through :meth:`ScriptedPeer.connector` is handed, as a
trio-websocket server connection, to the test's handler. Tests that need Brayns' real behaviour
use the fake server instead; this peer is for what a faithful server never does (malformed
messages, silence, resets at chosen moments).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import trio
import trio.testing
import trio_websocket

import brayns_trio

Handler = Callable[[trio_websocket.WebSocketConnection], Awaitable[None]]


class ScriptedPeer:
    def __init__(self, nursery: trio.Nursery, handler: Handler) -> None:
        self.nursery = nursery
        self.handler = handler
        self.connections = 0
        self.refuse = False
        self.streams: list[trio.abc.Stream] = []

    async def connector(self) -> trio.abc.Stream:
        if self.refuse:
            raise OSError("connection refused")
        client, server = trio.testing.memory_stream_pair()
        self.connections += 1
        self.streams.append(server)
        self.nursery.start_soon(self._serve, server)
        return client

    async def _serve(self, stream: trio.abc.Stream) -> None:
        async with trio.open_nursery() as nursery:
            request = await trio_websocket.wrap_server_stream(nursery, stream)
            ws = await request.accept()
            try:
                await self.handler(ws)
            except trio_websocket.ConnectionClosed:
                pass
            finally:
                await trio.aclose_forcefully(stream)
                nursery.cancel_scope.cancel()

    def drop_all(self) -> None:
        """Abort every connection's byte stream (a reset, no close frame)."""
        for stream in self.streams:
            assert isinstance(stream, trio.StapledStream)
            stream.send_stream.close()
            stream.receive_stream.close()
        self.streams.clear()


def reply(request: dict[str, object], result: object = None) -> str:
    return orjson.dumps({"id": request["id"], "jsonrpc": "2.0", "result": result}).decode()


async def echo_version(ws: trio_websocket.WebSocketConnection) -> None:
    """Answer every request with a get-version result; ignore notifications."""
    while True:
        message = orjson.loads(await ws.get_message())
        if "id" in message:
            result = {"major": 3, "minor": 10, "patch": 1, "revision": "abc"}
            await ws.send_message(reply(message, result))


@asynccontextmanager
async def connected(
    handler: Handler, **kwargs: Any
) -> AsyncIterator[tuple[ScriptedPeer, brayns_trio.Instance]]:
    """An instance connected to a scripted peer running ``handler`` on each connection.

    Keyword arguments go to :func:`brayns_trio.open_instance`; the probe is off unless
    ``settings`` are given.
    """
    kwargs.setdefault("settings", brayns_trio.Settings(probe_timeout=None))
    async with trio.open_nursery() as nursery:
        peer = ScriptedPeer(nursery, handler)
        async with brayns_trio.open_instance(
            "host:5000", connector=peer.connector, **kwargs
        ) as instance:
            yield peer, instance
        nursery.cancel_scope.cancel()

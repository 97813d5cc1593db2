"""Building blocks of the pytest plugin, usable without pytest: a connector with fault knobs and
a TCP fake server."""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio

from .._instance import Instance, open_instance
from .._settings import Settings
from ._server import FakeBrayns, open_fake_server

__all__ = ["FakeConnector", "FakeTcpServer", "open_fake_instance", "open_fake_tcp_server"]


class _DelayedStream(trio.abc.HalfCloseableStream):
    """A byte stream whose every chunk waits ``connector.delay`` seconds, each way."""

    def __init__(self, stream: trio.abc.Stream, connector: FakeConnector) -> None:
        self._stream = stream
        self._connector = connector

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._connector.delay > 0:
            await trio.sleep(self._connector.delay)
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self._stream.receive_some(max_bytes)
        if data and self._connector.delay > 0:
            await trio.sleep(self._connector.delay)
        return data

    async def send_eof(self) -> None:
        if isinstance(self._stream, trio.abc.HalfCloseableStream):
            await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()


class FakeConnector:
    """Connects clients to a :class:`FakeBrayns` in memory, with fault knobs.

    Pass it as ``connector=`` to :func:`brayns_trio.open_instance`. Knobs, all changeable at
    any time:

    - :attr:`refuse`: while true, new connections fail with ``ConnectionRefusedError``;
    - :attr:`delay`: seconds every chunk of bytes waits, in each direction (0: none);
    - :meth:`freeze` / :meth:`thaw`: the server stops (and resumes) reading, executing and
      sending, connections open (like SIGSTOP/SIGCONT);
    - :meth:`drop`: abort every connection without a close frame (like a crash).

    :attr:`connections` counts the connections opened (refused ones excluded).
    """

    def __init__(self, server: FakeBrayns) -> None:
        self.server = server
        self.refuse = False
        self.delay = 0.0
        self.connections = 0

    async def __call__(self) -> trio.abc.Stream:
        """Open one connection (the ``connector`` protocol of ``open_instance``)."""
        if self.refuse:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "connection refused (fake server)")
        stream = await self.server.open_memory_stream()
        self.connections += 1
        return _DelayedStream(stream, self)

    def freeze(self) -> None:
        """Freeze the server (see :meth:`FakeBrayns.freeze`)."""
        self.server.freeze()

    def thaw(self) -> None:
        """Resume a frozen server."""
        self.server.thaw()

    def drop(self) -> None:
        """Abort every connection of the server now, without a close frame."""
        self.server.drop_connections()


@dataclass(frozen=True)
class FakeTcpServer:
    """A fake server listening on TCP: ``uri`` is ``host:port`` for ``open_instance``."""

    server: FakeBrayns
    host: str
    port: int

    @property
    def uri(self) -> str:
        """``host:port`` of the listening socket."""
        return f"{self.host}:{self.port}"


@asynccontextmanager
async def open_fake_tcp_server(
    host: str = "127.0.0.1", port: int = 0, **kwargs: Any
) -> AsyncIterator[FakeTcpServer]:
    """Run ``FakeBrayns(**kwargs)`` listening on ``host:port`` (0: a free port) for the block.

    Cancellation: leaving the block stops the server and closes its connections.
    """
    server = FakeBrayns(**kwargs)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        bound = await nursery.start(server.serve_tcp, host, port)
        try:
            yield FakeTcpServer(server, host, bound)
        finally:
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def open_fake_instance(
    settings: Settings | None = None, **kwargs: Any
) -> AsyncIterator[tuple[FakeBrayns, Instance, FakeConnector]]:
    """Run ``FakeBrayns(**kwargs)`` and an :class:`~brayns_trio.Instance` connected to it.

    Yields ``(server, instance, connector)``; ``connector`` holds the fault knobs. Without
    ``settings`` the liveness probe is off (``Settings(probe_timeout=None)``), so tests on
    Trio's autojump clock do not see probes fire while they wait.
    """
    async with open_fake_server(**kwargs) as server:
        connector = FakeConnector(server)
        async with open_instance(
            "fake:5000",
            connector=connector,
            settings=Settings(probe_timeout=None) if settings is None else settings,
        ) as instance:
            yield server, instance, connector

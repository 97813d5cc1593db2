"""In-memory fake Brayns servers that can be killed and restarted empty, for the journal and
pool tests (on the autojump clock: no real socket is involved)."""

from __future__ import annotations

from typing import Any

import trio

from brayns_trio.testing import FakeBrayns


class Restartable:
    """A fake server behind a fixed address: :meth:`kill` it (its connections drop and new ones
    are refused), :meth:`start` a new, empty one. :meth:`connect` is an instance's connector."""

    def __init__(self, nursery: trio.Nursery, **options: Any) -> None:
        self._nursery = nursery
        self._options = options
        self.server: FakeBrayns | None = None
        self._scope: trio.CancelScope | None = None
        self.starts = 0
        self.blackholed = False

    async def start(self) -> FakeBrayns:
        server = FakeBrayns(**self._options)
        await self._nursery.start(self._run, server)
        self.server = server
        self.starts += 1
        return server

    async def _run(self, server: FakeBrayns, *, task_status: trio.TaskStatus[None]) -> None:
        with trio.CancelScope() as scope:
            self._scope = scope
            await server.run(task_status=task_status)

    def kill(self) -> None:
        """Stop the server like a crash: connections aborted, the scene gone."""
        if self._scope is not None:
            self._scope.cancel()
        self.server = None

    async def connect(self) -> trio.abc.Stream:
        if self.server is None:
            await trio.lowlevel.checkpoint()
            raise OSError("connection refused")
        return await self.server.open_memory_stream()


async def start_fakes(nursery: trio.Nursery, count: int, **options: Any) -> dict[str, Restartable]:
    """``count`` started fakes by address (``node0:5000``, ``node1:5000``, ...): a pool's URIs,
    each connected through ``fakes[uri].connect``."""
    fakes = {f"node{i}:5000": Restartable(nursery, **options) for i in range(count)}
    for fake in fakes.values():
        await fake.start()
    return fakes


class TcpRestartable:
    """A fake server on a fixed local TCP port that can be killed and restarted empty."""

    def __init__(self, nursery: trio.Nursery, port: int, **options: Any) -> None:
        self._nursery = nursery
        self.port = port
        self._options = options
        self.server: FakeBrayns | None = None
        self._scope: trio.CancelScope | None = None

    @property
    def uri(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> FakeBrayns:
        server = FakeBrayns(**self._options)
        await self._nursery.start(self._run, server)
        self.server = server
        return server

    async def _run(self, server: FakeBrayns, *, task_status: trio.TaskStatus[None]) -> None:
        with trio.CancelScope() as scope:
            self._scope = scope
            async with trio.open_nursery() as nursery:
                await nursery.start(server.run)
                port = await nursery.start(server.serve_tcp, "127.0.0.1", self.port)
                self.port = port
                task_status.started()

    def kill(self) -> None:
        """Stop the server like a crash: connections aborted, the port closed, the scene gone."""
        if self._scope is not None:
            self._scope.cancel()
        self.server = None

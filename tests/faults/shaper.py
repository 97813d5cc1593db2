"""A userspace shaping proxy: the link of a user on a VPN, between the client and the server.

Each direction of each connection goes through a bottleneck of ``rate`` bytes per second, then
a delay of ``delay`` +- ``jitter`` seconds (drawn per chunk, never reordering the stream). The
bytes in flight inside the proxy are bounded per direction (``queue_limit``): once full, the
proxy stops reading and TCP pushes back on the sender, as a real bottleneck's queue would.

Packet loss is not done here: the scenario adds it with nftables on the proxy's port.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Awaitable, Callable

import attrs
import trio

__all__ = ["ShapingProxy"]

READ_SIZE = 16 * 1024
"""Bytes read at once: at 2 MiB/s, 8 ms of the bottleneck."""


@attrs.define
class DirectionStats:
    """What went through one direction of the proxy, over every connection."""

    bytes: int = 0
    chunks: int = 0
    max_queued: int = 0
    delay_min: float = float("inf")
    delay_max: float = 0.0


class _Pipe:
    """One direction of one connection: reads ``source``, delivers to ``sink`` late."""

    def __init__(
        self,
        proxy: ShapingProxy,
        source: trio.abc.ReceiveStream,
        sink: trio.abc.SendStream,
        stats: DirectionStats,
    ) -> None:
        self.proxy = proxy
        self.source = source
        self.sink = sink
        self.stats = stats
        self.queue: deque[tuple[float, bytes]] = deque()
        self.queued = 0
        self.eof = False
        self.changed = trio.lowlevel.ParkingLot()
        self.link_free_at = 0.0  # when the bottleneck finishes sending what it holds
        self.last_delivery = 0.0

    async def read(self) -> None:
        proxy = self.proxy
        while True:
            while self.queued >= proxy.queue_limit:
                await self.changed.park()
            data = await self.source.receive_some(READ_SIZE)
            if not data:
                self.eof = True
                self.changed.unpark_all()
                return
            now = trio.current_time()
            sent = max(now, self.link_free_at) + len(data) / proxy.rate
            self.link_free_at = sent
            delay = proxy.delay + proxy.rng.uniform(-proxy.jitter, proxy.jitter)
            delivery = max(sent + delay, self.last_delivery)  # a stream is never reordered
            self.last_delivery = delivery
            self.queue.append((delivery, bytes(data)))
            self.queued += len(data)
            stats = self.stats
            stats.max_queued = max(stats.max_queued, self.queued)
            stats.delay_min = min(stats.delay_min, delivery - now)
            stats.delay_max = max(stats.delay_max, delivery - now)
            self.changed.unpark_all()

    async def write(self) -> None:
        while True:
            while not self.queue:
                if self.eof:
                    await self.sink.aclose()
                    return
                await self.changed.park()
            delivery, data = self.queue[0]
            await trio.sleep_until(delivery)
            self.queue.popleft()
            self.queued -= len(data)
            self.changed.unpark_all()
            await self.sink.send_all(data)
            self.stats.bytes += len(data)
            self.stats.chunks += 1


class ShapingProxy:
    """Listens on ``127.0.0.1:port`` and forwards each connection to ``127.0.0.1:target``.

    Args:
        delay, jitter: one-way delay of every chunk, uniform in ``delay +- jitter`` seconds.
        rate: bytes per second through each direction's bottleneck.
        queue_limit: bytes held per direction before the proxy stops reading.
    """

    def __init__(
        self,
        port: int,
        target: int,
        *,
        delay: float = 0.150,
        jitter: float = 0.050,
        rate: float = 2 * 1024 * 1024,
        queue_limit: int = 512 * 1024,
        seed: int = 0,
    ) -> None:
        self.port = port
        self.target = target
        self.delay = delay
        self.jitter = jitter
        self.rate = rate
        self.queue_limit = queue_limit
        self.rng = random.Random(seed)
        self.upstream = DirectionStats()  # client -> server
        self.downstream = DirectionStats()  # server -> client
        self.connections = 0

    @property
    def uri(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled (``nursery.start`` returns once it listens)."""
        listeners = await trio.open_tcp_listeners(self.port, host="127.0.0.1")
        task_status.started()
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, client: trio.SocketStream) -> None:
        self.connections += 1
        try:
            server = await trio.open_tcp_stream("127.0.0.1", self.target)
        except OSError:
            await trio.aclose_forcefully(client)
            return
        async with client, server:
            up = _Pipe(self, client, server, self.upstream)
            down = _Pipe(self, server, client, self.downstream)
            async with trio.open_nursery() as nursery:
                for step in (up.read, up.write, down.read, down.write):
                    nursery.start_soon(_until_broken, step, nursery.cancel_scope)

    def summary(self) -> dict[str, object]:
        def direction(stats: DirectionStats) -> dict[str, object]:
            return {
                "bytes": stats.bytes,
                "chunks": stats.chunks,
                "max_queued": stats.max_queued,
                "delay_min": round(stats.delay_min, 3) if stats.chunks else None,
                "delay_max": round(stats.delay_max, 3),
            }

        return {
            "connections": self.connections,
            "upstream": direction(self.upstream),
            "downstream": direction(self.downstream),
        }


async def _until_broken(step: Callable[[], Awaitable[None]], scope: trio.CancelScope) -> None:
    """Run one side of a pipe; a broken stream ends the whole connection, quietly."""
    try:
        await step()
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        scope.cancel()

"""One connection: open it, read and write it, and say how it ended.

A :class:`Link` runs in its own nursery with one reader (always draining the socket: a Brayns
server blocks every client while one stops reading), one writer, and the liveness watchers of
:mod:`._liveness`; any of them failing ends the link, never the caller. The supervisor
(:mod:`._supervisor`) makes a new one for every attempt.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import trio
import trio_websocket

from ._calls import Calls
from ._errors import (
    BraynsConnectionError,
    ConnectError,
    JsonRpcError,
    OutcomeUnknown,
    RemoteProtocolError,
)
from ._framing import BIG_FRAME, Message, SizeGuard, encode_frame
from ._liveness import LinkCounters, LinkLost, Liveness
from ._opcodes import OP_BINARY, OP_TEXT
from ._protocol import Call
from ._settings import Settings
from ._supervisor import LinkEnd, Supervisor
from ._transport import (
    Connector,
    Endpoint,
    LinkClosed,
    MeteredStream,
    WebSocket,
    connect_native,
    connect_trio_websocket,
    since_last_ack,
    tcp_socket,
)

__all__ = ["WRITE_BATCH", "Link", "LinkCounters"]

logger = logging.getLogger("brayns_trio")

WRITE_BATCH = 256 * 1024
"""The writer gathers queued messages up to about this many bytes into one write."""


class Link:
    """One connection, from attempt to loss: :meth:`run` it once.

    Args:
        endpoint, settings, connector: where and how to connect.
        calls: the instance's calls (the reader and a lost link wake them, the writer sends them).
        supervisor: told when the connection opened and when it is ready.
        counters: the instance's counters, added to.
        run_hooks: run once connected, before the queued requests are released; what it returns
            is the replay report of the change to ``CONNECTED``.
        on_orphan_error: called with each error the server could not tie to a request.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        settings: Settings,
        connector: Connector,
        calls: Calls,
        supervisor: Supervisor,
        counters: LinkCounters,
        run_hooks: Callable[[], Awaitable[Any]],
        on_orphan_error: Callable[[JsonRpcError], None] | None,
    ) -> None:
        self.endpoint = endpoint
        self.settings = settings
        self._connector = connector
        self._calls = calls
        self._session = calls.session
        self._supervisor = supervisor
        self._counters = counters
        self._run_hooks = run_hooks
        self._on_orphan_error = on_orphan_error
        self._nursery: trio.Nursery | None = None
        self._stream: trio.abc.Stream | None = None
        self._metered: MeteredStream | None = None  # the native transport's stream
        # Writing: whether the writer is handing bytes to the stream, and the bytes of a
        # request written from its caller's task that the socket did not take at once (the
        # writer sends them before anything else).
        self._writing = False
        self._leftover: bytes | None = None
        self._connected_at: float | None = None
        self._cause: BaseException | None = None
        self._fatal = False
        self._released = False
        self._liveness = Liveness(settings, calls, counters)

    def lost(self, error: BaseException) -> None:
        """End the link (the first cause is kept)."""
        if self._cause is None:
            self._cause = error
        assert self._nursery is not None
        self._nursery.cancel_scope.cancel()

    async def run(self) -> LinkEnd:
        """Connect, run until the connection is lost, and fail or hold its calls."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                try:
                    ws = await self._open_websocket()
                    await self._start(ws)
                except BraynsConnectionError as error:
                    self.lost(error)
                except Exception as error:
                    # The on-connect hook failed for a reason reconnecting cannot fix (a version
                    # check, a bug in the hook): the instance closes with it.
                    self._fatal = True
                    self.lost(error)
        finally:
            self._calls.send_now = None
            if self._stream is not None:
                # Also when cancelled: the instance is closing and must not leak a socket.
                await trio.aclose_forcefully(self._stream)
        cause = self._cause if self._cause is not None else ConnectError("the connection ended")
        hold = self.settings.wait_for_connection
        for call in self._session.connection_lost(hold=hold, cause=cause):
            self._calls.wake(call)
        self._calls.make_room()
        if self._connected_at is None:
            return LinkEnd(False, cause, 0.0, self._fatal)
        return LinkEnd(True, cause, trio.current_time() - self._connected_at, self._fatal)

    # -- opening --------------------------------------------------------------------------------

    async def _open_websocket(self) -> WebSocket:
        """Connect (TCP, TLS, WebSocket handshake) within ``connect_timeout``."""
        timeout = self.settings.connect_timeout
        assert self._nursery is not None
        try:
            with trio.fail_after(timeout):
                self._stream = await self._connector()
                if self.settings.transport == "native":
                    metered = self._metered = MeteredStream(self._stream, self._liveness.alive)
                    return await connect_native(metered, self.endpoint, self.settings)
                # trio-websocket checks a message's size only as its payload arrives: the
                # guard refuses an oversized one from its header.
                guard = SizeGuard(self.settings.max_message_size)
                metered = MeteredStream(self._stream, self._liveness.alive, guard)
                ws_nursery: trio.Nursery = await self._nursery.start(self._guard_websocket)
                return await connect_trio_websocket(
                    ws_nursery, metered, self.endpoint, self.settings
                )
        except trio.TooSlowError:
            raise ConnectError(self._timeout_message(timeout)) from None
        except OSError as error:
            raise ConnectError(f"cannot connect to {self.endpoint.url}: {error}") from error

    def _timeout_message(self, timeout: float) -> str:
        """Why connecting timed out, from how far it got."""
        url = self.endpoint.url
        if self._stream is not None:
            layers = "TCP and TLS" if self.endpoint.secure else "TCP"
            return (
                f"connecting to {url} timed out after {timeout} s: {layers} connected but the "
                "WebSocket handshake got no answer (a server at its --max-clients limit does that)"
            )
        if self.endpoint.secure:
            plain = url.replace("wss://", "ws://", 1)
            return (
                f"connecting to {url} timed out after {timeout} s: no TCP connection or no "
                "answer to the TLS handshake (a plain WebSocket server never answers one: "
                f"if the server is not TLS, use {plain})"
            )
        return f"connecting to {url} timed out after {timeout} s: no TCP connection"

    async def _start(self, ws: WebSocket) -> None:
        """Start the link's tasks, run the hooks, then release the queued requests."""
        nursery = self._nursery
        assert nursery is not None
        self._supervisor.link_opened()
        self._connected_at = self._liveness.last_life = trio.current_time()
        logger.info("connected to %s", self.endpoint.url)
        nursery.start_soon(self._guarded, self._reader, ws)
        nursery.start_soon(self._guarded, self._writer, ws)
        nursery.start_soon(self._guarded, self._liveness.run)
        sock = tcp_socket(self._stream) if self._stream is not None else None
        settings = self.settings
        if (
            sock is not None
            and since_last_ack(sock) is not None
            # A healthy idle link is ACKed at least every keepalive_idle (+ a round trip).
            and settings.keepalive_idle + settings.keepalive_interval <= settings.user_timeout
        ):
            nursery.start_soon(self._guarded, self._liveness.watch_acks, sock)
        replay = await self._run_hooks()
        self._released = True
        if (
            self._metered is not None
            and type(self._stream) is trio.SocketStream
            and os.name == "posix"
        ):
            self._calls.send_now = self.send_now
        self._calls.outbox_ready.set()
        self._supervisor.link_ready(replay)

    async def _guard_websocket(self, *, task_status: trio.TaskStatus[trio.Nursery]) -> None:
        """A nursery for trio-websocket's own reader task, whose errors end the link, not us."""
        try:
            async with trio.open_nursery() as nursery:
                task_status.started(nursery)
                await trio.sleep_forever()
        except* trio_websocket.ConnectionRejected as group:
            status = getattr(group.exceptions[0], "status_code", "?")
            self.lost(
                ConnectError(
                    f"{self.endpoint.url} rejected the WebSocket handshake (HTTP {status})"
                )
            )
        except* Exception as group:
            self.lost(ConnectError(f"WebSocket failure: {group.exceptions[0]!r}"))

    async def _guarded(self, body: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run one of the link's tasks; whatever ends it ends the link, never the caller."""
        try:
            await body(*args)
        except LinkClosed as error:
            self.lost(LinkLost(str(error)))
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
            self.lost(LinkLost(f"the connection broke: {error!r}"))
        except (RemoteProtocolError, LinkLost) as error:
            if isinstance(error, RemoteProtocolError):
                logger.error("dropping the connection to %s: %s", self.endpoint.url, error)
            self.lost(error)
        except Exception as error:
            logger.exception("connection task %s failed", getattr(body, "__name__", body))
            self.lost(error)

    # -- reading --------------------------------------------------------------------------------

    async def _reader(self, ws: WebSocket) -> None:
        while True:
            # No local keeps a message past its dispatch: with a large reply, holding the
            # previous one while the next is received would cost one more payload of memory.
            self._dispatch(await ws.receive())

    def _dispatch(self, messages: list[Message]) -> None:
        # Only whole messages are life here (pings and a trickle of bytes are not); the bytes
        # of a large message in progress count in steps (see MeteredStream).
        if not messages:
            return
        self._liveness.alive()
        session = self._session
        counters = self._counters
        wake = self._calls.wake
        for binary, payload in messages:
            counters.bytes_received += len(payload)
            item = session.receive(payload, binary)
            if item is None:
                continue
            if type(item) is Call:
                wake(item)
            else:
                assert isinstance(item, JsonRpcError)
                self._orphan(item)
        self._liveness.received()
        self._calls.make_room()

    def _orphan(self, error: JsonRpcError) -> None:
        logger.warning("the server sent an error tied to no request: %s", error)
        if self._on_orphan_error is not None:
            try:
                self._on_orphan_error(error)
            except Exception:
                logger.exception("on_orphan_error raised")

    # -- writing --------------------------------------------------------------------------------

    def send_now(self, call: Call) -> bool:
        """Write a lone request from its caller's task, without blocking; False leaves it to
        the writer.

        Only for a plain TCP socket, with the wire idle (the writer not writing, nothing else
        queued) and nothing else in flight: a request sent alone then costs no wake-up of the
        writer task and no checkpoint of its write (measured: two task steps and one
        ``epoll_wait`` fewer per sequential request). With others in flight the writer batches
        their requests into fewer writes. The frame is written whole or its rest handed to the
        writer, which sends it before anything else: a caller never leaves half a frame, and
        frames keep their order.

        A request the socket took none of stays queued, as if the writer had it: when the socket
        is full, for the writer; when the write fails, the link is lost and the request waits
        for the next one (or fails as :class:`RequestNotSent`), never reported as sent.
        """
        session = self._session
        frame = call.frame
        if (
            self._writing
            or self._leftover is not None
            or self._cause is not None
            or len(session.pending) != 1
            or session.priority
            or len(session.outbox) != 1
            or frame.size >= BIG_FRAME
        ):
            return False
        data = encode_frame(OP_BINARY if frame.binary else OP_TEXT, frame.parts)
        stream = self._stream
        assert self._metered is not None
        assert type(stream) is trio.SocketStream
        try:
            written = os.write(stream.socket.fileno(), data)
        except BlockingIOError:
            return False  # the socket is full: the writer waits for room
        except OSError as error:
            self.lost(LinkLost(f"the connection broke: {error!r}"))
            return False
        taken = session.next_outgoing(released=self._released)
        assert taken is call
        self._calls.make_room()
        self._metered._count_sent(written)
        self._counters.bytes_sent += frame.size
        session.written(call)
        if written < len(data):
            self._leftover = data[written:]
            self._calls.outbox_ready.set()
        return True

    async def _writer(self, ws: WebSocket) -> None:
        session = self._session
        calls = self._calls
        while True:
            leftover = self._leftover
            if leftover is not None:
                assert self._metered is not None
                self._writing = True
                await self._metered.send_all(leftover)
                self._leftover = None
                self._writing = False
            if self._cause is not None:
                # The link is lost (the writer was woken before it was): what is queued stays
                # queued, for the next link, rather than being taken and reported as sent.
                await trio.sleep_forever()
            batch: list[Call] = []
            size = 0
            while size < WRITE_BATCH:
                call = session.next_outgoing(released=self._released)
                if call is None:
                    break
                batch.append(call)
                size += call.frame.size
            if not batch:
                await calls.outbox_ready.wait()
                calls.outbox_ready = trio.Event()
                continue
            self._writing = True
            calls.make_room()
            self._liveness.written()
            try:
                await ws.send([call.frame for call in batch])
            except BaseException as error:
                # Notifications are done once handed over: none of this batch's may hang.
                for call in batch:
                    if call.id is None:
                        failed = OutcomeUnknown(
                            f"{call.method} (notification): the connection was lost while it "
                            "was being sent",
                            method=call.method,
                            id=None,
                        )
                        failed.__cause__ = error
                        call.outcome = failed
                        calls.wake(call)
                raise
            self._writing = False
            self._counters.bytes_sent += size
            for call in batch:
                session.written(call)
                if call.id is None:
                    calls.wake(call)
